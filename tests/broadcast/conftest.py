from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def example_path() -> Path:
    return EXAMPLES / "mba_small.json"
