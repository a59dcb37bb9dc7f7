"""The Hypothesis profiles of tests/conftest.py: derandomised in CI, the database in ./.hypothesis/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = Path(__file__).resolve().parents[2]


def test_ci_profile() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True and ci.print_blob is True and ci.database is None


def test_loaded_profile_follows_the_environment() -> None:
    chosen = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    assert settings.default.derandomize is settings.get_profile(chosen).derandomize
    if chosen == "dev":
        db = settings.default.database
        assert isinstance(db, DirectoryBasedExampleDatabase)
        assert Path(db.path).resolve() == ROOT / ".hypothesis" / "examples"


def test_database_is_ignored_by_git() -> None:
    if not (ROOT / ".git").exists():
        return  # an sdist: no git
    res = subprocess.run(["git", "check-ignore", "-q", ".hypothesis/examples/x"], cwd=ROOT)
    assert res.returncode == 0, ".hypothesis/ must be in .gitignore"
