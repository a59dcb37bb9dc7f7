"""``equal-bandwidth``: the ablation of Fig. 8 (B split into r equal sub-channels).

Each user of a batch gets ``B / r`` (so a batch holds at most ``r`` users) and the batch's
upload lasts until its slowest user finishes (eq. 7 with ``y = 1/r``). The scheduling
algorithm is then run on these cost curves: ``spec``'s exact DP on backbone-sharing
instances, ``gen`` otherwise (``base`` = ``auto`` | ``spec`` | ``gen``), as in §VII-D.
Within a model the k cheapest users are split into ``ceil(k / min(b, r))`` batches with the
short batch first, which minimises the sum of the batch maxima.
"""

from __future__ import annotations

from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import deadline_of, detect_backbone, model_costs, user_bound
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.dp import chain_dp
from edgeinfer.loading.solvers.gen import SLOT_S, gen_plan
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["solve_equal_bandwidth"]


@register_solver(
    PROBLEM, "equal-bandwidth", "Fig. 8 ablation: r equal sub-channels, then spec's DP or gen",
    params=(
        Param("r", 10, int, "equal sub-channels of B/r each (at most r users per batch)", bounds=(1, None)),
        Param("base", "auto", str, "scheduler on the equal-share costs: spec (backbone sharing), gen, "
              "or auto (spec when the instance is backbone-sharing, else gen)", choices=("auto", "spec", "gen")),
        SLOT_S,
    ),
)
def solve_equal_bandwidth(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    r = options.params["r"]
    base = options.params["base"]
    costs = model_costs(inst, subchannels=r)
    bb = None
    if base in ("auto", "spec"):
        try:
            bb = detect_backbone(inst)
        except UnsupportedInstanceError:
            if base == "spec":
                raise
    if bb is not None:
        u = min(inst.n_users, user_bound(inst, costs))
        plan = chain_dp(bb.clusters, bb.prefix_s, bb.own_s, costs, deadline_of(inst), u).plan
        used = "spec"
    else:
        plan = gen_plan(inst, costs, slot_s=options.params["slot_s"])
        used = "gen"
    return plan_to_solution(inst, plan, algorithm="equal-bandwidth", status=SolveStatus.FEASIBLE, costs=costs,
                            stats={"r": r, "base": used})
