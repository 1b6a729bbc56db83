"""Benchmarks (`python -m bench`, from the repository root). They reuse the test suite's model builders,
server-process helper and fakes, imported from the `tests` package."""
