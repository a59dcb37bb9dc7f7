"""PartialLoading: user scheduling and bandwidth allocation for parameter-sharing edge inference.

Problem ``partial_loading`` (Qu et al.). Importing this package registers the problem and
its solvers: ``exact``, ``spec``, ``spec-slotted``, ``independent``, ``gen``, ``search``,
``equal-bandwidth`` and ``milp`` (HiGHS cross-check). NumPy only; the scenario generator (:mod:`edgeinfer.loading.scenario`)
and the study (:mod:`edgeinfer.loading.study`) are imported on demand.
"""

from edgeinfer.core.registry import ProblemSpec, register_problem
from edgeinfer.loading.problem import (
    PROBLEM,
    Batch,
    InstanceDoc,
    PartialLoadingInstance,
    PartialLoadingSolution,
    SolutionDoc,
    dump_instance,
    dump_solution,
    load_instance,
    load_solution,
    timeline,
    verify,
)

SPEC = register_problem(
    ProblemSpec(
        name=PROBLEM,
        description="PartialLoading: batch users of parameter-sharing models, maximise users served by the deadline",
        instance_model=InstanceDoc,
        solution_model=SolutionDoc,
        load_instance=load_instance,
        load_solution=load_solution,
        dump_solution=dump_solution,
        verify=verify,
        dump_instance=dump_instance,
        instance_type=PartialLoadingInstance,
        sense="max",
        objective="users served",
    )
)

from edgeinfer.loading import (  # noqa: E402,F401  (solvers register themselves)
    equal_bandwidth,
    exact,
    greedy,
    independent,
    milp,
    search,
    slotted,
    spec,
)

__all__ = [
    "PROBLEM",
    "SPEC",
    "Batch",
    "PartialLoadingInstance",
    "PartialLoadingSolution",
    "dump_instance",
    "dump_solution",
    "load_instance",
    "load_solution",
    "timeline",
    "verify",
]
