"""NLLB-600M architecture, random weights: transformers fp32 vs CTranslate2 int8, with and without a vocabulary
map restricting the output layer, and the first token alone (encoder and one step).

A fixed 12-token input and exactly 16 output tokens, greedy, on this CPU, in
the same run; medians of several runs.
"""

import statistics
import time
from pathlib import Path

import torch
from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

from bench.xtts import CACHE
from wyoming_streamtts.translation import Ct2Backend, convert_to_ct2

INPUT_TOKENS = 12
OUTPUT_TOKENS = 16
VMAP_PIECES = 16000


def full_size_nllb() -> Path:
    """The 600M shapes (vocabulary 256206, d_model 1024, 12+12 layers), saved as transformers does."""
    folder = CACHE / "nllb-600m-random"
    if (folder / "config.json").is_file():
        return folder
    # A synthetic vocabulary of NLLB's size: timings depend on its size, not its pieces.
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({f"▁w{i}": i + 4 for i in range(256206 - 4 - len(FAIRSEQ_LANGUAGE_CODES) - 1)})
    tokenizer = NllbTokenizer(vocab=vocab, merges=[], extra_special_tokens=FAIRSEQ_LANGUAGE_CODES)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=1024, encoder_layers=12, decoder_layers=12,
        encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096,
        max_position_embeddings=1024, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, scale_embedding=True,
    )  # fmt: skip
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _with_vmap(model: Path, pieces: int) -> Path:
    """The converted model beside a vocabulary map that allows `pieces` target pieces whatever the source: a
    stand-in of a real map's size (a lexical map allows a few thousand for a sentence), not of its content."""
    folder = model.with_name(f"{model.name}-vmap{pieces}")
    folder.mkdir(exist_ok=True)
    for path in model.iterdir():
        if not (folder / path.name).exists():
            (folder / path.name).symlink_to(path)
    (folder / "vmap.txt").write_text("\t" + " ".join(f"▁w{i}" for i in range(pieces)) + "\n", encoding="utf-8")
    return folder


def translation_figures(runs: int = 5, threads: int = 2) -> dict:
    folder = full_size_nllb()
    torch.set_num_threads(threads)
    tokenizer = NllbTokenizer.from_pretrained(folder)
    source, target = "eng_Latn", "fra_Latn"
    ids = [tokenizer.convert_tokens_to_ids(source)] + list(range(100, 100 + INPUT_TOKENS - 2)) + [2]
    tokens = tokenizer.convert_ids_to_tokens(ids)

    model = M2M100ForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    forced = tokenizer.convert_tokens_to_ids(target)

    def transformers_once() -> int:
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]), forced_bos_token_id=forced, num_beams=1, do_sample=False,
                min_new_tokens=OUTPUT_TOKENS, max_new_tokens=OUTPUT_TOKENS,
            )  # fmt: skip
        return out.shape[-1]

    converted = convert_to_ct2(folder, CACHE / "nllb-600m-random-ct2-int8")
    ct2 = Ct2Backend(converted, "cpu", threads=threads)
    ct2_vmap = Ct2Backend(_with_vmap(converted, VMAP_PIECES), "cpu", threads=threads)

    def ct2_run(backend: Ct2Backend, output_tokens: int = OUTPUT_TOKENS) -> int:
        result = backend.translator.translate_batch(
            [tokens], target_prefix=[[target]], beam_size=1, use_vmap=backend.vmap,
            min_decoding_length=output_tokens + 1, max_decoding_length=output_tokens + 1,
        )  # fmt: skip
        return len(result[0].hypotheses[0])

    figures = {}
    for name, once in (
        ("transformers_fp32", transformers_once),
        ("ctranslate2_int8", lambda: ct2_run(ct2)),
        ("ctranslate2_int8_first_token", lambda: ct2_run(ct2, 1)),
        ("ctranslate2_int8_vmap", lambda: ct2_run(ct2_vmap)),
        ("ctranslate2_int8_vmap_first_token", lambda: ct2_run(ct2_vmap, 1)),
    ):
        once()  # warm-up
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            produced = once()
            times.append(time.perf_counter() - began)
        figures[name] = {"median_s": statistics.median(times), "runs": times, "output_tokens": produced}
    figures["speedup"] = figures["transformers_fp32"]["median_s"] / figures["ctranslate2_int8"]["median_s"]
    figures["threads"] = threads
    return figures
