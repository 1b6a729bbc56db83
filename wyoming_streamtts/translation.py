"""Translation into the voice's language with NLLB-200, between splitting and speech.

Two backends behind one method: transformers (fp32 on CPU, bf16 on CUDA) and
CTranslate2 (int8 on CPU, int8_float16 on CUDA). The stage caches results,
detects the source language when asked to, and leaves alone what needs no
translation.
"""

import asyncio
import importlib.util
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Protocol

from .detection import WELL_TOLD_APART, LanguageDetector
from .files import unreadable
from .languages import LANGUAGES, normalize_language

_LOGGER = logging.getLogger(__name__)

DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
# Copied next to a converted CTranslate2 model, so it carries its own tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model")


class TranslationError(Exception):
    """The translator cannot start or cannot translate; the message says why."""


class Backend(Protocol):
    device: str

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate between FLORES-200 codes, greedily. Blocking."""


def _max_new_tokens(input_tokens: int) -> int:
    # Translations run longer than their source in some languages; bound the worst case.
    return min(512, 2 * input_tokens + 16)


class TransformersBackend:
    """NLLB through transformers' AutoModelForSeq2SeqLM."""

    def __init__(self, model: str, device: str, download: bool) -> None:
        try:
            import torch  # noqa: PLC0415 - heavy, only when this backend is chosen
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer  # noqa: PLC0415
        except ImportError as err:
            raise TranslationError(f"--translator transformers needs the [nllb-torch] extra: {err}") from err

        self._torch = torch
        self.device = device
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=not download)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model, local_files_only=not download, dtype=dtype)
        except (OSError, ValueError) as err:
            raise TranslationError(_load_failure(model, download, err)) from err
        self.model.to(device).eval()

    def translate(self, text: str, source: str, target: str) -> str:
        self.tokenizer.src_lang = source
        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            output = self.model.generate(
                **inputs,
                forced_bos_token_id=self.tokenizer.convert_tokens_to_ids(target),
                num_beams=1,
                do_sample=False,
                max_new_tokens=_max_new_tokens(inputs["input_ids"].shape[-1]),
            )
        return str(self.tokenizer.decode(output[0], skip_special_tokens=True))


class Ct2Backend:
    """NLLB converted for CTranslate2, quantized to int8.

    Tokenized with `tokenizers` alone: transformers imports PyTorch wherever it is installed,
    seconds at every start, and this backend needs neither.
    """

    def __init__(self, model_dir: Path, device: str, threads: int = 0) -> None:
        import ctranslate2  # noqa: PLC0415
        from tokenizers import Tokenizer  # noqa: PLC0415

        self.device = device
        compute_type = "int8_float16" if device == "cuda" else "int8"
        tokenizer = model_dir / "tokenizer.json"
        if not tokenizer.is_file():
            raise TranslationError(f"{tokenizer} is missing: convert with --copy_files tokenizer.json")
        try:
            self.translator = ctranslate2.Translator(
                str(model_dir), device=device, compute_type=compute_type, intra_threads=threads
            )
            self.tokenizer = Tokenizer.from_file(str(tokenizer))
        except (OSError, RuntimeError, ValueError) as err:
            raise TranslationError(f"Cannot load the CTranslate2 model from {model_dir}: {err}") from err
        # A vocabulary map (CTranslate2's vmap.txt beside the model) restricts each step's output layer to the
        # target pieces its source may need: 256k rows of NLLB's output layer are about half of a step's cost.
        self.vmap = (model_dir / "vmap.txt").is_file()
        if self.vmap:
            _LOGGER.info("Translation's output vocabulary restricted by %s", model_dir / "vmap.txt")

    def tokens(self, text: str, source: str) -> list[str]:
        """NLLB's input: the source language's token, the text's pieces, end of sentence."""
        return [source, *self.tokenizer.encode(text, add_special_tokens=False).tokens, "</s>"]

    def translate(self, text: str, source: str, target: str) -> str:
        tokens = self.tokens(text, source)
        result = self.translator.translate_batch(
            [tokens],
            target_prefix=[[target]],
            beam_size=1,
            max_decoding_length=_max_new_tokens(len(tokens)),
            use_vmap=self.vmap,
        )
        output = result[0].hypotheses[0][1:]  # without the forced language token
        ids = [self.tokenizer.token_to_id(token) for token in output]
        return self.tokenizer.decode([i for i in ids if i is not None], skip_special_tokens=True)


def convert_to_ct2(source: Path, destination: Path) -> Path:
    """Convert a transformers NLLB checkpoint to CTranslate2 int8 (once)."""
    if (destination / "model.bin").is_file():
        return destination
    from ctranslate2.converters import TransformersConverter  # noqa: PLC0415

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        raise TranslationError(
            f"{source} is not converted for CTranslate2, and converting it needs PyTorch, which this install "
            "leaves out: convert it once where the [nllb-torch] extra is installed (README, Translation) "
            "and pass the result as --nllb-model"
        )
    _LOGGER.info("Converting %s to CTranslate2 int8 in %s", source, destination)
    copy = [name for name in TOKENIZER_FILES if (source / name).is_file()]
    try:
        TransformersConverter(str(source), copy_files=copy).convert(str(destination), quantization="int8", force=True)
    except Exception as err:  # the converter raises many kinds
        raise TranslationError(f"Cannot convert {source} for CTranslate2: {err}") from err
    return destination


def _load_failure(model: str, download: bool, err: Exception) -> str:
    path = Path(model).expanduser()
    if path.exists() or download:
        return f"Cannot load the NLLB model {model}: {err}"
    if path.is_absolute() or model.startswith((".", "~")):
        return f"NLLB model folder {model} does not exist"
    return (
        f"NLLB model {model!r} is neither a local folder nor downloaded. Pass --nllb-model DIR, "
        "or add --download to fetch it"
    )


def create_backend(kind: str, model: str, device: str, download: bool, data_dir: Path) -> Backend:
    """The backend named on the command line, loaded (raises TranslationError)."""
    if kind == "transformers":
        return TransformersBackend(model, device, download)
    path = Path(model).expanduser()
    if problem := unreadable(path):
        raise TranslationError(f"cannot read the NLLB model: {problem}")
    if not path.is_dir():
        try:
            from huggingface_hub import snapshot_download  # noqa: PLC0415

            path = Path(snapshot_download(model, local_files_only=not download))
        except Exception as err:  # offline, missing or bad id all end here
            raise TranslationError(_load_failure(model, download, err)) from err
    if not (path / "model.bin").is_file():
        path = convert_to_ct2(path, data_dir / "nllb-ct2" / f"{path.name}-int8")
    if device == "mps":
        _LOGGER.info("CTranslate2 cannot use Apple GPUs: NLLB runs on the CPU (--translator transformers uses MPS)")
    return Ct2Backend(path, device if device == "cuda" else "cpu")


class Translation(NamedTuple):
    """A sentence in the voice's language, and how it got there (for the request's figures): translated,
    cached, or untouched because it is in the same language, has no words, or NLLB lacks a language."""

    text: str
    how: str


class Translator:
    """The stage: into the voice's language, cached, one sentence at a time off the loop."""

    def __init__(self, backend: Backend, source: str = "en", cache_size: int = 512) -> None:
        self.backend = backend
        self.source = source if source == "auto" else normalize_language(source)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate")
        self._detector = LanguageDetector(WELL_TOLD_APART) if source == "auto" else None
        self.translated = 0
        self.cache_hits = 0

    async def translate(self, text: str, target: str) -> Translation:
        """`text` in language `target`; untouched when it is already, or has no words."""
        if not any(char.isalpha() for char in text):
            return Translation(text, "no words")  # numbers, times, symbols: the engine reads them in its own language
        loop = asyncio.get_running_loop()
        source: str | None = self.source
        if self._detector is not None:
            source = await loop.run_in_executor(self._executor, self._detector.detect, text)
        if source is None or source == target:
            return Translation(text, "same language")
        source_code, target_code = LANGUAGES[source].flores, LANGUAGES[target].flores
        if source_code is None or target_code is None:
            _LOGGER.debug("NLLB does not translate %s->%s: %r spoken as it is", source, target, text)
            return Translation(text, "not in NLLB")
        key = (text, source, target)
        if key in self._cache:
            self._cache.move_to_end(key)
            self.cache_hits += 1
            _LOGGER.debug("Translation cache hit (%d hits, %d translated)", self.cache_hits, self.translated)
            return Translation(self._cache[key], "cached")
        result = await loop.run_in_executor(self._executor, self.backend.translate, text, source_code, target_code)
        self.translated += 1
        _LOGGER.debug("Translated %s->%s: %r -> %r", source, target, text, result)
        self._cache[key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return Translation(result, "translated")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
