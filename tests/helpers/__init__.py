"""Code shared by the tests, one module per area; no tests and no fixtures here.

The convention for the whole suite:

- A helper used by more than one test module lives here, in `tests/helpers/<area>.py`,
  and is imported as `from tests.helpers.<area> import ...` (pytest puts the repository
  root on `sys.path`, see `pythonpath` in `pyproject.toml`; mypy finds it from there too).
- Fixtures stay in `conftest.py` files; a conftest holds fixtures only, never plain
  functions or constants for tests to import.
- A test module never imports another test module, and every `test_*.py` basename is
  unique across the suite (pytest's default import mode needs it; no `__init__.py` in the
  test folders). `tests/test_suite_layout.py` checks all three.
- `make lint` type-checks the tests with `mypy tests` (the lighter settings of the
  `tests.*` override in `pyproject.toml`, not `--strict`).
"""
