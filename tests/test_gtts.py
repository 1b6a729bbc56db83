"""The gtts engine in the real server process, against a local fake of Google."""

import pytest

from tests.conftest import (
    assert_well_formed,
    describe,
    free_port,
    one_shot,
    rms,
    stream_request,
    wait_for_figures,
)
from tests.fake_google import FakeGoogle

TEXT = "Good morning. The weather today is sunny with a light breeze from the west."


@pytest.fixture
def google():
    fake = FakeGoogle()
    yield fake
    fake.close()


async def test_speech_from_google_is_decoded_and_resampled(start_server, google):
    server = start_server("--engine", "gtts", env=google.trusted_env)
    reply = await one_shot(server.port, TEXT, "fr/default")
    assert_well_formed(reply, streaming=False)
    # One request per sentence, in the voice's language (gTTS's code for it).
    assert [lang for _, lang in google.requests] == ["fr", "fr"]
    assert "".join(text for text, _ in google.requests).replace(" ", "") in TEXT.replace(" ", "")
    # The fake's MP3 is 22.05 kHz: read at its own rate and resampled, the
    # length in seconds is kept (MP3 framing adds a few tens of ms per piece).
    assert abs(reply.seconds - google.seconds_sent) < 0.2
    assert rms(reply.samples) > 1000


async def test_chinese_voice_uses_googles_code(start_server, google):
    server = start_server("--engine", "gtts", env=google.trusted_env)
    reply = await one_shot(server.port, "你好。", "zh-cn/default")
    assert_well_formed(reply, streaming=False)
    assert google.requests == [("你好。", "zh-CN")]


async def test_streaming_input_through_gtts(start_server, google):
    server = start_server("--engine", "gtts", env=google.trusted_env)
    reply = await stream_request(server.port, TEXT, "en/default", piece=5)
    assert_well_formed(reply, streaming=True)
    assert len(google.requests) == 2


async def test_google_error_gives_error_event_and_closes(start_server, google):
    google.mode = "error"
    server = start_server("--engine", "gtts", "--fallback", "none", env=google.trusted_env)
    reply = await one_shot(server.port, TEXT, "en/default")
    assert [e.code for e in reply.errors] == ["engine-failed"]
    assert "Google" in reply.errors[0].text
    assert "audio-chunk" not in reply.types


async def test_no_network_gives_error_not_a_hang(start_server):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    server = start_server("--engine", "gtts", "--fallback", "none", env={"HTTPS_PROXY": closed, "https_proxy": closed})
    reply = await one_shot(server.port, TEXT, "en/default")
    assert [e.code for e in reply.errors] == ["engine-failed"]
    assert "connect" in reply.errors[0].text.lower()


async def test_silent_network_times_out_into_an_error(start_server, google):
    google.mode = "hang"
    server = start_server("--engine", "gtts", "--gtts-timeout", "1", "--fallback", "none", env=google.trusted_env)
    reply = await one_shot(server.port, TEXT, "en/default")
    assert [e.code for e in reply.errors] == ["engine-failed"]
    assert "timed out" in reply.errors[0].text
    await describe(server.port)  # the server is still there for other clients


async def test_an_untrusted_certificate_is_never_heard(start_server, google):
    # A man in the middle answering for Google with a certificate nobody trusts.
    server = start_server("--engine", "gtts", "--fallback", "none", env=google.proxy_env)
    reply = await one_shot(server.port, TEXT, "en/default")
    assert [e.code for e in reply.errors] == ["engine-failed"]
    assert "CERTIFICATE_VERIFY_FAILED" in reply.errors[0].text
    assert "audio-chunk" not in reply.types
    assert google.requests == []  # the text never reached it either

    # With the chain, the offline voice speaks instead of the impostor.
    chained = start_server("--engine", "gtts", env=google.proxy_env)
    spoken = await one_shot(chained.port, TEXT, "en/default")
    assert_well_formed(spoken, streaming=False)
    assert google.requests == []
    await wait_for_figures(chained, voice="en/default", language="en", engines=["espeak"])


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
async def test_a_ca_named_in_the_environment_is_trusted(start_server, google, variable):
    unset = {name: "" for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
    env = {**google.proxy_env, **unset, variable: google.trusted_env[variable]}
    server = start_server("--engine", "gtts", "--fallback", "none", env=env)
    reply = await one_shot(server.port, TEXT, "en/default")
    assert_well_formed(reply, streaming=False)
    assert len(google.requests) == 2 and rms(reply.samples) > 1000
