"""gTTS: Google Translate's voices over verified HTTPS, decoded from MP3 in-process.

gTTS knows the language table, how to cut text into pieces and how to build each
request body; its own `stream()` sends them with TLS verification off (and silences
urllib3's warning for the whole process), so the requests are sent here instead.
"""

import asyncio
import base64
import io
import logging
import os
import re
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor

import requests
from gtts import gTTS
from gtts.lang import tts_langs
from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .engine import Engine, EngineError, iterate_in_executor
from .languages import engine_codes
from .phonemes import as_words
from .recordings import RecordingError, decode, pcm16

_LOGGER = logging.getLogger(__name__)

# The batchexecute answer carries the MP3 as base64 inside an escaped JSON string.
_AUDIO = re.compile(r'jQ1olc","\[\\"(.*?)\\"]')
# To reach Google, through a proxy too (TCP, the proxy's CONNECT, TLS): where it is firewalled, or a
# proxy takes connections and never answers, a request waits this long, not the answer's --gtts-timeout.
CONNECT_TIMEOUT_S = 1.5


class GttsEngine(Engine):
    """One HTTPS request per ≤100-character piece; each piece is played as it arrives."""

    name = "gtts"
    says_sentences_whole = True
    description = "Google Translate text-to-speech (needs the internet)"
    attribution = Attribution(name="gTTS", url="https://github.com/pndurette/gTTS")

    def __init__(self, tld: str = "com", timeout: float = 10.0, max_workers: int = 8) -> None:
        self._codes = engine_codes(tts_langs())  # gTTS's own table: `he` is its `iw`, `nb` its `no`
        self.languages = frozenset(self._codes)
        self.tld = tld
        self.timeout = timeout
        self.url = f"https://translate.google.{tld}/_/TranslateWebserverUi/data/batchexecute"
        # Requests wait on the network, not the CPU: several may run at once.
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gtts")

    def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        lang = self._codes[language]
        return iterate_in_executor(self._executor, lambda: self._pieces(as_words(text), lang))

    def _pieces(self, text: str, lang: str) -> Iterator[AudioChunk]:
        bodies = gTTS(text, lang=lang, tld=self.tld).get_bodies()
        with requests.Session() as session:
            for body in bodies:
                mp3 = self._request(session, body)
                try:
                    decoded = decode(io.BytesIO(mp3))
                except RecordingError as err:
                    raise EngineError(f"Google TTS sent audio that could not be decoded: {err}") from err
                yield AudioChunk(rate=decoded.rate, width=2, channels=1, audio=pcm16(decoded))

    def _request(self, session: requests.Session, body: str) -> bytes:
        """One piece's MP3, over verified TLS."""
        try:
            # session.post, not send(): it applies HTTPS_PROXY and NO_PROXY from the environment.
            response = session.post(
                self.url,
                data=body,
                headers=gTTS.GOOGLE_TTS_HEADERS,
                timeout=(CONNECT_TIMEOUT_S, self.timeout),
                verify=_verify(),
            )
            response.raise_for_status()
        except requests.RequestException as err:
            raise EngineError(f"Google TTS request failed: {err}") from err
        found = _AUDIO.search(response.text)
        if found is None:
            raise EngineError("Google TTS answered without audio (the text may not be speakable in this language)")
        return base64.b64decode(found.group(1))

    async def reachable(self) -> bool:
        """Whether Google answers at all: a HEAD of its home page (no text is sent), any HTTP answer."""
        url = f"https://translate.google.{self.tld}/"
        try:
            await asyncio.to_thread(requests.head, url, timeout=CONNECT_TIMEOUT_S, verify=_verify())
        except requests.RequestException:
            return False
        return True

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _verify() -> str | bool:
    """TLS is always verified: against REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE, which requests reads itself) or
    SSL_CERT_FILE when set, e.g. to add a corporate proxy's CA; else against the trust store requests ships."""
    named_for_requests = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return True if named_for_requests else os.environ.get("SSL_CERT_FILE") or True
