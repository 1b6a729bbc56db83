"""The batch's decode step computes what HF's GPT-2 forward does (tiny random-weight XTTS, fp32 and int8)."""

import copy

import pytest
import torch
from transformers import DynamicCache

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


@torch.inference_mode()
def test_an_int8_stack_steps_through_the_same_int8_kernels_as_its_layers(tiny_xtts):
    """The step calls a dynamic int8 Linear's kernel itself (its module's Python costs 2-3 ms a step at full
    size): with the module's own settings, so every layer's output is the module's, bit for bit."""
    model = load_model(tiny_xtts, "cpu", False)[0]
    apply_precision(model, "int8", "cpu")
    stack = model.gpt.gpt
    torch.manual_seed(2)
    for block, ours in zip(stack.h, DecodeStep(stack).blocks, strict=True):
        layers = (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj)
        for theirs, mine in zip(layers, (ours.c_attn, ours.c_proj, ours.c_fc, ours.mlp_proj), strict=True):
            assert isinstance(theirs, torch.ao.nn.quantized.dynamic.Linear) and mine is not theirs
            x = torch.randn(3, 1, theirs.in_features) * 4
            assert torch.equal(mine(x), theirs(x))
