"""The test suite; its helpers (conftest.py, the model builders, the fakes) are shared with bench/."""
