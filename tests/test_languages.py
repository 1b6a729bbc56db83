"""Every language an installed engine speaks: the table against the engines' own lists, and
Swedish, Portuguese and English regional voices through the real server."""

import subprocess

import pytest
from gtts.lang import tts_langs
from lingua import Language as LinguaLanguage
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES
from wyoming.info import Attribution
from wyoming.tts import SynthesizeVoice

from tests.conftest import add_voice, assert_well_formed, describe, one_shot, rms, wait_for_figures, write_wav
from tests.fake_engine import FakeEngine
from tests.fake_google import FakeGoogle
from tests.tiny_xtts import XTTS_LANGUAGES
from wyoming_streamtts.detection import WELL_TOLD_APART, detected_languages
from wyoming_streamtts.engine import EngineError
from wyoming_streamtts.fallback import FallbackEngine
from wyoming_streamtts.languages import LANGUAGES, XTTS_V2_LANGUAGES, engine_codes, known_language, region_of
from wyoming_streamtts.voices import Region, Speaker, VoiceCatalog

# espeak-ng's invented, constructed and historical languages: nobody's household speaks them.
NOT_A_HOUSEHOLD_LANGUAGE = {"grc", "ia", "io", "jbo", "lfn", "nci", "piqd", "py", "qdb", "qya", "sjn"}
SWEDISH = "Tvättmaskinen är klar, häng upp tvätten före middagen."


def espeak_tags() -> list[str]:
    listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    return [line.split()[1] for line in listing.splitlines()[1:]]


def test_every_gtts_language_is_in_the_table_under_gtts_own_code():
    codes = engine_codes(tts_langs())
    assert {known_language(tag) for tag in tts_langs()} == set(codes) and None not in codes
    assert (codes["zh-cn"], codes["he"], codes["nb"], codes["jv"], codes["pt"]) == ("zh-CN", "iw", "no", "jw", "pt")
    assert len(codes) > 60


def test_every_espeak_language_people_speak_is_in_the_table():
    unknown = {tag.split("-")[0] for tag in espeak_tags() if known_language(tag) is None}
    assert unknown <= NOT_A_HOUSEHOLD_LANGUAGE
    codes = engine_codes(espeak_tags())
    for language in ("sv", "da", "fi", "nb", "uk", "el", "ca", "zh-cn", "en"):
        assert language in codes


def test_xtts_languages_keep_their_own_codes():
    assert engine_codes(XTTS_LANGUAGES) == {code: code for code in XTTS_LANGUAGES}


def test_every_nllb_code_is_real_and_the_common_languages_have_one():
    flores = {language.flores for language in LANGUAGES.values()} - {None}
    assert flores <= set(FAIRSEQ_LANGUAGE_CODES)
    for code in {*XTTS_LANGUAGES, "sv", "da", "fi", "nb", "uk", "el", "ca"}:
        assert LANGUAGES[code].flores is not None


def test_lingua_names_map_back_to_table_codes():
    for language in LinguaLanguage.all():
        code = known_language(language.iso_code_639_1.name)
        assert code is None or code in LANGUAGES
    assert known_language("ZH") == "zh-cn" and known_language("NB") == "nb"


@pytest.mark.parametrize(
    ("tag", "code", "region"),
    [("sv_SE", "sv", "SE"), ("pt-BR", "pt", "BR"), ("es-419", "es", "419"), ("en-gb-x-rp", "en", "GB"),
     ("iw", "he", ""), ("no_NO", "nb", "NO"), ("cmn-latn-pinyin", "zh-cn", ""), ("zh-TW", "zh-cn", "TW")],
)  # fmt: skip
def test_tags_map_to_a_language_and_a_region(tag, code, region):
    assert (known_language(tag), region_of(tag)) == (code, region)


def test_detection_is_among_well_told_apart_languages_and_the_voices_own():
    piper_sv = Speaker("nst", languages=frozenset({"sv"}))
    spoken = frozenset(LANGUAGES)
    speakers = [Speaker("default", languages=spoken), piper_sv, Speaker("ana")]
    catalog = VoiceCatalog(speakers, spoken, Attribution("tests", ""))
    assert set(detected_languages(catalog, asked_for=False)) == WELL_TOLD_APART | {"sv"}
    # Named with --language: exactly those.
    narrow = VoiceCatalog([Speaker("default", languages=frozenset({"sv", "fi", "en"}))], (), Attribution("tests", ""))
    assert detected_languages(narrow, asked_for=True) == ["en", "fi", "sv"]  # English first, as listed


def test_a_region_tag_reaches_the_voice_of_that_region():
    brazil, portugal = Region("pt", "BR", "Brazil"), Region("pt", "PT", "Portugal")
    catalog = VoiceCatalog(
        [Speaker("tugao", languages=frozenset({"pt"}), regions=(portugal,)),
         Speaker("faber", languages=frozenset({"pt"}), regions=(brazil,))],
        {"pt"}, Attribution("tests", ""),
    )  # fmt: skip
    assert catalog.resolve(SynthesizeVoice(language="pt-BR")).speaker == "faber"
    assert catalog.resolve(SynthesizeVoice(language="pt_PT")).speaker == "tugao"
    assert catalog.resolve(SynthesizeVoice(language="pt")).speaker == "tugao"  # no region: the default voice
    assert catalog.resolve(SynthesizeVoice(name="pt-BR/tugao")).speaker == "tugao"  # a name is obeyed
    described = {voice.name: voice.description for voice in catalog.tts_voices()}
    assert described == {"pt/tugao": "tugao (Portuguese, Portugal)", "pt/faber": "faber (Portuguese, Brazil)"}


async def test_the_chain_skips_an_engine_that_does_not_speak_the_language():
    english, swedish = FakeEngine(name="english"), FakeEngine(name="swedish")
    swedish.languages = frozenset({"sv"})
    chain = FallbackEngine([english, swedish])
    assert [speaker.languages for speaker in chain.speakers] == [frozenset({"en", "de", "sv"})]
    chunks = [chunk async for chunk in chain.synthesize("Hej.", "sv", "default")]
    assert chunks and {chunk.engine for chunk in chunks} == {"swedish"} and english.texts == []
    with pytest.raises(EngineError, match="No engine speaks fr"):
        [chunk async for chunk in chain.synthesize("Salut.", "fr", "default")]


async def test_behind_a_primary_without_a_default_voice_it_speaks_the_languages_the_primary_lacks():
    piper, espeak = FakeEngine(name="piper"), FakeEngine(name="espeak")
    piper.speakers = (Speaker("nst", languages=frozenset({"sv"})),)
    piper.languages, espeak.languages = frozenset({"sv"}), frozenset({"sv", "en", "fi"})
    chain = FallbackEngine([piper, espeak])
    assert chain.speakers == (piper.speakers[0], Speaker("default", languages=frozenset({"en", "fi"})))


async def test_a_swedish_piper_voice_is_advertised_and_speaks(start_server, tmp_path):
    language = {"code": "sv_SE", "family": "sv", "region": "SE", "country_english": "Sweden"}
    voices = add_voice(tmp_path / "piper", "sv_SE-nst-medium", language=language)
    server = start_server("--engine", "piper", "--piper-voices", str(voices))
    listed = (await describe(server.port)).tts[0].voices
    (nst,) = [voice for voice in listed if voice.name.startswith("sv/")]  # espeak-ng's sv/default is not offered
    assert (nst.name, nst.languages) == ("sv/nst", ["sv"])
    assert nst.description == "nst (Piper, medium) (Swedish, Sweden)"
    reply = await one_shot(server.port, SWEDISH, "sv/nst")
    assert_well_formed(reply, streaming=False)
    assert not reply.errors and rms(reply.samples) > 500 and reply.seconds > 1.5
    await wait_for_figures(server, voice="sv/nst", language="sv", engines=["piper"])


async def test_regional_piper_voices_stay_apart(start_server, tmp_path):
    voices = tmp_path / "piper"
    for tag, country, name in [("pt_BR", "Brazil", "faber"), ("pt_PT", "Portugal", "tugao"),
                               ("en_GB", "Great Britain", "joe"), ("en_US", "United States", "joe")]:  # fmt: skip
        add_voice(voices, f"{tag}-{name}-medium", language={"code": tag, "country_english": country})
    server = start_server("--engine", "piper", "--fallback", "piper", "--piper-voices", str(voices))
    described = {voice.name: voice.description for voice in (await describe(server.port)).tts[0].voices}
    assert described == {
        "en/joe": "joe (Piper, medium) (English, Great Britain)",
        "en/joe-us": "joe (Piper, medium) (English, United States)",
        "pt/faber": "faber (Piper, medium) (Portuguese, Brazil)",
        "pt/tugao": "tugao (Piper, medium) (Portuguese, Portugal)",
    }
    assert_well_formed(await one_shot(server.port, "Bom dia.", "pt-PT/tugao"), streaming=False)
    await wait_for_figures(server, voice="pt/tugao", language="pt", engines=["piper"])


async def test_swedish_default_falls_back_from_gtts_to_espeak_past_an_english_piper(start_server, tmp_path):
    google = FakeGoogle(mode="error")
    try:
        server = start_server("--engine", "gtts", "--piper-voices", str(add_voice(tmp_path / "piper")),
                              env=google.trusted_env)  # fmt: skip
        names = {voice.name for voice in (await describe(server.port)).tts[0].voices}
        assert {"sv/default", "da/default", "fi/default", "nb/default", "uk/default", "el/default"} <= names
        reply = await one_shot(server.port, SWEDISH, "sv/default")
        assert_well_formed(reply, streaming=False)
        assert not reply.errors and rms(reply.samples) > 300
        assert google.requests and google.requests[0][1] == "sv"  # asked in gTTS's Swedish
        await wait_for_figures(server, voice="sv/default", language="sv", engines=["espeak"])
        assert "falling back to espeak" in server.log() and "piper failed" not in server.log()
    finally:
        google.close()


async def test_a_request_naming_no_voice_is_told_apart_among_the_languages_asked_for(start_server):
    server = start_server("--engine", "espeak", "--language", "sv", "--language", "en", "--language", "fi")
    assert_well_formed(await one_shot(server.port, SWEDISH), streaming=False)
    await wait_for_figures(server, voice="sv/default", language="sv", engines=["espeak"])
    assert_well_formed(await one_shot(server.port, "Pesukone on valmis."), streaming=False)
    await wait_for_figures(server, voice="fi/default", language="fi", engines=["espeak"])


async def test_a_cloned_voice_is_offered_in_xtts_languages_only(start_server, tmp_path):
    voices = tmp_path / "voices"
    write_wav(voices / "ana.wav", 8.0)
    write_wav(voices / "bo.wav", 8.0)
    (voices / "bo.json").write_text('{"languages": ["sv", "en"]}')
    server = start_server("--engine", "espeak", "--voices-dir", str(voices))
    names = {voice.name for voice in (await describe(server.port)).tts[0].voices}
    assert {name.split("/")[0] for name in names if name.endswith("/ana")} == XTTS_V2_LANGUAGES
    assert {name for name in names if name.endswith("/bo")} == {"en/bo"} and "sv/default" in names
    assert "Voice bo: espeak cannot speak sv as a cloned voice; not advertised in it" in server.log()


def test_a_source_language_nllb_cannot_translate_from_is_a_start_error(start_server):
    server = start_server("--translator", "ctranslate2", "--source-language", "la", ready=False)
    assert server.process.wait(timeout=60) == 2
    assert "Cannot start: --source-language la: NLLB does not translate from Latin" in server.log()
