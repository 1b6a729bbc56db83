"""Benchmarks (`python -m bench`, from the repository root). They reuse the test suite's model builders,
server-process helper and fakes, imported from the `tests` package."""

import argparse
import json
from collections.abc import Callable


def run_alone(
    doc: str | None, quick_help: str, figures: Callable[[bool], dict], report: Callable[[dict], list]
) -> None:
    """One bench module as its own command (`python -m bench.NAME [--quick]`): its figures as JSON, then its report."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    results = figures(parser.parse_args().quick)
    print(json.dumps(results, indent=1))
    print("\n".join(report(results)))
