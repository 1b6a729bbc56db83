"""gTTS: Google Translate's voices over HTTPS, decoded from MP3 in-process."""

import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import miniaudio
from gtts import gTTS, gTTSError
from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .engine import Engine, EngineError, iterate_in_executor
from .languages import LANGUAGES

_LOGGER = logging.getLogger(__name__)


class GttsEngine(Engine):
    """One HTTPS request per ≤100-character piece; each piece is played as it arrives."""

    name = "gtts"
    description = "Google Translate text-to-speech (needs the internet)"
    attribution = Attribution(name="gTTS", url="https://github.com/pndurette/gTTS")
    languages = frozenset(LANGUAGES)

    def __init__(self, tld: str = "com", timeout: float = 10.0, max_workers: int = 8) -> None:
        self.tld = tld
        self.timeout = timeout
        # Requests wait on the network, not the CPU: several may run at once.
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gtts")

    def synthesize(self, text: str, language: str, speaker: str) -> AsyncIterator[AudioChunk]:
        lang = LANGUAGES[language].gtts
        return iterate_in_executor(self._executor, lambda: self._pieces(text, lang))

    def _pieces(self, text: str, lang: str) -> Iterator[AudioChunk]:
        # gTTS waits forever by default; a dead network must end in an error.
        tts = gTTS(text, lang=lang, tld=self.tld, timeout=self.timeout)
        try:
            for mp3 in tts.stream():
                decoded = miniaudio.mp3_read_s16(mp3)
                yield AudioChunk(
                    rate=decoded.sample_rate,
                    width=2,
                    channels=decoded.nchannels,
                    audio=decoded.samples.tobytes(),
                )
        except gTTSError as err:
            # gTTS guesses at causes; the network error it wraps says what happened.
            cause = f" ({err.__context__})" if err.__context__ else ""
            raise EngineError(f"Google TTS request failed: {err}{cause}") from err
        except miniaudio.DecodeError as err:
            raise EngineError(f"Google TTS sent audio that could not be decoded: {err}") from err

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
