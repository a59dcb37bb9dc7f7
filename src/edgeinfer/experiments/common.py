"""Helpers shared by the engine (:mod:`.engine`) and the writers (:mod:`.report`).

Statistics (:func:`t_halfwidth`), JSON-safe values (:func:`jsonable`, :func:`clean`) and
staged output folders (:func:`stage_dir`, :func:`commit_staged`). Standard library and NumPy
only; SciPy is imported inside :func:`t_halfwidth`.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["t_halfwidth", "jsonable", "clean", "stage_dir", "commit_staged"]


def t_halfwidth(values: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the ``level`` t-interval of the mean (0 for one value, nan-safe)."""
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if a.size < 2:
        return 0.0
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))


def jsonable(v: Any) -> Any:
    """A NumPy scalar as the Python scalar; anything else unchanged."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def clean(v: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to None, recursively."""
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [clean(x) for x in v]
    v = jsonable(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def stage_dir(parent: Path) -> Path:
    """A fresh temporary folder inside ``parent`` (same filesystem, so renames are atomic)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))


def commit_staged(stage: Path, dest: Path) -> list[Path]:
    """Move every entry of ``stage`` into ``dest`` (replacing), then remove ``stage``."""
    moved = []
    for entry in sorted(stage.iterdir()):
        target = dest / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)
        moved.append(target)
    stage.rmdir()
    return moved
