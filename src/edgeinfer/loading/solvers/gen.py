"""``gen``: the paper's greedy Algorithm 3 (general case).

Each step picks, among the models not used yet, the model i and user count k with the most
users per unit time ``k / tau`` (eq. 22), where ``tau`` is the time model i needs to serve its
k cheapest users after the previous model (eq. 23: partial load + upload + compute), and
appends it. With ``slot_s > 0`` (the paper: 10 ms) times are counted in whole slots,
``tau = ceil(phi / slot_s)`` and the budget is ``floor(deadline / slot_s)`` slots, exactly as
published; with ``slot_s = 0`` (default) in continuous time. Ties on the rate go to the
larger k, then the lower model index. O(I K) per step vectorised, O(I^2 K / I) overall.
"""

from __future__ import annotations

import math

import numpy as np

from edgeinfer.core.errors import InvalidOptionError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import ModelCosts, deadline_of, load_matrix, model_costs
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.plans import plan_to_solution

#: most slots a slotted plan may have in the deadline (beyond, slot_s is a unit error)
MAX_SLOTS = 1e9

__all__ = ["solve_gen", "gen_plan"]


def gen_plan(inst: PartialLoadingInstance, costs: ModelCosts, *, slot_s: float) -> list[tuple[int, int]]:
    """Algorithm 3 on the cost curves ``costs`` (eqs. 22-23); ``slot_s = 0``: continuous time.

    Returns the plan ``[(model, k), ...]``.
    """
    full, d = load_matrix(inst)
    deadline = deadline_of(inst)
    # flat candidate list (model, k, c_i(k)) for k >= 1
    mods, ks, cs = [], [], []
    for i in range(inst.n_models):
        c = costs.cost[i]
        if len(c) > 1:
            mods.append(np.full(len(c) - 1, i))
            ks.append(np.arange(1, len(c)))
            cs.append(c[1:])
    if not mods:
        return []
    mod = np.concatenate(mods)
    kk = np.concatenate(ks).astype(float)
    cc = np.concatenate(cs)
    alive = np.ones(len(mod), dtype=bool)
    slotted = slot_s > 0
    if slotted and not inst.deadline_s / slot_s <= MAX_SLOTS:
        raise InvalidOptionError("slot_s", f"{slot_s:.3g} s gives more than {MAX_SLOTS:.0e} slots in the "
                                 f"deadline of {inst.deadline_s:g} s; use 0 for continuous time")
    budget = math.floor(inst.deadline_s / slot_s * (1 + 1e-12)) if slotted else deadline
    used = 0.0
    prev = -1
    plan: list[tuple[int, int]] = []
    while alive.any():
        load = full[mod] if prev < 0 else d[prev, mod]
        phi = load + cc
        if slotted:
            tau = np.ceil(phi / slot_s * (1 - 1e-12))
            tau = np.maximum(tau, 1.0)
        else:
            tau = phi
        ok = alive & (tau <= budget - used)
        if not ok.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(ok, kk / np.where(tau > 0, tau, np.inf), -np.inf)
            rate = np.where(ok & (tau <= 0), np.inf, rate)
        best = rate.max()
        cand = np.flatnonzero(rate == best)
        # larger k, then lower model index
        j = cand[np.lexsort((mod[cand], -kk[cand]))[0]]
        i, k = int(mod[j]), int(kk[j])
        plan.append((i, k))
        used += float(tau[j])
        prev = i
        alive &= mod != i
    return plan


#: ``slot_s`` of ``gen`` and ``equal-bandwidth`` (which runs ``gen`` on general instances)
SLOT_S = Param("slot_s", 0.0, float, "slot length (s) of Alg. 3's time count; 0: continuous time, "
               "0.01: as published", bounds=(0.0, None))


@register_solver(PROBLEM, "gen", "the paper's greedy Alg. 3 (most users per unit time next)", params=(SLOT_S,))
def solve_gen(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    slot = options.params["slot_s"]
    costs = model_costs(inst)
    plan = gen_plan(inst, costs, slot_s=slot)
    return plan_to_solution(inst, plan, algorithm="gen", status=SolveStatus.FEASIBLE, costs=costs,
                            stats={"slot_s": slot})
