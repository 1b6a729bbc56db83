"""The benchmark's picture: vocoder cost per chunk, and time to first audio per engine."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402


def save(results: dict, path: Path) -> None:
    figure, (vocoder_axes, first_axes) = plt.subplots(1, 2, figsize=(12, 4.5))
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
    figure.suptitle(f"{results['machine']['processor']}, {results['machine']['cpu_threads']} threads, "
                    f"GPU: {results['machine']['gpu'] or 'none'}, {results['machine']['date']}")  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
