"""Study discovery: study name -> module defining a module-level ``STUDY``.

A study whose module does not exist yet (or defines no ``STUDY``) is simply not listed;
``edgeinfer reproduce all`` runs those that exist.
"""

from __future__ import annotations

import importlib
import importlib.util

from edgeinfer.core.errors import EdgeInferError, UnknownNameError
from edgeinfer.experiments.study import Study

__all__ = ["STUDY_MODULES", "StudyUnavailableError", "available_studies", "get_study"]

#: study name -> module path (each defines ``STUDY: Study``)
STUDY_MODULES: dict[str, str] = {
    "partial-loading": "edgeinfer.loading.study",
    "mba": "edgeinfer.broadcast.study",
    "slide": "edgeinfer.streaming.study",
    "split-noma": "edgeinfer.split.study",
    "lymdo": "edgeinfer.online.study",
    "toy": "edgeinfer.experiments.toy",
}


class StudyUnavailableError(EdgeInferError):
    """A known study whose module is missing or declares no ``STUDY``."""


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load(name: str) -> tuple[Study | None, str]:
    """The study object, or ``None`` and why not."""
    module = STUDY_MODULES[name]
    if not _module_exists(module):
        return None, f"{module} does not exist"
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a broken study module must not break the other studies
        return None, f"importing {module} failed: {type(exc).__name__}: {exc}"
    study = getattr(mod, "STUDY", None)
    if not isinstance(study, Study):
        return None, f"{module} declares no STUDY"
    return study, ""


def available_studies() -> list[str]:
    """Names of the studies whose module exists and declares a ``STUDY``, in registry order."""
    return [name for name in STUDY_MODULES if _load(name)[0] is not None]


def get_study(name: str) -> Study:
    """The study called ``name``; ``UnknownNameError`` (with a suggestion) if unknown."""
    if name not in STUDY_MODULES:
        raise UnknownNameError("study", name, [*STUDY_MODULES, "all"])
    study, why = _load(name)
    if study is None:
        raise StudyUnavailableError(
            f"study {name!r} is not available ({why}); available: {', '.join(available_studies())}")
    if study.name != name:
        raise StudyUnavailableError(f"{STUDY_MODULES[name]}.STUDY is named {study.name!r}, expected {name!r}")
    return study
