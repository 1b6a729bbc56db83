"""The XTTS batch's cap: sentences beyond it wait in arrival order, a client that leaves while waiting blocks
nobody, no more rows than stay faster than real time at the measured pace, and the memory a row may take. (A
worker capped at one row: test_xtts_batch.)"""

import asyncio

from wyoming_streamtts.chunk_planner import ChunkShape, Pace
from wyoming_streamtts.xtts_admission import (
    KEEP_PLACE_S,
    UNMEASURED_ROWS,
    Admission,
    cache_bytes_per_row,
    rows_for_memory,
)

# XTTS v2's token: 1024 samples at 24 kHz; ~4 vocoder frames (hop 256).
SHAPE = ChunkShape(audio_per_token_s=1024 / 24000, frames_per_token=4.0, context_frames=8, held_back_s=0.01)


async def _hold(admission: Admission, name: str, order: list[str], release: asyncio.Event) -> None:
    async with admission.row(SHAPE):
        order.append(name)
        await release.wait()


async def test_beyond_the_cap_sentences_wait_in_arrival_order():
    admission = Admission(max_rows=2, pace=Pace())
    order: list[str] = []
    releases = {name: asyncio.Event() for name in "abcde"}
    tasks = {}
    for name in "abcde":
        tasks[name] = asyncio.create_task(_hold(admission, name, order, releases[name]))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert order == ["a", "b"] and admission.admitted == 2 and admission.waiting == 3
    tasks["c"].cancel()  # its client left while it waited: it blocks nobody
    releases["b"].set()
    await asyncio.sleep(KEEP_PLACE_S + 0.05)  # b's place was kept for a next sentence that did not come
    assert order == ["a", "b", "d"]
    releases["a"].set()
    await asyncio.sleep(KEEP_PLACE_S + 0.05)
    assert order == ["a", "b", "d", "e"] and admission.waiting == 0
    for name in "de":
        releases[name].set()
    await asyncio.gather(*(task for name, task in tasks.items() if name != "c"))
    assert admission.admitted == 0


async def test_rows_stay_faster_than_real_time_at_the_measured_pace():
    order: list[str] = []
    release = asyncio.Event()
    unmeasured = Admission(max_rows=64, pace=Pace())
    held = [asyncio.create_task(_hold(unmeasured, str(i), order, release)) for i in range(UNMEASURED_ROWS + 2)]
    await asyncio.sleep(0.01)
    assert unmeasured.admitted == UNMEASURED_ROWS  # nothing measured yet: a few at once
    # A 25 ms step and 2 ms a vocoder frame: one row takes 33 ms of a token's 42.7 ms; a second would make 41 ms,
    # over real time with the margin, so it waits (the first always speaks, however slow the host).
    slow = Admission(max_rows=64, pace=Pace(gpt_s_per_token=0.025, vocoder_s_per_frame=0.002))
    held += [asyncio.create_task(_hold(slow, name, order, release)) for name in ("x", "y")]
    await asyncio.sleep(0.01)
    assert slow.admitted == 1 and slow.waiting == 1
    fast = Admission(max_rows=64, pace=Pace(gpt_s_per_token=0.010, vocoder_s_per_frame=0.0003))
    held += [asyncio.create_task(_hold(fast, str(i), order, release)) for i in range(8)]
    await asyncio.sleep(0.01)
    assert fast.admitted == 8  # a GPU's pace: 10 ms steps
    release.set()
    await asyncio.gather(*held)


async def test_a_requests_next_sentence_keeps_its_place_ahead_of_a_newcomer():
    admission = Admission(max_rows=1, pace=Pace())
    order: list[str] = []

    async def request(name: str, sentences: int) -> None:  # one task, as a request speaks its sentences
        for number in range(sentences):
            async with admission.row(SHAPE):
                order.append(f"{name}{number}")
                await asyncio.sleep(0.02)

    first = asyncio.create_task(request("a", 3))
    await asyncio.sleep(0.005)
    second = asyncio.create_task(request("b", 2))
    await asyncio.gather(first, second)
    # Not a0 b0 a1 b1 a2: each request's audio would have the other's sentences as gaps in it.
    assert order == ["a0", "a1", "a2", "b0", "b1"]


def test_the_memory_a_row_takes_and_how_many_fit():
    # XTTS v2 full size: 30 layers of 1024, 1,100 positions at most, fp32: ~270 MB a row.
    per_row = cache_bytes_per_row(30, 1024, 1100, 4)
    assert per_row == 270_336_000
    assert rows_for_memory(24 * 2**30, per_row) == 47  # half of 24 GiB
    assert rows_for_memory(2**20, per_row) == 1  # one sentence always speaks
    assert rows_for_memory(None, per_row) is None


async def test_a_cap_asked_for_is_the_only_limit():
    order: list[str] = []
    release = asyncio.Event()
    # The slow pace above, but --xtts-max-rows 3: the owner chose batching over each stream's real time.
    asked = Admission(max_rows=3, pace=Pace(gpt_s_per_token=0.025, vocoder_s_per_frame=0.002), paced=False)
    held = [asyncio.create_task(_hold(asked, str(i), order, release)) for i in range(5)]
    await asyncio.sleep(0.01)
    assert asked.admitted == 3 and asked.waiting == 2
    release.set()
    await asyncio.gather(*held)
