"""SSML: what the engine is given for every element, documents cut anywhere across streamed deltas, malformed
documents read as text with one warning, and what a listener gets from a server: pauses, rate and volume,
`text_format` from Wyoming 1.10, IPA spoken by Piper and eSpeak NG."""

import asyncio
import logging
import subprocess

import numpy as np
import pytest

from tests.conftest import JOE, STEADY, add_voice, one_shot, rms, stream_deltas, wait_for_figures
from tests.fake_engine import FakeEngine
from tests.web_client import start_web
from wyoming_streamtts.intake import Marked, TextIntake
from wyoming_streamtts.normalise import Normaliser
from wyoming_streamtts.phonemes import as_espeak, as_ipa, as_words, mark
from wyoming_streamtts.speech import Reading, speak
from wyoming_streamtts.ssml import Style
from wyoming_streamtts.voices import Voice

TAGS = [
    ('<speak>Hello<break time="700ms"/>world</speak>', ["Hello", 700, "world"]),
    ('<speak>One<break strength="x-strong"/>two<break/>three</speak>', ["One", 1200, "two", 400, "three"]),
    ('<speak>Now <prosody rate="slow" volume="loud">slowly</prosody> back</speak>',
     ["Now", ("slowly", 0.75, 10 ** (4 / 20)), "back"]),
    ('<speak><prosody rate="150%">fast</prosody><prosody rate="+20%">faster</prosody></speak>',
     [("fast", 1.5, 1.0), ("faster", 1.2, 1.0)]),
    ('<speak>Code <say-as interpret-as="characters">kWh</say-as>.</speak>', ["Code K W H."]),
    ('<speak>Pin <say-as interpret-as="digits">2026</say-as>.</speak>', ["Pin two zero two six."]),
    ('<speak>It is <say-as interpret-as="cardinal">1234</say-as>.</speak>',
     ["It is one thousand, two hundred and thirty-four."]),
    ('<speak>The <say-as interpret-as="ordinal">3</say-as> floor.</speak>', ["The third floor."]),
    ('<speak>Due <say-as interpret-as="date" format="dmy">08/12/2026</say-as>.</speak>',
     ["Due December eighth, twenty twenty-six."]),
    ('<speak>On <say-as interpret-as="date" format="md">12-8</say-as>.</speak>', ["On December eighth."]),
    ('<speak>At <say-as interpret-as="time">7:05</say-as>.</speak>', ["At seven oh five."]),
    ('<speak>Call <say-as interpret-as="telephone">+1 555-0100</say-as>.</speak>',
     ["Call plus, one, five five five, zero one zero zero."]),
    ('<speak>Ask <sub alias="doctor">Dr.</sub> Smith.</speak>', ["Ask doctor Smith."]),
    ('<speak>It is <emphasis level="strong">really</emphasis> cold.</speak>', ["It is really cold."]),
    ('<speak>Say <phoneme alphabet="ipa" ph="təˈmɑːtəʊ">tomato</phoneme>.</speak>',
     [f"Say {mark('təˈmɑːtəʊ', 'tomato')}."]),
    ('<speak>Say <phoneme alphabet="x-sampa" ph="t@mA:t@U">tomato</phoneme>.</speak>', ["Say tomato."]),
    ('<speak>Hi <lang xml:lang="de-DE">Guten Tag</lang> bye</speak>', ["Hi", ("Guten Tag", "de-DE"), "bye"]),
    ('<speak><p>First.</p><p><s>Second</s><s>Third</s></p></speak>', ["First.", "Second", "Third"]),
    ('<speak><foo bar="1">Kept</foo> <audio src="chime.wav">ding</audio><desc>not read</desc><mark name="x"/>'
     '<metadata>none</metadata></speak>', ["Kept ding"]),
    ('<?xml version="1.0"?>\n<speak version="1.1" xml:lang="en-US">Declared.</speak>', ["Declared."]),
]  # fmt: skip


def _read(deltas: list[str], ssml: bool | None = None, language: str = "en") -> list:
    """What the intake makes of the deltas: text, pause ms, (text, rate, volume) or (text, language)."""
    intake = TextIntake(250, None, markdown=True, ssml=ssml, language=language)
    sentences = [s for delta in deltas for s in intake.feed(delta)] + intake.flush()
    out: list = []
    for sentence in sentences:
        if isinstance(sentence, str):
            out.append(sentence)
        elif not sentence.text:
            out.append(sentence.pause_ms)
        elif sentence.style.language:
            out.append((sentence.text, sentence.style.language))
        elif sentence.style != Style():
            out.append((sentence.text, sentence.style.rate, pytest.approx(sentence.style.volume)))
        else:
            out.append(sentence.text)
    return out


@pytest.mark.parametrize(("document", "read"), TAGS)
def test_every_element_is_read_as_it_says(document, read):
    assert _read([document]) == read


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11])
def test_a_document_cut_anywhere_reads_the_same(size):
    document = "".join(document for document, _ in TAGS[:-1]).replace("</speak><speak>", " ")
    whole = _read([document])
    assert _read([document[i : i + size] for i in range(0, len(document), size)]) == whole


def test_german_say_as_is_german():
    document = '<speak>Heute ist der <say-as interpret-as="date" format="dmy">08.12.2026</say-as>, Zimmer ' \
               '<say-as interpret-as="ordinal">3</say-as>.</speak>'  # fmt: skip
    assert _read([document], language="de") == ["Heute ist der achte Dezember zweitausendsechsundzwanzig, Zimmer "
                                                 "dritte."]  # fmt: skip


def test_malformed_ssml_is_read_as_its_text_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        read = _read(["<speak>Tom & Jerry <b", "reak/> are <prosody rate='slow'>here", " now</speak> again"])
    assert " ".join(" ".join(read).split()) == "Tom & Jerry are here now again"
    assert [record.message.split(" (")[0] for record in caplog.records] == ["Malformed SSML"]


def test_an_unclosed_document_keeps_what_it_said(caplog):
    with caplog.at_level(logging.WARNING):
        assert _read(['<speak>Hello <sub alias="doctor">Dr.']) == ["Hello Dr."]  # read as its text, none lost
    assert len(caplog.records) == 1


def test_text_format_decides_and_a_speak_document_needs_none():
    assert _read(["<b>bold</b> words"]) == ["bold words"]  # markdown's HTML, not SSML
    assert _read(['Hi <break time="1s"/> there'], ssml=True) == ["Hi", 1000, "there"]  # SSML without its root
    assert _read(["<speak>kept as text</speak>"], ssml=False) == ["kept as text"]
    assert _read(["<spe", "ak>Cut", " open</speak>"]) == ["Cut open"]
    assert _read(["<sp"]) == ["<sp"]
    assert _read(["<speaker> is a word"]) == ["is a word"]  # plain text: markdown drops the HTML-like tag


def test_a_client_cannot_open_a_phoneme_span_in_plain_text():
    text = f"Say {mark('ˈbʌnənə', 'banana')}."
    assert _read([text]) == ["Say ˈbʌnənəbanana."]


def test_each_engine_is_given_what_it_can_say():
    sentence = f"Say {mark('təˈmɑːtəʊ', 'tomato')} now."
    assert as_words(sentence) == "Say tomato now."
    assert as_ipa(sentence) == "Say [[ təˈmɑːtəʊ ]] now."
    assert as_espeak(sentence) == "Say [[t@'mA:toU]] now."
    assert as_ipa(f"A {mark('', 'word')}.") == "A word."  # no IPA: the words


def test_espeak_says_the_ipa_as_the_word_it_stands_for():
    def phonemes(text: str) -> str:
        return subprocess.run(["espeak-ng", "-q", "-x", "-v", "en"], input=text, capture_output=True, text=True,
                              check=True).stdout.split()  # fmt: skip

    assert phonemes(as_espeak(f"I say {mark('təˈmɑːtəʊ', 'potato')}.")) == phonemes("I say tomato.")
    assert phonemes(as_espeak(f"The {mark('ˈkɪtʃən', 'garage')} light.")) == phonemes("The kitchen light.")


async def test_the_engine_gets_words_pauses_and_the_voice_of_the_language():
    engine = FakeEngine()
    de = Voice("de", "default")

    async def sentences():
        yield Marked("It is 21 °C.")
        yield Marked("", pause_ms=500)
        yield Marked("Guten Tag", Style(language="de-DE"))

    reading = Reading(Normaliser(), voice_in=lambda _tag, _voice: de)
    chunks = [chunk async for chunk in speak(sentences(), Voice("en", "default"), engine, reading=reading)]
    assert engine.texts == ["It is twenty-one degrees Celsius.", "Guten Tag"]
    silence = [chunk for chunk in chunks if not any(chunk.audio)]
    assert sum(len(chunk.audio) for chunk in silence) == 24000 * 2 // 2  # 500 ms at 24 kHz, 16-bit
    assert chunks[-1].voice == "de/default"


async def test_prosody_stretches_and_scales_any_engine():
    engine = FakeEngine()

    async def sentences():
        yield Marked("Slow and soft.", Style(rate=0.5, volume=0.5))

    audio = b"".join([chunk.audio async for chunk in speak(sentences(), Voice("en", "default"), engine)])
    samples = np.frombuffer(audio, dtype="<i2")
    assert abs(len(samples) - 2 * 3 * 2400) < 2400  # twice as long as the engine's 3 chunks
    assert np.all(np.abs(samples) <= 1)  # its level (1) halved, rounded


def test_a_server_honours_ssml_pauses_rate_and_volume(start_server, tmp_path):
    server, _ = start_web(start_server, tmp_path)
    plain = asyncio.run(one_shot(server.port, "Turn on the lights.", "en/joe"))
    paused = asyncio.run(one_shot(server.port, 'Turn on the lights.<break time="1500ms"/>Turn on the lights.',
                                  "en/joe", text_format="ssml"))  # fmt: skip
    slow = asyncio.run(one_shot(server.port, '<speak><prosody rate="x-slow">Turn on the lights.</prosody></speak>',
                                "en/joe"))  # fmt: skip
    soft = asyncio.run(one_shot(server.port, '<speak><prosody volume="x-soft">Turn on the lights.</prosody></speak>',
                                "en/joe"))  # fmt: skip
    for answer in (plain, paused, slow, soft):
        assert not answer.errors and answer.samples.size
    assert paused.seconds == pytest.approx(2 * plain.seconds + 1.5, abs=0.25)
    quiet = np.abs(paused.samples) < 30
    longest_quiet = max(len(run) for run in "".join("1" if q else "0" for q in quiet).split("0")) / 24000
    assert longest_quiet > 1.45
    assert slow.seconds == pytest.approx(2 * plain.seconds, rel=0.2)  # Piper's durations vary a little run to run
    assert rms(soft.samples) == pytest.approx(rms(plain.samples) * 10 ** (-12 / 20), rel=0.3)  # -12 dB: a quarter


def test_a_streamed_document_cut_inside_its_tags_is_spoken_whole(start_server, tmp_path):
    server, _ = start_web(start_server, tmp_path, piper=add_voice(tmp_path / "piper", JOE, **STEADY))
    document = '<speak>The door is <say-as interpret-as="characters">ok</say-as>.<break time="1s"/>Good night.</speak>'
    deltas = [document[i : i + 4] for i in range(0, len(document), 4)]
    streamed = asyncio.run(stream_deltas(server.port, deltas, "en/joe", text_format="ssml"))
    whole = asyncio.run(one_shot(server.port, document, "en/joe"))
    assert not streamed.errors and not whole.errors
    assert streamed.seconds == pytest.approx(whole.seconds, abs=0.01)
    assert "Malformed" not in server.log()


def test_a_malformed_document_is_spoken_with_one_warning(start_server, tmp_path):
    server, _ = start_web(start_server, tmp_path)
    answer = asyncio.run(one_shot(server.port, "<speak>Salt & pepper <unclosed>are on the table.</speak>", "en/joe"))
    assert not answer.errors and answer.seconds > 1
    asyncio.run(wait_for_figures(server, voice="en/joe"))
    assert server.log().count("Malformed SSML") == 1


@pytest.mark.slow
def test_a_listener_hears_the_ipa_and_the_substitutes(start_server, tmp_path):
    from tests.recognizer import Listener  # noqa: PLC0415

    server, _ = start_web(start_server, tmp_path)
    listener = Listener()
    for document, heard_word, unheard in [
        ('<speak>Turn on the <phoneme alphabet="ipa" ph="ˈkɪtʃɪn">garage</phoneme> lights.</speak>', "kitchen",
         "garage"),
        ('<speak>Turn on the <sub alias="living room">LR</sub> lights.</speak>', "living", "lr"),
    ]:  # fmt: skip
        answer = asyncio.run(one_shot(server.port, document, "en/joe"))
        heard = listener.hear(answer.samples).lower()
        assert heard_word in heard and unheard not in heard, (document, heard)
