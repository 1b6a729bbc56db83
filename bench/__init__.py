"""Benchmarks (`python -m bench`). They reuse the test suite's model builders and fakes."""

import sys
from pathlib import Path

# tests/ holds the random-weight checkpoint builders, the server-process helper and the fake Google.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
