"""The benchmark runs and writes well-formed results (its figures are never asserted)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.timeout(900)  # the bench's own bound below; the quick run takes about 5 minutes
def test_quick_bench_writes_results():
    result = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=REPO, capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((REPO / "bench" / "results" / "quick.json").read_text())
    assert [row["engine"] for row in results["engines"]] == [
        "espeak",
        "gtts (local fake Google)",
        "piper (joe, medium)",
        "xtts tiny (cpu)",
    ]
    for row in results["engines"]:
        for key in (
            "first_chunk_one_shot_s",
            "first_chunk_streaming_s",
            "engine_first_chunk_s",
            "describe_under_load_s",
        ):
            assert row[key]["n"] >= 2 and 0 < row[key]["p50"] <= row[key]["max"]
        assert row["rtf"] > 0 and row["peak_rss_mb"] > 10
    assert len(results["xtts_vocoder"]["stock_s"]) == len(results["xtts_vocoder"]["windowed_s"]) == 4
    precision = results["xtts_precision"]
    runs = [(row["precision"], row["vocoder"]) for row in precision["one_stream"]]
    assert runs == [("fp32", "torch"), ("int8", "torch"), ("int8", "onnx")]
    assert all(row["rtf"] > 0 for row in precision["one_stream"]) and precision["fidelity"][0]["model"] == "tiny"
    assert "XTTS GPT precision on the CPU" in result.stdout
    concurrent = results["xtts_concurrent"]["runs"]
    assert [(row["precision"], row["streams"], len(row["per_stream"])) for row in concurrent] == [
        ("int8", 1, 1),
        ("int8", 2, 2),
    ]
    assert all(s["audio_s"] > 0.5 and s["first_audio_s"] > 0 for row in concurrent for s in row["per_stream"])
    assert "Concurrent XTTS streams on the CPU" in result.stdout
    assert [late["precision"] for late in results["xtts_concurrent"]["arriving_late"]] == ["int8"]
    assert results["xtts_concurrent"]["arriving_late"][0]["first_audio_s"] > 0
    huge = results["huge_reference"]
    assert huge["file_bytes"] == 1 << 30 and huge["read_bytes"] > 0 and huge["peak_rss_mb"] > 10
    assert "GiB reference recording" in result.stdout
    reliability = results["reliability"]
    assert [(row["engine"], row["requests"], row["clients"]) for row in reliability["load"]] == [("espeak", 100, 20)]
    assert reliability["bad_input"]["cases"] >= 10 and reliability["slow_reader"]["dropped"]
    hardening = results["hardening"]
    assert set(hardening["splitter"]["median_s"]) >= {"initials", "abbreviations"}
    # 300 cloned voices in XTTS's 17 languages, and the default voice in every espeak-ng language.
    described = hardening["describe"]
    assert described["voices"] == 17 * 300 + described["languages"] and described["alone_p50_s"] > 0
    every = hardening["describe_every_language"]
    assert every["languages"] > 100 and every["voices"] == every["languages"] + 5 * 17
    assert "describe with every language of gTTS, Piper and espeak-ng" in result.stdout
    assert hardening["abandoned"]["requests"] == 40 and hardening["abandoned"]["after"]["fds"] > 0
    assert "abandoned requests: fds" in result.stdout
    assert hardening["flood"]["probes"] == 10 and 0 < hardening["flood"]["p50_s"] <= hardening["flood"]["max_s"]
    assert hardening["stop"]["runs"] == 1 and hardening["stop"]["median_s"] > hardening["stop"]["grace_s"]
    assert "while one client pipelines" in result.stdout
    sooner = results["first_audio"]
    assert [row["schedule"][:5] for row in sooner["schedules"]] == ["fixed", "adapt"]
    assert all(row["first_audio_s"] > 0 and row["underruns"] >= 0 for row in sooner["schedules"])
    assert [row["engine"] for row in sooner["first_clause"]] == ["espeak"]
    assert sooner["first_clause"][0]["first_clause_s"] > 0 and sooner["first_clause"][0]["sentence_s"] > 0
    assert [row["engine"] for row in sooner["speakable"]] == ["espeak"]
    assert all(sooner["speakable"][0][f"{text}_{stage}_s"] > 0 for text in ("plain", "markdown")
               for stage in ("kept", "speakable"))  # fmt: skip
    assert set(sooner["text_stage"]) == {"plain", "markdown"} and sooner["text_stage"]["markdown"]["p50_us"] > 0
    assert "Text stage's own cost" in result.stdout
    assert [row["engine"] for row in results["describe_under_streams"]] == ["espeak"]
    assert results["describe_under_streams"][0]["n"] > 10
    assert "50 streams" in result.stdout
    assert (REPO / "bench" / "results" / "quick.png").read_bytes()[:4] == b"\x89PNG"
    assert "| espeak |" in result.stdout
