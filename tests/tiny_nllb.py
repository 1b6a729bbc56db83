"""A real NLLB-200 (M2M100) checkpoint with random weights, saved as transformers saves it.

The SentencePiece model is trained here, offline, on a few sentences; the
tokenizer carries NLLB's 202 FLORES-200 language codes. `full_size=True` keeps
the 600M model's shapes (vocabulary 256206, d_model 1024, 12+12 layers).
"""

import tempfile
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world this is a test of the translator",
    "the kitchen lights are on and the door is locked",
    "le renard brun saute par dessus le chien",
    "bonjour tout le monde les lumières sont allumées",
    "der schnelle braune fuchs springt über den hund",
    "hola mundo las luces de la cocina están encendidas",
]


def build_tiny_nllb(directory: Path, full_size: bool = False, seed: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as work:
        corpus = Path(work) / "corpus.txt"
        corpus.write_text("\n".join(_CORPUS * 10))
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(work) / "spm"), vocab_size=160, model_type="bpe",
            character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0, pad_id=-1, minloglevel=2,
        )  # fmt: skip
        source = Path(work) / "source"
        source.mkdir()
        (source / "sentencepiece.bpe.model").write_bytes((Path(work) / "spm.model").read_bytes())
        (source / "tokenizer_config.json").write_text('{"tokenizer_class": "NllbTokenizer"}')
        tokenizer = NllbTokenizer.from_pretrained(str(source), extra_special_tokens=FAIRSEQ_LANGUAGE_CODES)
    sizes = (
        {"vocab_size": 256206, "d_model": 1024, "encoder_layers": 12, "decoder_layers": 12,
         "encoder_attention_heads": 16, "decoder_attention_heads": 16,
         "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096}
        if full_size
        else {"vocab_size": len(tokenizer), "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
              "encoder_attention_heads": 2, "decoder_attention_heads": 2,
              "encoder_ffn_dim": 64, "decoder_ffn_dim": 64}
    )  # fmt: skip
    config = M2M100Config(
        **sizes,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
