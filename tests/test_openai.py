"""OpenAI's speech API beside Wyoming, spoken to by the official `openai` client: every format streamed and
decoded, OpenAI's voice names, the same limits as Wyoming, errors in OpenAI's shape."""

import asyncio
import io
import signal
import socket
import time

import av
import numpy as np
import openai
import pytest
import requests
from wyoming.client import AsyncTcpClient
from wyoming.tts import SynthesizeStart

from tests.conftest import wait_for_figures, wait_for_log
from tests.web_client import start_web

pytestmark = pytest.mark.timeout(240)

HA_ANSWER = "The living room lights are on, and the kitchen is at twenty one degrees. The front door is locked."
LONG = " ".join(f"Sentence number {n} of a long answer is spoken now." for n in range(1, 13))


def client(port: int, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=60)


def decoded(data: bytes, response_format: str) -> tuple[np.ndarray, int]:
    """Samples and rate of an answer, read by FFmpeg's demuxers (raw samples for pcm)."""
    if response_format == "pcm":
        return np.frombuffer(data, dtype="<i2"), 24000
    with av.open(io.BytesIO(data)) as container:
        rate = container.streams.audio[0].rate
        samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])
    return samples, rate


@pytest.mark.parametrize(("response_format", "content_type", "rate"), [
    ("mp3", "audio/mpeg", 24000), ("opus", "audio/ogg", 48000), ("aac", "audio/aac", 24000),
    ("flac", "audio/flac", 24000), ("wav", "audio/wav", 24000), ("pcm", "audio/pcm", 24000),
])  # fmt: skip
def test_every_format_streams_and_decodes_to_the_audio_spoken(start_server, tmp_path, response_format, content_type,
                                                               rate):  # fmt: skip
    server, port = start_web(start_server, tmp_path)
    with client(port).audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=HA_ANSWER, response_format=response_format
    ) as answer:
        assert answer.headers["content-type"] == content_type
        data = b"".join(answer.iter_bytes())
    samples, decoded_rate = decoded(data, response_format)
    assert decoded_rate == rate
    figures = asyncio.run(wait_for_figures(server, voice="en/joe"))
    assert figures["outcome"] == "finished" and figures["engines"] == ["piper"]
    # Encoders pad a frame or two at the ends (MP3, AAC): the length is the spoken audio's, within 0.1 s.
    assert abs(len(samples) / rate - figures["audio_s"]) < 0.1, (len(samples) / rate, figures["audio_s"])
    assert np.abs(samples.astype(np.float64)).max() > 0.05 * (1.0 if samples.dtype.kind == "f" else 32768)


def test_the_first_bytes_leave_long_before_the_synthesis_ends(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    for stream_format in ("audio", "sse"):
        began = time.monotonic()
        arrivals = []
        with client(port).audio.speech.with_streaming_response.create(
            model="tts-1", voice="en/joe", input=LONG, response_format="mp3",
            extra_body={"stream_format": stream_format},
        ) as answer:  # fmt: skip
            for piece in answer.iter_bytes():
                arrivals.append((time.monotonic() - began, piece))
        ended = arrivals[-1][0]
        assert arrivals[0][0] < ended / 4, (arrivals[0][0], ended)
        if stream_format == "sse":
            text = b"".join(piece for _, piece in arrivals).decode()
            assert text.count('"speech.audio.delta"') > 5 and text.rstrip().endswith("}")
            assert '"type": "speech.audio.done"' in text


@pytest.mark.slow
def test_a_recognizer_hears_the_words(start_server, tmp_path):
    from tests.recognizer import Listener, word_error_rate  # noqa: PLC0415 - loads Whisper

    server, port = start_web(start_server, tmp_path)
    data = client(port).audio.speech.create(model="tts-1-hd", voice="en/joe", input=HA_ANSWER, response_format="opus")
    samples, rate = decoded(data.content, "opus")
    heard = Listener().hear(np.clip(samples * 32768, -32768, 32767).astype(np.int16), rate)
    # Whisper tiny.en slips on a short word now and then ("is a 21 degrees"): one word in 17 at most.
    assert word_error_rate(HA_ANSWER, heard) <= 1 / 17, heard


def test_openai_names_map_to_voices_and_can_be_chosen(start_server, tmp_path):
    server, port = start_web(
        start_server, tmp_path, "--openai-voice", "nova=en/joe", "--openai-voice", "echo=de/default"
    )
    listed = requests.get(f"http://127.0.0.1:{port}/v1/audio/voices", timeout=10).json()
    assert listed["openai"]["nova"] == "en/joe" and listed["openai"]["echo"] == "de/default"
    assert listed["openai"]["alloy"] == listed["default"] == "en/joe"
    assert "de/default" in listed["voices"]
    client(port).audio.speech.create(model="whatever-model", voice="echo", input="Guten Morgen.", response_format="wav")
    assert asyncio.run(wait_for_figures(server, voice="de/default"))["engines"] == ["espeak"]
    models = {model.id for model in client(port).models.list().data}
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= models


def test_bad_requests_get_openai_errors(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path, "--max-text-chars", "500")
    speech = client(port).audio.speech
    cases = [
        ({"voice": "en/nobody", "input": "Hi."}, openai.BadRequestError, "voice-not-found"),
        ({"voice": "alloy", "input": "Hi.", "response_format": "ogg"}, openai.BadRequestError, "invalid-format"),
        ({"voice": "alloy", "input": "  "}, openai.BadRequestError, "empty-text"),
        ({"voice": "alloy", "input": "Hi.", "speed": 9}, openai.BadRequestError, "invalid-speed"),
        ({"voice": "alloy", "input": "x " * 400}, openai.APIStatusError, "text-too-long"),
    ]
    for arguments, kind, code in cases:
        with pytest.raises(kind) as raised:
            speech.create(model="tts-1", **arguments)
        assert raised.value.body["code"] == code and raised.value.body["message"], raised.value.body
        if code == "text-too-long":
            assert raised.value.status_code == 413
    huge = requests.post(f"http://127.0.0.1:{port}/v1/audio/speech", timeout=30,
                         json={"model": "tts-1", "voice": "alloy", "input": "a" * (10 * 1024 * 1024)})  # fmt: skip
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "body-too-large"
    not_json = requests.post(f"http://127.0.0.1:{port}/v1/audio/speech", data="input=hi", timeout=10)
    assert not_json.status_code == 400 and not_json.json()["error"]["type"] == "invalid_request_error"


def test_the_token_is_asked_for(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path, "--http-token", "s3cret")
    with pytest.raises(openai.AuthenticationError):
        client(port, "wrong").audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    with pytest.raises(openai.AuthenticationError):
        client(port, "wrong").models.list()
    answer = client(port, "s3cret").audio.speech.create(
        model="tts-1", voice="alloy", input="Hi.", response_format="wav"
    )
    assert len(answer.content) > 24000 * 2 * 0.2


def test_a_client_that_leaves_mid_answer_frees_its_place_and_stops_the_synthesis(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path, "--max-connections-per-peer", "1")
    with socket.create_connection(("127.0.0.1", port)) as raw:
        body = f'{{"model": "tts-1", "voice": "alloy", "response_format": "pcm", "input": "{LONG} {LONG}"}}'
        raw.sendall(f"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n{body}".encode())  # fmt: skip
        assert b"200 OK" in raw.recv(4096)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # a reset
    figures = asyncio.run(wait_for_figures(server, voice="en/joe", outcome="client gone"))
    assert figures["audio_s"] < 60  # stopped, not spoken to its end (48 sentences, about 2 minutes)
    status = requests.get(f"http://127.0.0.1:{port}/api/status", timeout=10).json()
    assert status["connections"] == 0
    # Its place is free: the one place per address serves the next request.
    assert client(port).audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="wav").content


def test_the_same_caps_as_wyoming_and_503_while_stopping(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path, "--max-connections-per-peer", "1", "--shutdown-grace", "5")

    async def hold_and_ask() -> tuple[openai.APIStatusError, openai.APIStatusError]:
        async with AsyncTcpClient("127.0.0.1", server.port) as wyoming:
            await wyoming.write_event(SynthesizeStart().event())  # an open stream holds this address's place
            await asyncio.sleep(0.3)
            with pytest.raises(openai.RateLimitError) as limited:
                await asyncio.to_thread(client(port).audio.speech.create, model="tts-1", voice="alloy", input="Hi.")
            server.process.send_signal(signal.SIGTERM)  # the stream keeps the server draining for 5 s
            await wait_for_log(server, "Waiting up to")
            with pytest.raises(openai.APIStatusError) as stopping:
                await asyncio.to_thread(client(port).audio.speech.create, model="tts-1", voice="alloy", input="Hi.")
            return limited.value, stopping.value

    limited, stopping = asyncio.run(hold_and_ask())
    assert limited.status_code == 429 and limited.body["code"] == "too-many-connections"
    assert stopping.status_code == 503 and stopping.body["code"] == "server-stopping"
