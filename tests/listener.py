"""A listener playing audio chunks back to back as they arrive: where it would run out."""


def underruns(chunks: list[tuple[float, float]]) -> tuple[int, float]:
    """(times the listener ran out of audio, seconds of silence) for (arrival s, audio s) chunks
    played back to back from the first arrival."""
    count, silence, played_until = 0, 0.0, None
    for arrival, seconds in chunks:
        if played_until is None:
            played_until = arrival
        elif arrival > played_until + 0.001:  # a millisecond is below what anyone hears
            count += 1
            silence += arrival - played_until
            played_until = arrival
        played_until += seconds
    return count, silence
