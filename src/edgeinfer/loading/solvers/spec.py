"""``spec``: the exact optimum of the backbone-sharing case in polynomial time.

Given the set S of models served, any schedule loads at least the union of their blocks
once (the GPU starts empty), i.e. ``sum_{i in S} own_i + sum_m prefix_m(max_{i in S_m} l_i)``
in the backbone-sharing case, and serving each cluster's models in ascending ``l_i``
(Corollary 1) loads exactly that. Upload + compute of model i is at least ``c_i(k_i)``
(Theorem 2). So the optimum is a plan in the order (cluster, ascending l_i), and
:func:`~edgeinfer.loading.solvers.dp.chain_dp` finds the best such plan exactly. Proof in
docs/loading.md. Time O(U K + I) after sorting, U = bound on the users served.
"""

from __future__ import annotations

from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import deadline_of, detect_backbone, model_costs, user_bound
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.dp import chain_dp
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["solve_spec"]


@register_solver(PROBLEM, "spec", "exact DP for clustered backbone sharing (continuous time)", exact=True)
def solve_spec(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    bb = detect_backbone(inst)
    costs = model_costs(inst)
    deadline = deadline_of(inst)
    u = min(inst.n_users, user_bound(inst, costs))
    res = chain_dp(bb.clusters, bb.prefix_s, bb.own_s, costs, deadline, u)
    return plan_to_solution(
        inst, res.plan, algorithm="spec", status=SolveStatus.OPTIMAL, costs=costs,
        stats={"planned_time_s": res.time_s, "clusters": len(bb.clusters), "user_bound": u},
    )
