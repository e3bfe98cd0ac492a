"""Hypothesis profiles for the hostile-input tests (tests/test_hostile_*.py).

- `ci` (the default): 50 generated cases per property, quick enough for every run of the suite;
- `long`: 2,000 cases per property, for a deliberate search (minutes):
  `.venv/bin/python -m pytest tests/test_hostile_files.py --hypothesis-profile=long`
  or `HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_hostile_files.py`.

Failing cases are remembered in the repository's `.hypothesis/` folder (git-ignored) and tried first
next time. No deadline: a case's time depends on the machine's load, and speed is measured only in bench/.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

# Every test runs in its own temporary folder (conftest._work_in_tmp): pin the database to the repo.
DATABASE = DirectoryBasedExampleDatabase(str(Path(__file__).resolve().parent.parent / ".hypothesis" / "examples"))
COMMON = dict(deadline=None, database=DATABASE, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("ci", max_examples=50, **COMMON)
settings.register_profile("long", max_examples=2000, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
