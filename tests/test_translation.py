"""NLLB translation between the sentence splitter and the engine, through the real server."""

import pytest

from tests.conftest import assert_well_formed, one_shot, stream_request, wait_for_figures
from wyoming_streamtts.languages import (
    LANGUAGES,
    UnknownLanguageError,
    normalize_language,
)

ENGLISH = "Hello everyone, the kitchen lights are on now."


@pytest.mark.parametrize(
    ("tag", "code", "flores"),
    [("en-US", "en", "eng_Latn"), ("pt-BR", "pt", "por_Latn"), ("pt_BR", "pt", "por_Latn"),
     ("zh-CN", "zh-cn", "zho_Hans"), ("zh", "zh-cn", "zho_Hans"), ("AR", "ar", "arb_Arab"),
     ("ja-JP", "ja", "jpn_Jpan"), ("hi", "hi", "hin_Deva")],
)  # fmt: skip
def test_wire_tags_map_to_flores_codes(tag, code, flores):
    assert normalize_language(tag) == code
    assert LANGUAGES[code].flores == flores


def test_unknown_language_is_refused():
    with pytest.raises(UnknownLanguageError, match="'tlh' is not supported"):
        normalize_language("tlh")


@pytest.fixture
def translating_server(start_server, tiny_nllb, tiny_nllb_ct2, tmp_path):
    def start(backend: str, *extra: str, model=None):
        model = model or (tiny_nllb if backend == "transformers" else tiny_nllb_ct2)
        return start_server("--translator", backend, "--nllb-model", str(model), "--data-dir",
                            str(tmp_path / "data"), "--debug", *extra)  # fmt: skip

    return start


async def translations(server, count: int) -> list[list[str]]:
    """How each of the first `count` requests' sentences reached the voice's language (--figures-file)."""
    await wait_for_figures(server, count=count, timeout=300)
    return [[sentence["translation"] for sentence in record["sentences"]] for record in server.figures()]


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
async def test_french_voice_gets_english_text_translated(translating_server, backend):
    server = translating_server(backend)
    reply = await one_shot(server.port, ENGLISH, "fr/default", timeout=300)
    assert_well_formed(reply, streaming=False)
    assert f"Translating from en with {backend}" in server.log()  # said at start
    assert await translations(server, 1) == [["translated"]]
    assert [sentence["chars"] for sentence in server.figures()[0]["sentences"]] == [len(ENGLISH)]


async def test_any_language_nllb_knows_is_a_target_and_one_it_lacks_is_spoken_as_is(translating_server):
    server = translating_server("ctranslate2")
    for voice in ("sv/default", "uk/default", "la/default"):  # espeak-ng speaks Latin; NLLB has none
        assert_well_formed(await one_shot(server.port, ENGLISH, voice, timeout=300), streaming=False)
    assert await translations(server, 3) == [["translated"], ["translated"], ["not in NLLB"]]


async def test_same_language_and_numbers_skip_the_translator(translating_server):
    server = translating_server("transformers")
    assert_well_formed(await one_shot(server.port, ENGLISH, "en/default", timeout=300), streaming=False)
    assert_well_formed(await one_shot(server.port, "12:30, 3.5 %.", "fr/default", timeout=300), streaming=False)
    assert await translations(server, 2) == [["same language"], ["no words"]]


async def test_repeated_phrases_come_from_the_cache(translating_server):
    server = translating_server("ctranslate2")
    for _ in range(3):
        await one_shot(server.port, "Good night.", "de/default", timeout=300)
    assert await translations(server, 3) == [["translated"], ["cached"], ["cached"]]


async def test_auto_source_detects_text_already_in_the_voices_language(translating_server):
    server = translating_server("ctranslate2", "--source-language", "auto")
    french = "Bonjour à tous, les lumières de la cuisine sont allumées maintenant."
    await one_shot(server.port, french, "fr/default", timeout=300)
    await one_shot(server.port, ENGLISH, "fr/default", timeout=300)
    # Detected as French: passed through untouched; the English one translated.
    assert await translations(server, 2) == [["same language"], ["translated"]]


async def test_streaming_with_translation_translates_whole_sentences_not_clauses(translating_server):
    # Clauses lose the context a translation needs: the first-clause rule is off with a translator.
    server = translating_server("ctranslate2")
    first = "Good evening, the living room is at twenty one degrees, and the heating is off."
    reply = await stream_request(server.port, f"{first} Bye.", "fr/default", piece=7, timeout=300)
    assert_well_formed(reply, streaming=True)
    assert await translations(server, 1) == [["translated", "translated"]]
    assert [sentence["chars"] for sentence in server.figures()[0]["sentences"]] == [len(first), len("Bye.")]


async def test_ctranslate2_converts_a_transformers_folder_once(translating_server, tiny_nllb, tmp_path):
    server = translating_server("ctranslate2", model=tiny_nllb)
    converted = tmp_path / "data" / "nllb-ct2" / f"{tiny_nllb.name}-int8" / "model.bin"
    assert converted.is_file()
    made = converted.stat().st_mtime_ns
    assert_well_formed(await one_shot(server.port, ENGLISH, "es/default", timeout=300), streaming=False)
    server.stop()
    again = translating_server("ctranslate2", model=tiny_nllb)
    assert_well_formed(await one_shot(again.port, ENGLISH, "es/default", timeout=300), streaming=False)
    assert converted.stat().st_mtime_ns == made  # not converted again


async def test_translation_of_the_next_sentence_overlaps_speech(start_server, tiny_nllb, tiny_xtts, tmp_path):
    server = start_server(
        "--engine", "xtts", "--xtts-model", str(tiny_xtts), "--device", "cpu", "--stream-chunk-size", "8",
        "--voices-dir", str(tmp_path / "none"), "--translator", "transformers", "--nllb-model", str(tiny_nllb),
    )  # fmt: skip
    text = "The first sentence is here. The second one follows. And a third."
    reply = await stream_request(server.port, text, "fr/Ana Florence", piece=6, timeout=300)
    assert_well_formed(reply, streaming=True)
    first, second, third = (await wait_for_figures(server, timeout=300))["sentences"]
    # Sentence 2 was translated while sentence 1 was being spoken, and so on.
    assert first["ready_s"] < second["ready_s"] < first["done_s"] <= second["first_s"]
    assert second["ready_s"] < third["ready_s"] < second["done_s"] <= third["first_s"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--translator", "transformers", "--nllb-model", "{missing}"], "nope does not exist"),
        (["--translator", "ctranslate2", "--nllb-model", "{missing}"], "nope does not exist"),
        (["--translator", "transformers", "--nllb-model", "someone/no-such-nllb"], "add --download"),
        (["--translator", "ctranslate2", "--source-language", "klingon"], "'klingon' is not supported"),
    ],
)
def test_bad_translation_settings_are_clear_start_errors(start_server, tmp_path, args, message):
    args = [arg.format(missing=tmp_path / "nope") for arg in args]
    server = start_server(*args, "--data-dir", str(tmp_path), ready=False, env={"HF_HUB_OFFLINE": "1"})
    assert server.process.wait(timeout=120) == 2
    assert message in server.log()
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("text", [ENGLISH, "Ça va très bien, merci !", "Включи свет на кухне в 7:30."])
def test_ctranslate2_reads_text_as_nllbs_own_tokenizer_does(tiny_nllb_ct2, text):
    # The backend tokenizes with `tokenizers` alone; its input must be what transformers' NLLB tokenizer makes.
    from transformers import AutoTokenizer  # noqa: PLC0415

    from wyoming_streamtts.translation import Ct2Backend  # noqa: PLC0415

    nllb = AutoTokenizer.from_pretrained(str(tiny_nllb_ct2), src_lang="fra_Latn")
    assert Ct2Backend(tiny_nllb_ct2, "cpu").tokens(text, "fra_Latn") == nllb.convert_ids_to_tokens(nllb.encode(text))


def test_a_vocabulary_map_beside_the_model_restricts_what_it_writes(tiny_nllb_ct2, tmp_path):
    # NLLB's 256k-row output layer is half a decode step: a vmap.txt (CTranslate2's format) narrows it.
    import shutil  # noqa: PLC0415

    from wyoming_streamtts.translation import Ct2Backend  # noqa: PLC0415

    model = tmp_path / "nllb-with-vmap"
    shutil.copytree(tiny_nllb_ct2, model)
    free = Ct2Backend(model, "cpu")
    allowed = ["▁the", "▁kitchen", "▁lights", "▁are", "▁on"]
    unrestricted = free.translator.translate_batch([free.tokens(ENGLISH, "eng_Latn")], target_prefix=[["fra_Latn"]],
                                                   max_decoding_length=20)[0].hypotheses[0][1:]  # fmt: skip
    assert not set(unrestricted) <= set(allowed)  # random weights write any piece
    (model / "vmap.txt").write_text("\t" + " ".join(allowed) + "\n", encoding="utf-8")  # always allowed: these
    restricted = Ct2Backend(model, "cpu")
    assert restricted.vmap
    said = restricted.translate(ENGLISH, "eng_Latn", "fra_Latn")
    assert said and set(said.split()) <= {piece.lstrip("▁") for piece in allowed}, said
