"""What users feed XTTS: huge reference recordings, sentences of numbers, Chinese, Japanese and Korean."""

import pytest

from tests.conftest import assert_well_formed, one_shot, process_io, stream_request, wait_for_log, write_huge_wav

GIB = 1 << 30


def xtts_args(model, tmp_path, *extra: str) -> list[str]:
    # Greedy: random weights sampled stop at a random length (0.36 s of Japanese once in eight, 2.08 s else);
    # greedy, the audio's length is the weights' alone, and the length is what these tests assert.
    return ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(model), "--device", "cpu", "--top-k", "1",
            "--cache-dir", str(tmp_path / "latents"), "--voices-dir", str(tmp_path / "voices"), *extra]  # fmt: skip


async def test_a_huge_recording_is_read_only_as_far_as_cloning_uses_it(start_server, tiny_xtts, tmp_path):
    huge = write_huge_wav(tmp_path / "voices" / "huge.wav", 40.0, GIB)  # 6.8 hours by its header
    server = start_server(*xtts_args(tiny_xtts, tmp_path))
    await wait_for_log(server, r"Voices warm: 1 computed, 0 loaded")
    read, peak = process_io(server.process.pid)
    assert read < GIB + GIB // 2  # once by blocks for the cache key, 30 s to clone (twice whole before)
    assert peak < 2 * GIB  # was 6.75 GiB
    assert f"Voice recording {huge} is 24348 s long; XTTS clones from its first 30 s only" in server.log()
    assert_well_formed(await one_shot(server.port, "Hello there.", "en/huge", timeout=300), streaming=False)


# Ordinals and amounts: 186 characters, within English's 250, but spelled out 957 tokens of
# the test vocabulary (XTTS takes fewer than 402).
NUMBERS = "Orders " + ", ".join(str(1000000 + i * 7919) for i in range(20)) + "."


@pytest.mark.parametrize("streaming", [False, True], ids=["one-shot", "streaming"])
async def test_a_sentence_of_numbers_is_cut_by_tokens_and_spoken(start_server, tiny_xtts, tmp_path, streaming):
    server = start_server(*xtts_args(tiny_xtts, tmp_path, "--debug"))
    text = "Hello there. " + NUMBERS + " Goodbye."
    if streaming:
        reply = await stream_request(server.port, text, "en/Ana Florence", piece=7, timeout=600)
    else:
        reply = await one_shot(server.port, text, "en/Ana Florence", timeout=600)
    assert_well_formed(reply, streaming)
    assert not reply.errors
    # Every sentence spoke, the numbers in several pieces: audio after the numbers too.
    assert reply.seconds > 4 * 48 * 1024 / 22050  # more than four pieces' worth of 48-token generations


@pytest.mark.parametrize(
    ("voice", "text"),
    [
        ("zh-cn/Ana Florence", "今天天气很好，我们去公园散步吧。"),
        ("ja/Ana Florence", "今日はいい天気ですね。"),
        ("ko/Ana Florence", "오늘 날씨가 좋네요."),
    ],  # fmt: skip
    ids=["zh-cn", "ja", "ko"],
)
async def test_chinese_japanese_and_korean_are_spoken(start_server, tiny_xtts, tmp_path, voice, text):
    # Their text normalisers need pypinyin, cutlet with fugashi and unidic-lite, and hangul romanisation.
    server = start_server(*xtts_args(tiny_xtts, tmp_path))
    reply = await one_shot(server.port, text, voice, timeout=300)
    assert_well_formed(reply, streaming=False)
    assert reply.seconds > 0.5
