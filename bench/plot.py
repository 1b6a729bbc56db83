"""The benchmark's picture: vocoder cost per chunk, and time to first audio per engine."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt


def save(results: dict, path: Path) -> None:
    figure, (vocoder_axes, first_axes, sooner_axes) = plt.subplots(1, 3, figsize=(18, 4.5))
    vocoder = results["xtts_vocoder"]
    positions = range(1, len(vocoder["stock_s"]) + 1)
    vocoder_axes.plot(positions, vocoder["stock_s"], "o-", label="coqui inference_stream (re-decodes all)")
    vocoder_axes.plot(positions, vocoder["windowed_s"], "s-", label="wyoming-streamtts (windowed)")
    vocoder_axes.set(xlabel=f"chunk in sentence ({vocoder['chunk_tokens']} tokens each)",
                     ylabel="vocoder seconds", title="XTTS vocoder cost per chunk")  # fmt: skip
    vocoder_axes.legend()
    vocoder_axes.grid(alpha=0.3)

    engines = results["engines"]
    labels = [row["engine"] for row in engines]
    one_shot = [row["first_chunk_one_shot_s"]["p50"] * 1000 for row in engines]
    streaming = [row["first_chunk_streaming_s"]["p50"] * 1000 for row in engines]
    x = range(len(labels))
    first_axes.bar([i - 0.2 for i in x], one_shot, width=0.4, label="one-shot")
    first_axes.bar([i + 0.2 for i in x], streaming, width=0.4, label="streaming input")
    first_axes.set_xticks(list(x), labels, rotation=15)
    first_axes.set(ylabel="ms (p50)", title="Time to first audio at the client")
    first_axes.set_yscale("log")
    first_axes.legend()
    _sooner(results["first_audio"], sooner_axes)
    figure.suptitle(f"{results['machine']['processor']}, {results['machine']['cpu_threads']} threads, "
                    f"GPU: {results['machine']['gpu'] or 'none'}, {results['machine']['date']}")  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _sooner(figures: dict, axes) -> None:
    """First audio before and after: XTTS's fixed vs adaptive chunks, whole first sentence vs first clause."""
    pairs = {}
    for row in figures["schedules"]:
        pairs.setdefault(row["model"], [0.0, 0.0])[0 if row["schedule"].startswith("fixed") else 1] = row[
            "first_audio_s"
        ]
    for row in figures["first_clause"]:
        pairs[f"{row['engine']}, LLM stream"] = [row["sentence_s"], row["first_clause_s"]]
    labels = list(pairs)
    x = range(len(labels))
    axes.bar(
        [i - 0.2 for i in x],
        [pairs[label][0] * 1000 for label in labels],
        width=0.4,
        label="before (fixed 20 tokens / whole sentence)",
    )
    axes.bar([i + 0.2 for i in x], [pairs[label][1] * 1000 for label in labels], width=0.4,
             label="after (adaptive chunks / first clause)")  # fmt: skip
    axes.set_xticks(list(x), labels, rotation=15)
    axes.set(ylabel="ms to first audio (p50)", title="First audio sooner")
    axes.set_yscale("log")
    axes.legend()
