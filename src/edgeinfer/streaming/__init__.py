"""SLIDE: simultaneous model downloading and inference (Qu et al.), problem ``slide``.

Rooms: :mod:`.problem` (file format, instance, solution, ``verify``, registration),
:mod:`.model` (the latency model the solvers and ``verify`` share), :mod:`.solvers` (``slide``,
``slide-dynamic``, ``sequential``, ``equal-bandwidth``) and :mod:`.scenario` (generators).
Importing this package registers the problem and its solvers; it imports NumPy only. The
streaming runtime (``edgeinfer.streaming.runtime``) imports torch and is never imported here.
"""

from edgeinfer.streaming import solvers  # noqa: F401  (the solvers register themselves)
from edgeinfer.streaming.problem import (
    PROBLEM,
    SPEC,
    SlideInstance,
    SlideSolution,
    UserAlloc,
    dump_instance,
    dump_solution,
    load_instance,
    load_solution,
    verify,
)

__all__ = ["PROBLEM", "SPEC", "SlideInstance", "SlideSolution", "UserAlloc", "dump_instance", "dump_solution",
           "load_instance", "load_solution", "verify"]
