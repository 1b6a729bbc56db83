"""A real XTTS v2 checkpoint with random weights, in the on-disk layout of the real one.

`config.json` (the official values), `model.pth` (in either format), `vocab.json`
and `speakers_xtts.pth` are what the official download holds; the product loads
them through its normal loading code. Random weights prove loading, streaming
and protocol paths, not speech quality. `full_size=True` keeps the real
architecture's sizes (30 layers, 1024 channels) for honest timings.
"""

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from TTS.config.shared_configs import BaseDatasetConfig
from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig, XttsConfig
from TTS.tts.models.xtts import Xtts

XTTS_LANGUAGES = [
    "en",
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "pl",
    "tr",
    "ru",
    "nl",
    "cs",
    "ar",
    "zh-cn",
    "ja",
    "hu",
    "ko",
    "hi",
]
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


# The official XTTS v2 config.json (public copies agree), where it differs from XttsConfig's defaults.
XTTS_V2_MODEL_ARGS = {
    "gpt_layers": 30,
    "gpt_n_model_channels": 1024,
    "gpt_n_heads": 16,
    "gpt_number_text_tokens": 6681,
    "gpt_max_audio_tokens": 605,
    "gpt_max_text_tokens": 402,
    "gpt_max_prompt_tokens": 70,
    "gpt_num_audio_tokens": 1026,
    "gpt_start_audio_token": 1024,
    "gpt_stop_audio_token": 1025,
    "gpt_code_stride_len": 1024,
    "gpt_use_perceiver_resampler": True,
    "gpt_use_masking_gt_prompt_approach": True,
    "input_sample_rate": 22050,
    "output_sample_rate": 24000,
    "output_hop_length": 256,
    "decoder_input_dim": 1024,
    "d_vector_dim": 512,
    "cond_d_vector_in_each_upsampling_layer": True,
    "duration_const": 102400,
    "kv_cache": True,
}
XTTS_V2_INFERENCE = {
    "temperature": 0.75,
    "length_penalty": 1.0,
    "repetition_penalty": 5.0,
    "top_k": 50,
    "top_p": 0.85,
    "gpt_cond_len": 30,
    "gpt_cond_chunk_len": 4,
    "max_ref_len": 30,
    "sound_norm_refs": False,
}
# Those of them that the GPT's generate() takes.
XTTS_V2_SAMPLING = ("temperature", "top_p", "top_k", "repetition_penalty", "length_penalty")
# The tiny variant shrinks only these (the vocoder's input is the GPT's width, so it follows).
TINY = {"gpt_layers": 2, "gpt_n_model_channels": 64, "gpt_n_heads": 2, "gpt_max_audio_tokens": 48}


def xtts_v2_config(full_size: bool, max_audio_tokens: int | None = None, **inference) -> XttsConfig:
    """XTTS v2's config, tiny unless `full_size`; `inference` overrides its sampling settings."""
    config = XttsConfig()
    config.languages = list(XTTS_LANGUAGES)
    model_args = {**XTTS_V2_MODEL_ARGS, **({} if full_size else TINY)}
    if max_audio_tokens is not None:
        model_args["gpt_max_audio_tokens"] = max_audio_tokens
    model_args["decoder_input_dim"] = model_args["gpt_n_model_channels"]
    for name, value in model_args.items():
        setattr(config.model_args, name, value)
    for name, value in {**XTTS_V2_INFERENCE, **inference}.items():
        setattr(config, name, value)
    return config


def build_tiny_xtts(
    directory: Path,
    full_size: bool = False,
    seed: int = 0,
    max_audio_tokens: int | None = None,
    original_format: bool = False,
    **inference,
) -> Path:
    """Write the checkpoint files into `directory` and return it.

    Random weights rarely emit the stop token, so generation runs to
    `max_audio_tokens` (48 tokens tiny, XTTS's 605 full-size, unless given).
    `original_format` saves model.pth as the official download holds it: the
    config pickled as an XttsConfig object, its argument classes under the
    module they lived in then. Otherwise coqui-tts's format: the config as a dict.
    """
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    _train_vocab(directory / "vocab.json")
    config = xtts_v2_config(full_size, max_audio_tokens, **inference)
    model = Xtts(config)
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer  # noqa: PLC0415

    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(directory / "vocab.json"))
    model.init_models()
    if original_format:
        _save_original(model.state_dict(), config, directory / "model.pth")
    else:
        torch.save({"model": model.state_dict(), "config": config.to_dict()}, directory / "model.pth")
    (directory / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    dim = config.model_args.gpt_n_model_channels
    speakers = {
        name: {
            "gpt_cond_latent": torch.randn(1, 32, dim),
            "speaker_embedding": torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1),
        }
        for name in STUDIO_SPEAKERS
    }
    torch.save(speakers, directory / "speakers_xtts.pth")
    return directory


def _save_original(state_dict: dict, config: XttsConfig, path: Path) -> None:
    """model.pth as the original download pickles it: the XttsConfig object itself."""
    config.datasets = [BaseDatasetConfig(formatter="coqui", dataset_name="xtts", path="")]
    moved = (XttsArgs, XttsAudioConfig)
    homes = [cls.__module__ for cls in moved]
    try:
        for cls in moved:
            cls.__module__ = "TTS.tts.models.xtts"  # where they lived when XTTS v2 was released
        torch.save({"model": state_dict, "config": config}, path)
    finally:
        for cls, home in zip(moved, homes, strict=True):
            cls.__module__ = home
