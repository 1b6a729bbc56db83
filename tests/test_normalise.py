"""Numbers, units, dates, times and money as a person reads them: the text the engine receives for Home
Assistant's kind of sentences, what eSpeak NG makes of it, a number cut across streamed deltas, and what a
recognizer hears in Piper's audio."""

import asyncio
import subprocess

import pytest

from tests.conftest import one_shot, stream_deltas, wait_for_figures
from tests.fake_engine import FakeEngine
from tests.web_client import start_web
from wyoming_streamtts.normalise import Normaliser

CASES = [
    ("en", "The dryer used 1.2 kWh.", "The dryer used one point two kilowatt hours."),
    ("en", "The wind is at 15 km/h and it is -3 °C outside.",
     "The wind is at fifteen kilometres per hour and it is minus three degrees Celsius outside."),
    ("en", "The bill is due 2026-12-08.", "The bill is due December eighth, twenty twenty-six."),
    ("en", "Electricity costs €0.35 per kWh; the total is $12.50.",
     "Electricity costs thirty-five cents per kWh; the total is twelve dollars, fifty cents."),
    ("en", "The battery is at 3.7 V after 3 h 20 min.",
     "The battery is at three point seven volts after three hours twenty minutes."),
    ("en", "It is 21°C and 45% humidity, 20–25 degrees tomorrow.",
     "It is twenty-one degrees Celsius and forty-five percent humidity, twenty to twenty-five degrees tomorrow."),
    ("en", "The alarm is at 7:05 am, the meeting at 14:30, lunch at 12:00.",
     "The alarm is at seven oh five a m, the meeting at fourteen thirty, lunch at twelve o'clock."),
    ("en", "light.kitchen_ceiling is on & the 3rd door is open.", "kitchen ceiling is on and the third door is open."),
    ("en", "There are 2 in the garage; the tank holds 1 L.", "There are two in the garage; the tank holds one litre."),
    ("en", "The router moved 1,234.5 MB at 300 Mbit/s.",
     "The router moved one thousand, two hundred and thirty-four point five megabytes at three hundred megabits per "
     "second."),
    ("de", "Der Trockner hat 1,2 kWh verbraucht.", "Der Trockner hat eins Komma zwei Kilowattstunden verbraucht."),
    ("de", "Es sind -3 °C bei 15 km/h Wind.",
     "Es sind minus drei Grad Celsius bei fünfzehn Kilometer pro Stunde Wind."),
    ("de", "Am 08.12.2026 um 14:30 Uhr kostet es 0,35 €.",
     "Am achten Dezember zweitausendsechsundzwanzig um vierzehn Uhr dreißig kostet es fünfunddreißig Cent."),
    ("de", "Die Fahrt dauerte 1 h 20 min.", "Die Fahrt dauerte eine Stunde zwanzig Minuten."),
    ("fr", "Le sèche-linge a consommé 1,2 kWh.", "Le sèche-linge a consommé un virgule deux kilowattheures."),
    ("fr", "Il fait 21 °C, le 2026-12-01 à 7:05.",
     "Il fait vingt et un degrés Celsius, le premier décembre deux mille vingt-six à sept heures cinq."),
    ("fr", "Cela coûte 12,50 €.", "Cela coûte douze euros et cinquante centimes."),
    ("es", "Son 1,5 kWh.", "Son uno punto cinco kWh."),  # numbers in ~50 languages; units where a table has them
    ("zh-cn", "是 1.2 kWh", "是 1.2 kWh"),  # nothing covers it: unchanged
]  # fmt: skip


@pytest.mark.parametrize(("language", "written", "spoken"), CASES)
def test_the_engine_receives_words(language, written, spoken):
    assert Normaliser().normalise(written, language) == spoken


@pytest.mark.parametrize(("written", "not_heard", "heard"), [
    ("1.2 kWh", "Vb@Lj", "k'Il@w,0t"),
    ("15 km/h", "sl'aS", "k'Il@m,i:t3z"),
    ("2026-12-08", "d'aS", "dI2s'Emb3r"),
    ("€0.35", "j'U@roUz", "s'Ents"),
])  # fmt: skip
def test_espeak_reads_the_words_not_the_letters(written, not_heard, heard):
    phonemes = subprocess.run(["espeak-ng", "-q", "-x", Normaliser().normalise(written, "en")], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
    before = subprocess.run(["espeak-ng", "-q", "-x", written], capture_output=True, text=True, check=True).stdout
    assert not_heard in before and not_heard not in phonemes and heard in phonemes, (before, phonemes)


def test_a_number_cut_across_deltas_is_read_whole(start_server, tmp_path):
    server, _ = start_web(start_server, tmp_path)
    deltas = ["The dryer used 1.", "2 kWh and the car 3", "0 km."]
    answer = asyncio.run(stream_deltas(server.port, deltas, "en/joe"))
    assert not answer.errors
    figures = asyncio.run(wait_for_figures(server, voice="en/joe"))
    # One sentence, not "The dryer used 1." and "2 kWh ...": the number was held until it was whole.
    assert [sentence["chars"] for sentence in figures["sentences"]] == [len("".join(deltas))]
    whole = asyncio.run(one_shot(server.port, "".join(deltas), "en/joe"))
    assert abs(answer.seconds - whole.seconds) < 0.3  # the same words spoken


async def test_the_request_path_hands_the_engine_words():
    from wyoming_streamtts.speech import Reading, speak  # noqa: PLC0415
    from wyoming_streamtts.voices import Voice  # noqa: PLC0415

    engine = FakeEngine()

    async def sentences():
        yield "It is 21 °C."

    async for _ in speak(sentences(), Voice("en", "default"), engine, reading=Reading(Normaliser())):
        pass
    assert engine.texts == ["It is twenty-one degrees Celsius."]


@pytest.mark.slow
def test_a_recognizer_hears_the_units_the_month_and_the_currency(start_server, tmp_path):
    from tests.recognizer import Listener  # noqa: PLC0415

    server, _ = start_web(start_server, tmp_path)
    listener = Listener()
    for text, words in [
        ("The dryer used 1.2 kWh.", ["kilowatt"]),
        ("The wind is at 15 km/h.", ["kilometres per hour", "kilometers per hour"]),
        ("The bill is due 2026-12-08.", ["december"]),
        ("It costs €0.35.", ["cents"]),
    ]:
        answer = asyncio.run(one_shot(server.port, text, "en/joe"))
        heard = listener.hear(answer.samples).lower()
        assert any(word in heard for word in words), (text, heard)
