"""Study discovery: the built-in studies plus the ones registered with :func:`register_study`.

Built-in studies are modules of :mod:`edgeinfer.experiments.studies`, each defining a
module-level ``STUDY`` (:data:`STUDY_MODULES`); they are imported when first asked for. A
plugin (a module named in the entry-point group ``edgeinfer.plugins``, see
:func:`edgeinfer.core.registry.load_plugins`) or any user code adds its own with
``edgeinfer.experiments.register_study(study)``; listing or looking up a study loads the
plugins first, so ``edgeinfer reproduce --list`` and ``edgeinfer reproduce NAME`` see them.

A built-in module that does not exist or defines no ``STUDY`` is not listed;
``edgeinfer reproduce all`` runs those that exist.
"""

from __future__ import annotations

import importlib
import importlib.util

from edgeinfer.core.errors import EdgeInferError, UnknownNameError
from edgeinfer.experiments.study import Study

__all__ = ["STUDY_MODULES", "StudyUnavailableError", "available_studies", "get_study", "register_study",
           "unregister_study"]

#: built-in study name -> module path (each defines ``STUDY: Study``)
STUDY_MODULES: dict[str, str] = {
    "partial-loading": "edgeinfer.experiments.studies.partial_loading",
    "mba": "edgeinfer.experiments.studies.mba",
    "slide": "edgeinfer.experiments.studies.slide",
    "split-noma": "edgeinfer.experiments.studies.split_noma",
    "lymdo": "edgeinfer.experiments.studies.lymdo",
    "toy": "edgeinfer.experiments.studies.toy",
}

#: studies registered with :func:`register_study` (name -> study), in registration order
_REGISTERED: dict[str, Study] = {}


class StudyUnavailableError(EdgeInferError):
    """A known study whose module is missing or declares no ``STUDY``."""


def _origin(study: Study) -> str:
    """Where a study was declared (the module of its ``run_task``, else of its ``instance``)."""
    for fn in (study.run_task, study.instance):
        mod = getattr(fn, "__module__", None) or getattr(getattr(fn, "func", None), "__module__", None)
        if mod:
            return str(mod)
    return "<unknown module>"


def register_study(study: Study) -> Study:
    """Make ``study`` available to ``edgeinfer reproduce`` (``--list``, ``NAME``, ``all``).

    A plugin module calls this when it is imported. Registering the same object twice is a
    no-op; another study under a name already taken (built-in or registered) is an
    :class:`~edgeinfer.core.errors.EdgeInferError` naming both. Returns ``study``.
    """
    if not isinstance(study, Study):
        raise EdgeInferError(f"register_study: expected an edgeinfer.experiments.Study, got {type(study).__name__}")
    name = study.name
    if name == "all":
        raise EdgeInferError("register_study: 'all' is reserved (edgeinfer reproduce all)")
    old = _REGISTERED.get(name)
    if old is study:
        return study
    if old is not None:
        raise EdgeInferError(f"study {name!r} registered twice: by {_origin(old)} and by {_origin(study)}")
    if name in STUDY_MODULES:
        raise EdgeInferError(f"study {name!r} registered twice: built in ({STUDY_MODULES[name]}) and by "
                             f"{_origin(study)}")
    _REGISTERED[name] = study
    return study


def unregister_study(name: str) -> None:
    """Forget a study registered with :func:`register_study` (tests, interactive use)."""
    _REGISTERED.pop(name, None)


def _plugins() -> None:
    from edgeinfer.core.registry import load_plugins

    load_plugins()


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load(name: str) -> tuple[Study | None, str]:
    """The study object, or ``None`` and why not."""
    if name in _REGISTERED:
        return _REGISTERED[name], ""
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


def _names() -> list[str]:
    """Built-in names, then registered ones (plugins loaded first)."""
    _plugins()
    return [*STUDY_MODULES, *(n for n in _REGISTERED if n not in STUDY_MODULES)]


def available_studies() -> list[str]:
    """Names of the studies that can run: built-in ones whose module declares a ``STUDY``,
    then the registered ones (plugins are loaded first)."""
    return [name for name in _names() if _load(name)[0] is not None]


def study_status() -> list[tuple[str, Study | None, str]]:
    """Every known study name with its study (or ``None``) and why it is unavailable."""
    return [(name, *_load(name)) for name in _names()]


def get_study(name: str) -> Study:
    """The study called ``name``; ``UnknownNameError`` (with a suggestion) if unknown."""
    names = _names()
    if name not in names:
        raise UnknownNameError("study", name, [*names, "all"])
    study, why = _load(name)
    if study is None:
        raise StudyUnavailableError(
            f"study {name!r} is not available ({why}); available: {', '.join(available_studies())}")
    if study.name != name:
        raise StudyUnavailableError(f"{STUDY_MODULES[name]}.STUDY is named {study.name!r}, expected {name!r}")
    return study
