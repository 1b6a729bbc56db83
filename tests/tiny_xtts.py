"""A real XTTS v2 checkpoint with random weights, in the on-disk layout of the real one.

`config.json`, `model.pth` ({"model": state_dict, "config": ...}), `vocab.json`
and `speakers_xtts.pth` are what the official download holds; the product loads
them through its normal loading code. Random weights prove loading, streaming
and protocol paths, not speech quality. `full_size=True` keeps the real
architecture's sizes (30 layers, 1024 channels) for honest timings.
"""

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts

XTTS_LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "ja", "hu", "ko", "hi"]
STUDIO_SPEAKERS = ["Ana Florence", "Claribel Dervla"]
_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world this is a test of the streaming server",
    "le renard brun saute par dessus le chien paresseux",
    "der schnelle braune fuchs springt über den faulen hund",
    "el veloz zorro marrón salta sobre el perro perezoso",
    "twenty three point five degrees, the kitchen lights are on",
]


def _train_vocab(path: Path) -> None:
    special = ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{lang}]" for lang in XTTS_LANGUAGES]
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=special)
    # Every printable ASCII character and Latin-1 letter is in the alphabet, so no text is [UNK] only.
    alphabet = "".join(chr(c) for c in range(33, 127)) + "àâäçéèêëîïôöùûüÿñßáíóú"
    tokenizer.train_from_iterator(_CORPUS + [alphabet], trainer=trainer)
    tokenizer.save(str(path))


def build_tiny_xtts(
    directory: Path, full_size: bool = False, seed: int = 0, max_audio_tokens: int | None = None
) -> Path:
    """Write the checkpoint files into `directory` and return it.

    Random weights rarely emit the stop token, so generation runs to
    `max_audio_tokens` (48 tokens tiny, XTTS's 605 full-size, unless given).
    """
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    _train_vocab(directory / "vocab.json")
    config = XttsConfig()
    config.languages = list(XTTS_LANGUAGES)
    args = config.model_args
    args.gpt_use_perceiver_resampler = True
    args.gpt_num_audio_tokens = 1026
    args.gpt_start_audio_token = 1024
    args.gpt_stop_audio_token = 1025
    args.gpt_max_audio_tokens = 605
    if not full_size:
        args.gpt_layers = 2
        args.gpt_n_model_channels = 64
        args.gpt_n_heads = 2
        # A short cap keeps random-weight generation (which rarely stops) quick.
        args.gpt_max_audio_tokens = 48
    if max_audio_tokens is not None:
        args.gpt_max_audio_tokens = max_audio_tokens
    args.decoder_input_dim = args.gpt_n_model_channels
    model = Xtts(config)
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer  # noqa: PLC0415

    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(directory / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, directory / "model.pth")
    (directory / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    dim = args.gpt_n_model_channels
    speakers = {
        name: {
            "gpt_cond_latent": torch.randn(1, 32, dim),
            "speaker_embedding": torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1),
        }
        for name in STUDIO_SPEAKERS
    }
    torch.save(speakers, directory / "speakers_xtts.pth")
    return directory
