"""Registers the Gymnasium id ``edgeinfer/CoopInference-v0`` without importing Gymnasium.

Gymnasium 1.x loads no plugin entry points, so packages register their ids when they are
imported. Importing Gymnasium costs about 130 ms (and ``edgeinfer list``/``solve`` must stay
free of it), so importing this module (done by ``import edgeinfer.online``):

* registers the id at once if Gymnasium is already imported;
* otherwise puts a finder on ``sys.meta_path`` that registers it right after Gymnasium's own
  import completes, whenever that happens (and then removes itself). Without Gymnasium
  installed the finder never fires.

The environment class itself is in :mod:`edgeinfer.online.env` (the entry point), loaded only
by ``gymnasium.make``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

__all__ = ["ENV_ID", "ENTRY_POINT", "register_env"]

ENV_ID = "edgeinfer/CoopInference-v0"
ENTRY_POINT = "edgeinfer.online.env:CoopInferenceEnv"


def register_env(gym: ModuleType | None = None) -> None:
    """Register :data:`ENV_ID` with Gymnasium (idempotent). Imports Gymnasium if ``gym`` is None."""
    if gym is None:
        import gymnasium

        gym = gymnasium
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=ENTRY_POINT)


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of ``gymnasium`` to register afterwards."""

    def find_spec(self, fullname: str, _path: Any = None, _target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        _uninstall()
        spec = importlib.util.find_spec("gymnasium")
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            try:
                register_env(module)
            except Exception as exc:  # never break the user's import of gymnasium
                warnings.warn(f"edgeinfer: could not register {ENV_ID}: {exc}", stacklevel=2)

        loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


_HOOK = _RegisterAfterImport()


def _uninstall() -> None:
    while _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


if "gymnasium" in sys.modules:
    register_env(sys.modules["gymnasium"])
elif _HOOK not in sys.meta_path:
    sys.meta_path.insert(0, _HOOK)
