"""Experiment engine: declared studies, Monte Carlo sweeps (joblib, local or Dask), figures, reports.

The built-in studies live in :mod:`edgeinfer.experiments.studies`; a plugin adds its own with
:func:`register_study`.

Light at import: the standard library and NumPy only; pandas, matplotlib, joblib and dask
are imported inside the functions that need them. See ``docs/experiments.md``.
"""

from __future__ import annotations

from edgeinfer.experiments.registry import (
    STUDY_MODULES,
    available_studies,
    get_study,
    register_study,
    unregister_study,
)
from edgeinfer.experiments.study import (
    Axis,
    Claim,
    Figure,
    Measured,
    Param,
    Study,
    TaskSpec,
    solve_row,
)

__all__ = [
    "Axis", "Claim", "Figure", "Measured", "Param", "Study", "TaskSpec", "solve_row",
    "STUDY_MODULES", "available_studies", "get_study", "register_study", "unregister_study",
]
