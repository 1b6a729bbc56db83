"""Concurrent sentences share the GPT's decode steps (tiny random-weight XTTS, greedy: top_k 1)."""

import asyncio
import threading

import pytest
import torch

from tests.conftest import write_wav
from tests.tiny_xtts import XTTS_V2_SAMPLING
from wyoming_streamtts.xtts_batch import GptBatch
from wyoming_streamtts.xtts_model import inference_settings, load_model
from wyoming_streamtts.xtts_stream import SentenceAudio, text_tokens
from wyoming_streamtts.xtts_worker import XttsWorker

TEXTS = ["Turn the lights on.", "The washing machine has finished its long cycle.", "Good night."]


@pytest.fixture(scope="module")
def model(tiny_xtts):
    return load_model(tiny_xtts, "cpu", False)[0]


@pytest.fixture(scope="module")
def voice(model, tmp_path_factory):
    return model.get_conditioning_latents(audio_path=[str(write_wav(tmp_path_factory.mktemp("ref") / "r.wav", 5.0))])


@pytest.fixture(scope="module")
def greedy(model):
    return inference_settings(model.config, {"top_k": 1})[0]


@torch.inference_mode()
def alone(model, cond, text: str, sampling) -> list[tuple[int, torch.Tensor]]:
    """(token, latent) of every step, as coqui's own generate() streams them for the sentence alone."""
    fake_inputs = model.gpt.compute_embeddings(cond, text_tokens(model, text, "en"))
    generator = model.gpt.get_generator(
        fake_inputs=fake_inputs,
        do_sample=True,
        num_beams=1,
        num_return_sequences=1,
        output_attentions=False,
        output_hidden_states=True,
        return_dict_in_generate=True,
        **{name: getattr(sampling, name) for name in XTTS_V2_SAMPLING},
    )
    return [(int(token), latent[0].float()) for token, latent in generator]


@torch.inference_mode()
def batched(model, cond, sampling, joins: list[tuple[int, str]], leaves: dict[int, str] | None = None) -> dict:
    """Each sentence's (token, latent) steps when it joins the batch at its step (and leaves at leaves')."""
    batch, got, rows, step = GptBatch(model.gpt), {}, {}, 0
    leaves = leaves or {}
    while step == 0 or batch.rows or any(at > step for at, _ in joins):
        for at, text in joins:
            if at == step:
                row, latent = batch.join(cond, text_tokens(model, text, "en"), sampling)
                rows[text], got[text] = row, [(row.token, latent)]
        if step in leaves:
            batch.leave([rows[leaves[step]]])
        for row, latent in batch.step() if batch.rows else []:
            text = next(text for text, mine in rows.items() if mine is row)
            got[text].append((row.token, latent))
        batch.leave([row for row in batch.rows if row.done])
        step += 1
    return got


def assert_same_steps(got: list, expected: list) -> None:
    assert [token for token, _ in got] == [token for token, _ in expected]
    torch.testing.assert_close(
        torch.stack([latent for _, latent in got]),
        torch.stack([latent for _, latent in expected]),
        rtol=1e-4,
        atol=1e-4,
    )


def test_sentences_decoded_together_equal_each_alone(model, voice, greedy):
    got = batched(model, voice[0], greedy, [(0, text) for text in TEXTS])
    assert sorted(got) == sorted(TEXTS)  # every sentence came back
    for text in got:
        assert_same_steps(got[text], alone(model, voice[0], text, greedy))


def test_sentences_join_a_running_batch(model, voice, greedy):
    got = batched(model, voice[0], greedy, [(0, TEXTS[0]), (7, TEXTS[1]), (20, TEXTS[2])])
    assert sorted(got) == sorted(TEXTS)
    for text in got:
        assert_same_steps(got[text], alone(model, voice[0], text, greedy))


def test_a_row_that_leaves_leaves_the_others_as_they_were(model, voice, greedy):
    got = batched(model, voice[0], greedy, [(0, TEXTS[0]), (3, TEXTS[1]), (5, TEXTS[2])], leaves={9: TEXTS[1]})
    expected = {text: alone(model, voice[0], text, greedy) for text in TEXTS}
    assert_same_steps(got[TEXTS[0]], expected[TEXTS[0]])
    assert_same_steps(got[TEXTS[2]], expected[TEXTS[2]])
    assert 0 < len(got[TEXTS[1]]) < len(expected[TEXTS[1]])  # stopped where it left
    assert_same_steps(got[TEXTS[1]], expected[TEXTS[1]][: len(got[TEXTS[1]])])


def test_a_sentence_whose_first_draw_fails_leaves_the_batch_as_it_was(model, voice, greedy, monkeypatch):
    def no_draw(*_args, **_kwargs):
        raise RuntimeError("probability tensor contains nan")

    batch = GptBatch(model.gpt)
    row, _ = batch.join(voice[0], text_tokens(model, TEXTS[0], "en"), greedy)
    monkeypatch.setattr(torch, "multinomial", no_draw)
    with pytest.raises(RuntimeError, match="nan"):
        batch.join(voice[0], text_tokens(model, TEXTS[1], "en"), greedy)
    monkeypatch.undo()
    assert batch.rows == [row]  # no row left behind that no sentence owns
    assert [stepped for stepped, _ in batch.step()] == [row]


@torch.inference_mode()
def sentence_alone(model, text: str, voice, sampling, chunk: int) -> list[torch.Tensor]:
    """The sentence's audio chunks when it is the batch's only row, as the worker makes them."""
    batch, audio = GptBatch(model.gpt), SentenceAudio(model, voice[1], sampling, chunk)
    row, latent = batch.join(voice[0], text_tokens(model, text, "en"), sampling)
    chunks = []
    while True:
        if (frames := audio.take(latent, row.done, 0.0)) is not None:
            chunks.append(audio.decode(frames, row.done))
        if row.done:
            return chunks
        ((_, latent),) = batch.step()


def on_decode_step(model, call):
    """`call(rows)` as each decode step begins (the first block's first layer norm sees [rows, 1, C]; a
    joining sentence's prompt, run alone, is longer); the hook's handle."""

    def hook(_module, args) -> None:
        if args[0].shape[1] == 1:
            call(args[0].shape[0])

    return model.gpt.gpt.h[0].ln_1.register_forward_pre_hook(hook)


GATE = 12  # the worker's thread waits at this decode step until the leaving client has gone (however loaded)


async def test_concurrent_streams_share_steps_and_a_client_leaving_stops_only_its_own(model, voice, greedy):
    staying, leaving = TEXTS[1], TEXTS[0]
    expected = {text: sentence_alone(model, text, voice, greedy, 8) for text in (staying, leaving)}
    rows_per_step: list[int] = []
    gone = threading.Event()

    def decode_step(rows: int) -> None:
        rows_per_step.append(rows)
        if len(rows_per_step) == GATE:  # the leaver has had its first chunk (8 tokens) by now
            assert gone.wait(60), "the leaving client never left"

    hook = on_decode_step(model, decode_step)
    worker = XttsWorker(model, greedy, stream_chunk_size=8, first_chunk_size=0)
    try:
        stays, leaves = worker.stream(staying, "en", voice), worker.stream(leaving, "en", voice)

        async def first_chunk_then_leave() -> bytes:
            chunk = await anext(leaves)
            await leaves.aclose()
            gone.set()
            return chunk

        left_with, stayed = await asyncio.gather(first_chunk_then_leave(), _all(stays))
    finally:
        hook.remove()
        worker.close()
    # Batched rows are padded: float sums in another order, so a sample may round to the next 16-bit step.
    assert [len(chunk) for chunk in stayed] == [2 * len(wav) for wav in expected[staying]]
    assert max_step(b"".join(stayed), torch.cat(expected[staying])) <= 2
    assert len(left_with) == 2 * len(expected[leaving][0]) and max_step(left_with, expected[leaving][0]) <= 2
    # Both decoded together until the client left (after its first chunk: step 7, the join drew token 1;
    # at the gate at the latest), then the stayer alone: the leaver's row was out of the batch.
    assert len(expected[leaving]) > 2 and len(expected[staying]) * 8 > GATE + 8  # both still speaking there
    together = rows_per_step.count(2)
    assert 7 <= together <= GATE and rows_per_step == [2] * together + [1] * (len(rows_per_step) - together)
    assert worker.rows == 0


async def test_a_step_that_fails_ends_every_sentence_in_it_and_the_next_one_speaks(model, voice, greedy):
    decode_steps = []

    def fail_at_step_5(rows: int) -> None:
        if len(decode_steps) < 5:
            decode_steps.append(rows)
            if len(decode_steps) == 5:
                raise RuntimeError("out of memory")

    hook = on_decode_step(model, fail_at_step_5)
    worker = XttsWorker(model, greedy, stream_chunk_size=4, first_chunk_size=0)
    try:
        failed = await asyncio.gather(
            *(_all(worker.stream(text, "en", voice)) for text in TEXTS[:2]), return_exceptions=True
        )
        assert [str(error) for error in failed] == ["out of memory"] * 2 and decode_steps[-1] == 2
        assert worker.rows == 0
        again = await _all(worker.stream(TEXTS[0], "en", voice))  # the model is not left wedged
    finally:
        hook.remove()
        worker.close()
    expected = sentence_alone(model, TEXTS[0], voice, greedy, 4)
    assert [len(chunk) for chunk in again] == [2 * len(wav) for wav in expected]


async def test_the_worker_hands_the_event_loop_pcm_made_on_its_own_thread(model, voice, greedy, monkeypatch):
    # `.cpu()` waits for the GPU: done on the loop, it held every connection for as long.
    expected = sentence_alone(model, TEXTS[0], voice, greedy, 4)
    threads = []
    to_cpu = torch.Tensor.cpu
    monkeypatch.setattr(
        torch.Tensor, "cpu", lambda self, *a, **k: threads.append(threading.current_thread()) or to_cpu(self, *a, **k)
    )
    worker = XttsWorker(model, greedy, stream_chunk_size=4, first_chunk_size=0)
    try:
        chunks = [chunk async for chunk in worker.stream(TEXTS[0], "en", voice)]
    finally:
        worker.close()
    assert all(isinstance(chunk, bytes) for chunk in chunks) and len(chunks) == len(expected) >= 2
    assert [len(chunk) for chunk in chunks] == [2 * len(wav) for wav in expected]
    assert threads and threading.main_thread() not in threads


async def test_a_sentence_begun_while_the_listener_has_audio_starts_with_a_steady_chunk(model, voice, greedy):
    # Small first chunks are for a listener waiting; each chunk more decodes the vocoder's context again.
    steady = sentence_alone(model, TEXTS[1], voice, greedy, 20)
    worker = XttsWorker(model, greedy, stream_chunk_size=20, first_chunk_size=4)
    try:
        await _all(worker.stream(TEXTS[0], "en", voice))  # the pace is measured
        chunks = await _all(worker.stream(TEXTS[1], "en", voice, ahead_s=30.0))
    finally:
        worker.close()
    assert [len(chunk) for chunk in chunks] == [2 * len(wav) for wav in steady] and len(chunks) >= 2


async def test_a_vocoder_failure_ends_only_its_own_sentence(model, voice, greedy):
    # It ended every sentence of the step, as a failed GPT step does.
    other = (voice[0], voice[1] * 0.5)  # another speaker: its chunks are known by their embedding
    expected = sentence_alone(model, TEXTS[1], voice, greedy, 4)
    rows_per_step, failed_chunks = [], []

    def second_chunk_of_the_other_fails(_module, _args, kwargs) -> None:
        if torch.equal(kwargs["g"], other[1]):
            failed_chunks.append(len(rows_per_step))
            if len(failed_chunks) == 2:
                raise RuntimeError("vocoder out of memory")

    hooks = [
        on_decode_step(model, rows_per_step.append),
        model.hifigan_decoder.waveform_decoder.register_forward_pre_hook(
            second_chunk_of_the_other_fails, with_kwargs=True
        ),
    ]
    worker = XttsWorker(model, greedy, stream_chunk_size=4, first_chunk_size=0)
    try:
        stayed, failed = await asyncio.gather(
            _all(worker.stream(TEXTS[1], "en", voice)),
            _all(worker.stream(TEXTS[0], "en", other)),
            return_exceptions=True,
        )
        assert worker.rows == 0
    finally:
        for hook in hooks:
            hook.remove()
        worker.close()
    assert isinstance(failed, RuntimeError) and str(failed) == "vocoder out of memory"
    assert not isinstance(stayed, BaseException)
    assert [len(chunk) for chunk in stayed] == [2 * len(wav) for wav in expected]
    assert max_step(b"".join(stayed), torch.cat(expected)) <= 2
    # Both were in the batch until the failure (its second chunk, at step 7); the steps after it had one row.
    failed_at = failed_chunks[-1]
    assert rows_per_step[:failed_at] == [2] * failed_at and set(rows_per_step[failed_at:]) == {1}


async def test_a_stream_whose_vocoder_failed_holds_no_row_when_it_hears_so(model, voice, greedy):
    # Its row stayed in the batch until the next step began, after its stream had ended.
    other = (voice[0], voice[1] * 0.5)  # joins first, so its chunk decodes before the one that waits
    heard = threading.Event()
    rows_when_heard: list[int] = []

    def first_chunk_fails_and_the_next_waits(_module, _args, kwargs) -> None:
        if torch.equal(kwargs["g"], other[1]):
            raise RuntimeError("vocoder out of memory")
        heard.wait(timeout=30)  # the rest of the step waits until the failed stream has heard it

    hook = model.hifigan_decoder.waveform_decoder.register_forward_pre_hook(
        first_chunk_fails_and_the_next_waits, with_kwargs=True
    )
    worker = XttsWorker(model, greedy, stream_chunk_size=4, first_chunk_size=0)

    async def hears_the_failure() -> None:
        try:
            await _all(worker.stream(TEXTS[0], "en", other))
        finally:
            rows_when_heard.append(worker.rows)
            heard.set()

    try:
        failed, stayed = await asyncio.gather(
            hears_the_failure(), _all(worker.stream(TEXTS[1], "en", voice)), return_exceptions=True
        )
    finally:
        hook.remove()
        heard.set()
        worker.close()
    assert isinstance(failed, RuntimeError) and str(failed) == "vocoder out of memory"
    assert rows_when_heard == [1]  # only the stream still speaking
    assert not isinstance(stayed, BaseException) and len(stayed) >= 2


def max_step(pcm: bytes, wav: torch.Tensor) -> int:
    """The largest difference, in 16-bit steps, between PCM and the audio it should be."""
    expected = (wav.clamp(-1.0, 1.0) * 32767).to(torch.int16).int()
    return int((torch.frombuffer(bytearray(pcm), dtype=torch.int16).int() - expected).abs().max())


async def _all(stream) -> list[bytes]:
    return [chunk async for chunk in stream]


async def test_a_worker_capped_at_one_row_speaks_each_sentence_whole_in_turn(model, voice, greedy):
    rows_per_step: list[int] = []
    hook = on_decode_step(model, rows_per_step.append)
    worker = XttsWorker(model, greedy, stream_chunk_size=8, first_chunk_size=0, max_rows=1)
    finished: list[str] = []

    async def speak(text: str) -> list[bytes]:
        chunks = await _all(worker.stream(text, "en", voice))
        finished.append(text)
        return chunks

    try:
        spoken = await asyncio.gather(*(speak(text) for text in TEXTS))
    finally:
        hook.remove()
        worker.close()
    assert all(spoken) and finished == TEXTS  # in arrival order, none lost
    assert rows_per_step and set(rows_per_step) == {1}
