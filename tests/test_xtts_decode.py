"""The batch's decode step computes what HF's GPT-2 forward does (tiny random-weight XTTS, fp32 and int8)."""

import copy
import logging

import pytest
import torch
from transformers import DynamicCache

from wyoming_streamtts import xtts_decode
from wyoming_streamtts.xtts_decode import DecodeStep, KeyValues
from wyoming_streamtts.xtts_model import load_model
from wyoming_streamtts.xtts_precision import apply_precision


@pytest.fixture(scope="module")
def stack(tiny_xtts):
    return load_model(tiny_xtts, "cpu", False)[0].gpt.gpt


def _prompt(stack, length: int) -> DynamicCache:
    """HF's cache after a random prompt of `length` positions."""
    cache = DynamicCache()
    stack(inputs_embeds=torch.randn(1, length, stack.config.n_embd), past_key_values=cache, use_cache=True)
    return cache


@torch.inference_mode()
def test_steps_equal_hf_forward_while_the_cache_grows(stack):
    torch.manual_seed(0)
    theirs = _prompt(stack, 40)
    ours, step = KeyValues.of(copy.deepcopy(theirs)), DecodeStep(stack)
    assert not step.scripted  # fp32 runs in Python: TorchScript would ignore the autocast of fp16 and bf16
    for _ in range(40, 200):  # the cache's room runs out, and grows, three times
        embeds = torch.randn(1, 1, stack.config.n_embd)
        expected = stack(inputs_embeds=embeds, past_key_values=theirs, use_cache=True).last_hidden_state
        got = step(embeds, ours)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert ours.length == 200 and ours.keys[0].shape[2] >= 200


@pytest.mark.parametrize("newcomer", ["longer", "shorter"])
@torch.inference_mode()
def test_rows_of_different_lengths_each_attend_to_their_own(stack, newcomer):
    torch.manual_seed(1)
    short, long = _prompt(stack, 30), _prompt(stack, 45)
    if newcomer == "longer":
        both = KeyValues.of(copy.deepcopy(short)).stacked(KeyValues.of(copy.deepcopy(long)))
    else:  # the rows in the other order, then swapped back
        both = KeyValues.of(copy.deepcopy(long)).stacked(KeyValues.of(copy.deepcopy(short))).kept([1, 0])
    assert both.padding == [15, 0]  # the short row, left-padded
    step = DecodeStep(stack)
    for _ in range(70):
        embeds = torch.randn(2, 1, stack.config.n_embd)
        expected = [
            stack(inputs_embeds=embeds[row : row + 1], past_key_values=cache, use_cache=True).last_hidden_state
            for row, cache in enumerate((short, long))
        ]
        got = step(embeds, both)
        torch.testing.assert_close(got, torch.cat(expected), rtol=1e-5, atol=1e-5)
    # The short row alone again, its padding cut: it goes on as before.
    alone = both.kept([0])
    assert alone.padding == [0] and alone.length == 30 + 70
    embeds = torch.randn(1, 1, stack.config.n_embd)
    expected = stack(inputs_embeds=embeds, past_key_values=short, use_cache=True).last_hidden_state
    got = step(embeds, alone)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def int8_stack(tiny_xtts):
    model = load_model(tiny_xtts, "cpu", False)[0]
    apply_precision(model, "int8", "cpu")
    return model.gpt.gpt


@torch.inference_mode()
def test_an_int8_stack_steps_through_the_same_int8_kernels_as_its_layers(int8_stack):
    """The step calls a dynamic int8 Linear's kernel itself (its module's Python costs 2-3 ms a step at full
    size): with the module's own settings, so every layer's output is the module's, bit for bit."""
    torch.manual_seed(2)
    for block, ours in zip(int8_stack.h, DecodeStep(int8_stack).stack.blocks, strict=True):
        layers = (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj)
        for theirs, mine in zip(layers, (ours.c_attn, ours.c_proj, ours.c_fc, ours.mlp_proj), strict=True):
            assert isinstance(theirs, torch.ao.nn.quantized.dynamic.Linear) and mine is not theirs
            x = torch.randn(3, 1, theirs.in_features) * 4
            assert torch.equal(mine(x), theirs(x))


@torch.inference_mode()
def test_an_int8_step_as_torchscript_is_the_step_in_python(int8_stack, monkeypatch, caplog):
    """TorchScript runs an int8 step (~3 ms faster at full size); where it cannot, Python runs the same step and
    the log says so. Both give the same hidden states, bit for bit, while rows join and leave and the cache grows."""
    scripted = DecodeStep(int8_stack)

    def refuse(_module):
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(torch.jit, "script", refuse)
    with caplog.at_level(logging.WARNING, logger=xtts_decode.__name__):
        in_python = DecodeStep(int8_stack)
    assert scripted.scripted and not in_python.scripted
    assert "cannot run as TorchScript (RuntimeError: no TorchScript here); it runs in Python" in caplog.text
    torch.manual_seed(3)
    short, long = _prompt(int8_stack, 30), _prompt(int8_stack, 45)
    caches = [KeyValues.of(copy.deepcopy(short)) for _ in range(2)]
    for step in range(150):  # the cache's room runs out, and grows; a second row joins at 20, the first leaves at 90
        if step == 20:
            caches = [cache.stacked(KeyValues.of(copy.deepcopy(long))) for cache in caches]
        if step == 90:
            caches = [cache.kept([1]) for cache in caches]
        embeds = torch.randn(caches[0].keys[0].shape[0], 1, int8_stack.config.n_embd)
        assert torch.equal(scripted(embeds, caches[0]), in_python(embeds, caches[1]))
    assert caches[0].length == caches[1].length == 45 + 70 + 60
