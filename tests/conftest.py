"""Test-suite configuration: the Hypothesis profiles.

``ci`` (loaded when the environment variable ``CI`` is set): derandomised, so a run is the same
run every time and a failure reproduces; ``print_blob`` prints the ``@reproduce_failure`` line;
no example database (nothing replays a stale failure forever) and no deadline (a loaded CI
machine is slow, not wrong). ``dev`` (otherwise): random, with the example database pinned to
``.hypothesis/`` at the repository root (ignored by git), whatever the working directory.
``HYPOTHESIS_PROFILE=NAME`` chooses a profile explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = Path(__file__).resolve().parents[1]
HYPOTHESIS_DIR = ROOT / ".hypothesis"

try:  # Hypothesis' own files (constants, unicode data) go to the same ignored folder
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(str(HYPOTHESIS_DIR))
except ImportError:  # pragma: no cover - an old Hypothesis: its default, ./.hypothesis
    pass

settings.register_profile("ci", derandomize=True, print_blob=True, database=None, deadline=None)
settings.register_profile("dev", database=DirectoryBasedExampleDatabase(str(HYPOTHESIS_DIR / "examples")))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Tiny local checkpoints and LoRA adapters (tests/tiny_models.py), built once per session;
    read-only for the tests that use it. Skipped without torch, transformers and peft."""
    for mod in ("torch", "transformers", "peft", "safetensors", "xxhash"):
        pytest.importorskip(mod)
    from tiny_models import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny_models"), n_adapters=3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long runs (``-m slow``: full reproductions, PPO training) are long by design: no per-test
    time limit for them; every other test fails after pyproject's ``timeout`` (600 s)."""
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(0))
