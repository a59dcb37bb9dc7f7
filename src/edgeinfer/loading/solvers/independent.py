"""``independent``: the optimum when shared blocks are reloaded anyway (Remark 3 baseline).

Every model switch loads the whole model (consecutive batches of the same model keep it).
Then the load of a plan does not depend on the order, and the best plan is a knapsack over
(model, users) solved exactly by :func:`~edgeinfer.loading.solvers.dp.chain_dp` with one model per
group. Its schedule is feasible for the real system too (partial loading only shortens it),
so the verifier counts the same users.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import deadline_of, load_matrix, model_costs, user_bound
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.dp import chain_dp
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["solve_independent"]


@register_solver(PROBLEM, "independent", "optimal schedule if every model switch reloads the whole model (baseline)")
def solve_independent(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    costs = model_costs(inst)
    full, _ = load_matrix(inst)
    deadline = deadline_of(inst)
    u = min(inst.n_users, user_bound(inst, costs))
    groups = [np.array([i]) for i in range(inst.n_models)]
    res = chain_dp(groups, np.zeros(inst.n_models), full, costs, deadline, u)
    return plan_to_solution(
        inst, res.plan, algorithm="independent", status=SolveStatus.FEASIBLE, costs=costs,
        stats={"planned_time_independent_s": res.time_s},
    )
