"""SLIDE: simultaneous model downloading and inference (Qu et al.), problem ``slide``.

Importing this package registers the problem and its solvers (``slide``, ``sequential``,
``equal-bandwidth``, ``slide-dynamic``); it imports NumPy only. The streaming runtime
(``edgeinfer.streaming.runtime``) imports torch and is never imported here.
"""

from edgeinfer.streaming import (
    algorithms,  # noqa: F401
    problem,  # noqa: F401  (registers the problem first)
)
from edgeinfer.streaming.problem import PROBLEM, SlideInstance, SlideSolution, UserAlloc

__all__ = ["PROBLEM", "SlideInstance", "SlideSolution", "UserAlloc"]
