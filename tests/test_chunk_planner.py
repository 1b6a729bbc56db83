"""The XTTS chunk planner on simulated machines: first audio sooner, and no gap a fixed size would not have."""

import pytest

from tests.listener import underruns
from wyoming_streamtts.chunk_planner import ChunkPlanner, ChunkShape, Pace

# XTTS v2: a GPT token is 1024 samples at 22050 Hz; the vocoder makes 256 samples a frame at 24 kHz.
SECONDS_PER_TOKEN = 1024 / 22050
SHAPE = ChunkShape(SECONDS_PER_TOKEN, SECONDS_PER_TOKEN * 24000 / 256, context_frames=48, held_back_s=1024 / 24000)


def speak(
    pace: Pace, first: int, gpt_s: float, frame_s: float, tokens: int = 120, ahead_s: float = 0.0
) -> tuple[list, list[int]]:
    """One sentence on a machine taking `gpt_s` per token and `frame_s` per vocoder frame, driven as
    SentenceAudio drives the planner, begun with `ahead_s` of the answer still to play: ([(arrival s,
    audio s)], chunk sizes)."""
    now = 0.0
    planner = ChunkPlanner(first, 20, SHAPE, pace, clock=lambda: now, ahead_s=ahead_s)
    chunks, sizes = [], []
    size, new = planner.first_size(), 0
    for token in range(1, tokens + 1):
        step_s = gpt_s + (0.05 if token == 1 else 0.0)  # the first token carries the prompt
        now += step_s
        planner.token(step_s)
        new += 1
        final = token == tokens
        if new >= size or final:
            frames = round(new * SHAPE.frames_per_token) + (SHAPE.context_frames if sizes else 0)
            now += frames * frame_s
            audio = (
                new * SECONDS_PER_TOKEN - (SHAPE.held_back_s if not sizes else 0) + (SHAPE.held_back_s if final else 0)
            )
            chunks.append((now, audio))
            sizes.append(new)
            if not final:
                size, new = planner.sent(audio, frames * frame_s, frames), 0
    planner.finish()
    return chunks, sizes


def second_sentence(first: int, gpt_s: float, frame_s: float) -> tuple[list, list[int]]:
    """A sentence planned with the pace the one before it measured."""
    pace = Pace()
    speak(pace, first, gpt_s, frame_s)
    return speak(pace, first, gpt_s, frame_s)


def test_a_fast_machine_starts_with_a_small_chunk_and_grows_to_the_steady_size():
    chunks, sizes = second_sentence(4, gpt_s=0.005, frame_s=0.0003)  # a GPU
    fixed, _ = second_sentence(0, gpt_s=0.005, frame_s=0.0003)
    assert sizes[0] == 4
    assert sizes[:-1] == sorted(sizes[:-1]) and max(sizes) == 20
    assert chunks[0][0] <= 0.5 * fixed[0][0]
    assert underruns(chunks) == (0, 0.0)


def test_slower_than_real_time_the_first_chunk_stays_small_and_the_rest_are_steady():
    chunks, sizes = second_sentence(4, gpt_s=0.15, frame_s=0.005)  # full size on a CPU
    fixed, _ = second_sentence(0, gpt_s=0.15, frame_s=0.005)
    assert sizes[0] == 4 and set(sizes[1:-1]) == {20}
    assert chunks[0][0] <= 0.3 * fixed[0][0]


def test_where_a_small_first_chunk_would_leave_a_gap_it_is_made_larger():
    # Just faster than real time, with a costly vocoder (the tiny model on a CPU).
    chunks, sizes = second_sentence(4, gpt_s=0.006, frame_s=0.004)
    assert sizes[0] > 4
    assert underruns(chunks)[0] == 0


def later_sentence(gpt_s: float, frame_s: float, ahead_s: float) -> tuple[list, list[int]]:
    """The answer's second sentence, begun while the listener still has `ahead_s` of the first to hear."""
    pace = Pace()
    speak(pace, 4, gpt_s, frame_s)
    return speak(pace, 4, gpt_s, frame_s, ahead_s=ahead_s)


def test_a_later_sentence_starts_with_a_steady_chunk_while_the_listener_still_has_audio():
    # Just faster than real time with a costly vocoder (the tiny model on a CPU): small chunks decode
    # context again, and a sentence of small ones would cost a third more than steady ones.
    alone = second_sentence(4, gpt_s=0.006, frame_s=0.004)[1]
    chunks, sizes = later_sentence(gpt_s=0.006, frame_s=0.004, ahead_s=2.0)
    assert alone[0] < 20 and sizes[0] == 20
    assert len(sizes) < len(alone)
    assert underruns([(0.0, 2.0), *chunks]) == (0, 0.0)  # the first sentence's audio, then this one's


@pytest.mark.parametrize("ahead_s", [0.0, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("gpt_s", [0.005, 0.02, 0.03, 0.1])
@pytest.mark.parametrize("frame_s", [0.0003, 0.002, 0.004])
def test_a_later_sentence_has_no_gap_that_it_would_not_have_begun_alone(gpt_s, frame_s, ahead_s):
    alone, _ = second_sentence(4, gpt_s, frame_s)
    later, sizes = later_sentence(gpt_s, frame_s, ahead_s)
    if alone[0][0] <= ahead_s:  # its first audio came before the listener ran out: so must it now
        assert later[0][0] <= ahead_s, sizes
    heard = [(0.0, ahead_s), *later] if alone[0][0] <= ahead_s else later  # the listener waited: no gap, but late
    if underruns(alone)[0] == 0:
        assert underruns(heard)[0] == 0, sizes


def test_the_first_sentence_after_start_up_is_planned_as_a_fixed_schedule():
    _, sizes = speak(Pace(), 4, gpt_s=0.005, frame_s=0.0003)
    assert sizes[0] == 20


def test_zero_is_a_fixed_schedule():
    _, sizes = second_sentence(0, gpt_s=0.005, frame_s=0.0003)
    assert set(sizes[:-1]) == {20}


@pytest.mark.parametrize("gpt_s", [0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1, 0.2])
@pytest.mark.parametrize("frame_s", [0.0001, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.006])
def test_no_gap_where_a_fixed_schedule_has_none(gpt_s, frame_s):
    fixed, _ = second_sentence(0, gpt_s, frame_s)
    adaptive, sizes = second_sentence(4, gpt_s, frame_s)
    if underruns(fixed)[0] == 0:
        assert underruns(adaptive)[0] == 0, sizes
    assert adaptive[0][0] <= fixed[0][0]  # never later than the fixed schedule's first audio
