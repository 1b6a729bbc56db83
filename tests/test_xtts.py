"""The xtts engine in the real server process, with a random-weight XTTS v2 checkpoint.

The checkpoint has the real on-disk layout and is loaded by the real loading
code on the CPU; random weights say nothing of quality, but everything from
loading to streamed audio on the wire is the real path.
"""

import asyncio
import json
import shutil

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.tts import (
    Synthesize,
    SynthesizeVoice,
)

from tests.conftest import (
    assert_well_formed,
    describe,
    free_port,
    one_shot,
    read_reply,
    stream_request,
    wait_for_figures,
    wait_for_log,
    write_wav,
)

CHUNK = "4"  # GPT tokens per chunk: many small chunks from the tiny model


@pytest.fixture
def voices(tmp_path):
    folder = tmp_path / "voices"
    write_wav(folder / "ana.wav", 7.0, pitch=210)
    write_wav(folder / "bob" / "one.wav", 4.0, pitch=110)
    write_wav(folder / "bob" / "two.wav", 4.0, pitch=120)
    (folder / "bob.json").write_text(json.dumps({"languages": ["de", "en-GB"], "description": "Bob"}))
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    return folder


@pytest.fixture
def xtts_server(start_server, tiny_xtts, voices, tmp_path):
    # Greedy (--top-k 1): sampled, random weights stop at a random length, and tests assert on the audio's length.
    def start(*extra: str, ready: bool = True):
        return start_server(
            "--engine", "xtts", "--xtts-model", str(tiny_xtts), "--device", "cpu", "--top-k", "1",
            "--voices-dir", str(voices), "--cache-dir", str(tmp_path / "latents"),
            "--stream-chunk-size", CHUNK, "--debug", *extra, ready=ready,
        )  # fmt: skip

    return start


async def test_voices_are_cloned_and_studio_speakers_per_language(xtts_server):
    server = xtts_server()
    info = await describe(server.port)
    names = {voice.name for voice in info.tts[0].voices}
    # ana speaks all 17 languages, the studio speakers too; bob only what his sidecar says.
    assert {f"{lang}/ana" for lang in ["en", "fr", "zh-cn", "hi"]} <= names
    assert {"en/Ana Florence", "ja/Claribel Dervla"} <= names
    assert {name for name in names if name.endswith("/bob")} == {"de/bob", "en/bob"}
    assert len({name for name in names if not name.endswith("/default")}) == 17 * 3 + 2
    # The fallbacks' default voice speaks only what XTTS does not: Swedish, not English.
    assert "sv/default" in names and "en/default" not in names
    assert not any("broken" in name for name in names)
    assert "broken.wav: it cannot be decoded" in server.log()
    descriptions = {voice.name: voice.description for voice in info.tts[0].voices}
    assert descriptions["de/bob"] == "Bob (German)"


async def test_synthesize_streams_chunks_before_generation_ends(xtts_server):
    server = xtts_server()
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(
            Synthesize(text="Hello there, this is a longer test.", voice=SynthesizeVoice(name="en/ana")).event()
        )
        assert (await asyncio.wait_for(client.read_event(), 120)).type == "audio-start"
        assert (await asyncio.wait_for(client.read_event(), 120)).type == "audio-chunk"
        reply = await read_reply(client, streaming=False, timeout=300)
    assert reply.types[-1] == "audio-stop"
    figures = await wait_for_figures(server, voice="en/ana")
    assert len(figures["engine_chunks"]) >= 3
    # The first audio went out while the model was still generating, not once the sentence was made.
    assert figures["first_chunk_s"] < figures["wall_s"] / 2, figures


async def chunk_samples_per_request(server, requests: int) -> list[list[int]]:
    """Samples of each XTTS chunk, request by request (from the requests' figures)."""
    sizes: list[list[int]] = []
    before = len(server.figures(voice="en/ana"))
    for number in range(1, requests + 1):
        assert_well_formed(await one_shot(server.port, "Hello there.", "en/ana", timeout=300), streaming=False)
        sizes.append((await wait_for_figures(server, count=before + number, voice="en/ana"))["engine_chunks"])
    return sizes


PER_TOKEN = 1024 / 22050 * 24000  # samples of audio per GPT token


async def test_chunk_sizes_are_planned_between_the_first_size_and_the_steady_size(xtts_server):
    server = xtts_server("--stream-chunk-size", "16", "--first-chunk-size", "2")
    # The first sentence after start-up is planned as fixed; later ones by their pace.
    requests = await chunk_samples_per_request(server, 6)
    # Random weights stop at random: the middle chunks (the first holds back the cross-fade, the last
    # is what is left) of every request that has some are 2 to 16 tokens of audio.
    middles = [n for samples in requests for n in samples[1:-1]]
    assert middles, requests
    assert all(2 * PER_TOKEN - 300 <= n <= 16 * PER_TOKEN + 300 for n in middles), requests


async def test_first_chunk_size_zero_is_a_fixed_schedule(xtts_server):
    server = xtts_server("--stream-chunk-size", "8", "--first-chunk-size", "0")
    requests = await chunk_samples_per_request(server, 6)
    middles = [samples[1:-1] for samples in requests if len(samples) >= 4]
    assert middles, requests
    # 8 tokens each, to a vocoder frame.
    assert all(max(middle) - min(middle) <= 256 and abs(middle[0] - 8 * PER_TOKEN) < 300 for middle in middles)


async def test_studio_speaker_and_streaming_input(xtts_server):
    server = xtts_server()
    text = "Guten Tag. Wie geht es dir?"
    reply = await stream_request(server.port, text, "de/Ana Florence", piece=4, timeout=300)
    assert_well_formed(reply, streaming=True)
    assert reply.seconds > 0.5


def voices_from(server) -> list[list[str]]:
    """Where XTTS had each request's voice from, sentence by sentence (--figures-file)."""
    return [[sentence["voice_from"] for sentence in record["sentences"]] for record in server.figures()]


async def test_latents_computed_once_cached_on_disk_and_invalidated_per_voice(xtts_server, voices, tmp_path):
    cache = tmp_path / "latents"
    server = xtts_server()
    await wait_for_log(server, r"Voices warm: 2 computed, 0 loaded")
    files = {path.name.split(".")[0]: path.name for path in cache.glob("*/*.pt")}
    assert set(files) == {"ana", "bob"}
    assert_well_formed(await one_shot(server.port, "Hi.", "en/ana", timeout=300), streaming=False)
    assert_well_formed(await one_shot(server.port, "Hallo.", "de/bob", timeout=300), streaming=False)
    await wait_for_figures(server, count=2, timeout=60)
    assert voices_from(server) == [["memory"], ["memory"]]  # requests used the warm latents
    server.stop()

    restarted = xtts_server()
    await wait_for_log(restarted, r"Voices warm: 0 computed, 2 loaded")
    assert_well_formed(await one_shot(restarted.port, "Hi.", "en/ana", timeout=300), streaming=False)
    restarted.stop()

    write_wav(voices / "ana.wav", 7.0, pitch=260)  # a new recording for ana only
    edited = xtts_server()
    await wait_for_log(edited, r"Voices warm: 1 computed, 1 loaded")
    after = {path.name.split(".")[0]: path.name for path in cache.glob("*/*.pt")}
    assert after["bob"] == files["bob"] and after["ana"] != files["ana"]
    assert len(after) == 2  # ana's stale entry is gone


async def test_request_for_a_cold_voice_waits_only_for_it(xtts_server):
    server = xtts_server()
    # Straight after start-up, before warm-up can have finished both voices.
    reply = await one_shot(server.port, "Hallo.", "de/bob", timeout=300)
    assert_well_formed(reply, streaming=False)
    await wait_for_figures(server, timeout=60)
    assert voices_from(server) in ([["computed"]], [["memory"]])  # its own, or the warm-up's if that came first
    await wait_for_log(server, r"Voices warm: 2 computed, 0 loaded")  # bob's computed once, not twice


async def test_two_concurrent_clients_both_get_complete_streams(xtts_server):
    server = xtts_server()
    first, second = await asyncio.gather(
        one_shot(server.port, "The first client speaks now.", "en/ana", timeout=300),
        one_shot(server.port, "Le second client parle aussi.", "fr/Claribel Dervla", timeout=300),
    )
    for reply in (first, second):
        assert_well_formed(reply, streaming=False)
        assert reply.seconds > 0.5
    # The two shared the model's GPT steps: their audio came interleaved, neither waited for the other to end.
    await wait_for_figures(server, count=2, timeout=60)
    ana, claribel = (
        next(r for r in server.figures() if r["voice"] == voice) for voice in ("en/ana", "fr/Claribel Dervla")
    )

    def heard(record: dict, when: str) -> float:  # wall-clock time of the request's first or last audio
        return record["started_at"] + record["sentences"][0 if when == "first_s" else -1][when]

    assert heard(claribel, "first_s") < heard(ana, "done_s") and heard(ana, "first_s") < heard(claribel, "done_s")


async def test_new_request_on_the_connection_cancels_the_running_one(xtts_server):
    server = xtts_server()
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(
            Synthesize(
                text="A long first request that nobody wants to hear the end of.", voice=SynthesizeVoice(name="en/ana")
            ).event()  # fmt: skip
        )
        assert (await asyncio.wait_for(client.read_event(), 120)).type == "audio-start"
        await client.write_event(Synthesize(text="Second.", voice=SynthesizeVoice(name="en/ana")).event())
        cancelled = await read_reply(client, streaming=False, timeout=300)
        second = await read_reply(client, streaming=False, timeout=300)
    assert cancelled.types[-1] == "audio-stop"
    assert_well_formed(second, streaming=False)
    await wait_for_figures(server, voice="en/ana", language="en", engines=["xtts"], chars=7)
    assert [record["outcome"] for record in server.figures()] == ["replaced", "finished"]


async def test_text_beyond_xtts_limits_is_split_before_the_model(xtts_server):
    # The server's splitter lets 1000 characters through; XTTS takes 250 in English.
    server = xtts_server("--max-sentence-chars", "1000")
    text = " ".join(["word"] * 120)  # 600 characters, no punctuation
    reply = await one_shot(server.port, text, "en/ana", timeout=300)
    assert_well_formed(reply, streaming=False)
    assert not reply.errors
    record = await wait_for_figures(server, voice="en/ana", engines=["xtts"])  # spoken whole, by XTTS itself
    assert record["chars"] >= len(text) - 1 and record["audio_s"] > 0


async def test_disconnect_mid_stream_stops_generation(xtts_server):
    server = xtts_server()
    text = "This sentence would take the tiny model many chunks to finish speaking."
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name="en/ana")).event())
        assert (await asyncio.wait_for(client.read_event(), 120)).type == "audio-start"
        assert (await asyncio.wait_for(client.read_event(), 120)).type == "audio-chunk"
    gone = await wait_for_figures(server, outcome="client gone", timeout=120)
    # The model takes 48 tokens at most, 12 chunks of 4: it stopped well before.
    await one_shot(server.port, "Next.", "en/ana", timeout=300)  # and the server serves the next one
    assert len(gone["engine_chunks"]) < 12
    assert [record["outcome"] for record in server.figures(chars=len(text))] == ["client gone"]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{missing}", "does not exist"),
        ("{empty}", "lacks config.json, model.pth, vocab.json"),
        ("{corrupt}", "Cannot load the XTTS model from"),
    ],
)
def test_bad_model_folder_is_a_clear_start_error(start_server, tiny_xtts, tmp_path, model, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_xtts, corrupt)
    (corrupt / "model.pth").write_bytes(b"not a checkpoint")
    folder = model.format(missing=tmp_path / "nope", empty=empty, corrupt=corrupt)
    server = start_server("--engine", "xtts", "--xtts-model", folder, "--device", "cpu", ready=False)
    assert server.process.wait(timeout=120) == 2
    assert message in server.log()
    assert "Traceback" not in server.log()


def test_download_needs_licence_consent(start_server, tmp_path):
    server = start_server("--engine", "xtts", "--download", "--data-dir", str(tmp_path), ready=False,
                          env={"COQUI_TOS_AGREED": ""})  # fmt: skip
    assert server.process.wait(timeout=120) == 2
    assert "COQUI_TOS_AGREED=1 or pass --agree-coqui-license" in server.log()


def test_model_name_without_download_says_what_to_do(start_server, tmp_path):
    server = start_server("--engine", "xtts", "--data-dir", str(tmp_path), ready=False)
    assert server.process.wait(timeout=120) == 2
    assert "Add --download" in server.log()


def test_download_without_network_is_a_clear_start_error(start_server, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    env = {name: closed for name in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]}
    server = start_server("--engine", "xtts", "--download", "--agree-coqui-license",
                          "--data-dir", str(tmp_path), ready=False, env={**env, "NO_PROXY": ""})  # fmt: skip
    assert server.process.wait(timeout=300) == 2
    assert "Could not download tts_models/multilingual/multi-dataset/xtts_v2" in server.log()
    assert "Traceback" not in server.log()
