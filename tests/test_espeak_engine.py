"""espeak-ng in-process: many sentences starting at once leave the event loop free in between."""

import asyncio

from wyoming_streamtts.espeak_engine import EspeakEngine


async def test_many_sentences_starting_at_once_let_the_loop_turn_between_process_starts(monkeypatch):
    # 50 streams finishing a sentence together used to start 50 espeak-ng processes in one turn of
    # the loop (~3 ms each), and a describe arriving meanwhile waited for all of them.
    started: list[int] = []
    start_process = asyncio.create_subprocess_exec

    async def counted(*args, **kwargs):
        started.append(1)
        return await start_process(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", counted)
    engine = EspeakEngine()
    seen_between: list[int] = []  # processes started, as seen by other work at each turn of the loop

    async def first_chunk(text: str) -> int:
        audio = engine.synthesize(text, "en", "default")
        async for chunk in audio:
            await audio.aclose()
            return len(chunk.audio)
        return 0

    async def other_work(done: asyncio.Event) -> None:
        while not done.is_set():
            seen_between.append(len(started))
            await asyncio.sleep(0)

    done = asyncio.Event()
    watcher = asyncio.create_task(other_work(done))
    sizes = await asyncio.gather(*(first_chunk(f"Sentence number {n}.") for n in range(20)))
    done.set()
    await watcher
    assert len(started) == 20 and all(sizes)
    # Other work ran while the processes were being started, not only before and after all 20.
    assert len({count for count in seen_between if 0 < count < 20}) >= 10
