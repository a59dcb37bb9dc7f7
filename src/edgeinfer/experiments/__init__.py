"""Experiment engine: declared studies, Monte Carlo sweeps (joblib, local or Dask), figures, reports.

Light at import: the standard library and NumPy only; pandas, matplotlib, joblib and dask
are imported inside the functions that need them. See ``docs/experiments.md``.
"""

from __future__ import annotations

from edgeinfer.experiments.registry import STUDY_MODULES, available_studies, get_study
from edgeinfer.experiments.study import Axis, Claim, Figure, Param, Study, TaskSpec

__all__ = [
    "Axis", "Claim", "Figure", "Param", "Study", "TaskSpec",
    "STUDY_MODULES", "available_studies", "get_study",
]
