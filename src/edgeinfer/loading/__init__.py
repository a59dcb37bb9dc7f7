"""PartialLoading: user scheduling and bandwidth allocation for parameter-sharing edge inference.

Problem ``partial_loading`` (Qu et al.). Rooms: :mod:`.problem` (file format, instance,
solution, ``verify``, registration), :mod:`.model` (the cost model the solvers and ``verify``
share), :mod:`.solvers` (``spec-slotted``, ``gen``, ``spec``, ``exact``, ``search``,
``independent``, ``equal-bandwidth``, ``milp``), :mod:`.scenario` (generators, imported on
demand), :mod:`.server` (``server.json``, torch-free), :mod:`.calibrate` and :mod:`.executor`
(measure the server and run a plan; torch, imported on demand). Importing this package registers the problem and its solvers; NumPy only.
"""

from edgeinfer.loading import solvers  # noqa: F401  (the solvers register themselves)
from edgeinfer.loading.model import BatchTiming, timeline
from edgeinfer.loading.problem import (
    PROBLEM,
    SPEC,
    Batch,
    InstanceDoc,
    PartialLoadingInstance,
    PartialLoadingSolution,
    SolutionDoc,
    dump_instance,
    dump_solution,
    load_instance,
    load_solution,
    verify,
)

__all__ = [
    "PROBLEM",
    "SPEC",
    "Batch",
    "BatchTiming",
    "InstanceDoc",
    "PartialLoadingInstance",
    "PartialLoadingSolution",
    "SolutionDoc",
    "dump_instance",
    "dump_solution",
    "load_instance",
    "load_solution",
    "timeline",
    "verify",
]
