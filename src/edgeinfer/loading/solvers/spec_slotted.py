"""``spec-slotted``: the paper's slotted DP (Algorithms 1-2, eqs. 15-21) as published.

Time is counted in slots of ``slot_s`` (the paper: 10 ms) and every model's share of the
schedule, load + upload + compute, is rounded UP to whole slots; the budget is
``floor(deadline / slot_s)`` slots. This loses users compared with ``spec`` (rounding) but
is always feasible in continuous time, since each model's real time is at most its slots.
The only departure from the text: the upload term uses eq. (11)'s sum, not eq. (16)'s
slowest-user term (see docs/loading.md).

* ``q_m(î, i, tau)`` (15): most users model i serves in tau slots after model î (0: none);
* ``g_m(i, tau)`` (18-19): most users of the first i models of cluster m in tau slots, with
  the published guard that model î is really the last one used
  (``g(î, .) > 0`` and ``g(î, .) != g(î-1, .)``);
* ``f(m, tau)`` (20): across clusters; ``U = f(M, T)`` (21); Algorithm 1 backtracks.

Complexity O(M I_m^2 T^2) with T the number of slots.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidOptionError
from edgeinfer.core.options import Param
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.loading.model import ModelCosts, detect_backbone, model_costs
from edgeinfer.loading.problem import PROBLEM, PartialLoadingInstance, PartialLoadingSolution
from edgeinfer.loading.solvers.plans import plan_to_solution

__all__ = ["solve_spec_slotted", "slotted_plan"]

#: "minus infinity" of the integer user tables (no feasible choice)
NEG = -(10**9)
#: the most slots the DP accepts (its time and memory grow as T^2)
MAX_SLOTS = 5000


def slotted_plan(inst: PartialLoadingInstance, slot_s: float,
                 costs: ModelCosts) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """Algorithms 1-2 with ``T = floor(deadline / slot_s)`` slots; returns (plan, stats)."""
    bb = detect_backbone(inst)
    T = int(math.floor(inst.deadline_s / slot_s * (1 + 1e-12)))
    taus = np.arange(T + 1)
    budget_s = taus * slot_s * (1 + 1e-12)
    t2 = taus[:, None]
    th = taus[None, :]
    diff = t2 - th  # tau2 - tauhat
    valid_shift = (th >= 1) & (diff >= 0)
    diff_c = np.where(valid_shift, diff, 0)
    gs: list[np.ndarray] = []  # g_m(I_m, .) per cluster
    choices: list[dict[str, Any]] = []
    for grp in bb.clusters:
        models = [int(i) for i in grp if len(costs.cost[int(i)]) > 1]
        nm = len(models)
        g = np.zeros((nm + 1, T + 1), dtype=np.int64)
        ch_type = np.zeros((nm + 1, T + 1), dtype=np.int8)  # 1: after î, 2: first of cluster, 3: skip
        ch_prev = np.zeros((nm + 1, T + 1), dtype=np.int64)
        ch_tau = np.zeros((nm + 1, T + 1), dtype=np.int64)
        ch_k = np.zeros((nm + 1, T + 1), dtype=np.int64)

        def q(ih: int, pos: int, models: list[int] = models) -> np.ndarray:
            i = models[pos - 1]
            if ih == 0:
                load = bb.prefix_s[i] + bb.own_s[i]
            else:
                j = models[ih - 1]
                load = bb.own_s[i] + max(bb.prefix_s[i] - bb.prefix_s[j], 0.0)
            phi = load + costs.cost[i][1:]
            return np.searchsorted(phi, budget_s, side="right")  # max k with phi_k <= tau*slot

        for pos in range(1, nm + 1):
            # term 3: skip model
            best = g[pos - 1].copy()
            typ = np.full(T + 1, 3, dtype=np.int8)
            prv = np.full(T + 1, pos - 1)
            tau_c = np.zeros(T + 1, dtype=np.int64)
            kk = np.zeros(T + 1, dtype=np.int64)
            # term 2: first model of the cluster, all tau2 slots
            q0 = q(0, pos)
            better = (q0 > 0) & (q0 >= best)
            best = np.where(better, q0, best)
            typ = np.where(better, 2, typ)
            kk = np.where(better, q0, kk)
            tau_c = np.where(better, taus, tau_c)
            # term 1: after model ih with tauhat slots
            for ih in range(1, pos):
                qi = q(ih, pos)  # (T+1,) over tauhat
                gv = g[ih]
                okg = (gv > 0) & (gv != g[ih - 1])
                a = np.where(okg, gv, NEG)
                cand = np.where(valid_shift & (qi[None, :] > 0), a[diff_c] + qi[None, :], NEG)
                jbest = np.argmax(cand, axis=1)
                vbest = cand[taus, jbest]
                better = vbest >= best
                better &= vbest > 0
                best = np.where(better, vbest, best)
                typ = np.where(better, 1, typ)
                prv = np.where(better, ih, prv)
                tau_c = np.where(better, jbest, tau_c)
                kk = np.where(better, qi[jbest], kk)
            g[pos] = best
            ch_type[pos], ch_prev[pos], ch_tau[pos], ch_k[pos] = typ, prv, tau_c, kk
        gs.append(g[nm])
        choices.append({"models": models, "type": ch_type, "prev": ch_prev, "tau": ch_tau, "k": ch_k, "nm": nm})
    # f over clusters
    M = len(gs)
    f = np.zeros((M + 1, T + 1), dtype=np.int64)
    fch = np.zeros((M + 1, T + 1), dtype=np.int64)
    for m in range(1, M + 1):
        gm = gs[m - 1]
        cand = np.where(th <= t2, f[m - 1][np.where(th <= t2, diff, 0)] + gm[th], NEG)
        fch[m] = np.argmax(cand, axis=1)
        f[m] = cand[taus, fch[m]]
    # Algorithm 1
    plan_rev: list[tuple[int, int]] = []
    tau1 = T
    for m in range(M, 0, -1):
        tt = int(fch[m, tau1])
        ch = choices[m - 1]
        pos, tau2 = ch["nm"], tt
        while pos > 0 and tau2 > 0:
            kind = int(ch["type"][pos, tau2])
            if kind == 3:
                pos -= 1
                continue
            k = int(ch["k"][pos, tau2])
            plan_rev.append((ch["models"][pos - 1], k))
            if kind == 2:
                break
            th_ = int(ch["tau"][pos, tau2])
            pos, tau2 = int(ch["prev"][pos, tau2]), tau2 - th_
        tau1 -= tt
    plan_rev.reverse()
    return plan_rev, {"slots": T, "slot_s": slot_s, "dp_served": int(f[M, T])}


@register_solver(
    PROBLEM, "spec-slotted", "the paper's slotted DP (Alg. 1-2) as published",
    params=(Param("slot_s", 0.01, float, "slot length (s, > 0; the paper: 10 ms); at most 5000 slots in the deadline",
                  bounds=(0.0, None)),),
)
def solve_spec_slotted(inst: PartialLoadingInstance, *, options: SolveOptions) -> PartialLoadingSolution:
    slot = options.params["slot_s"]
    if slot <= 0:
        raise InvalidOptionError("slot_s", f"{slot!r} must be a positive number of seconds")
    if inst.deadline_s / slot > MAX_SLOTS:
        raise InvalidOptionError("slot_s", f"{inst.deadline_s / slot:.0f} slots is too many (max {MAX_SLOTS})")
    costs = model_costs(inst)
    plan, stats = slotted_plan(inst, slot, costs)
    return plan_to_solution(inst, plan, algorithm="spec-slotted", status=SolveStatus.FEASIBLE, costs=costs,
                            stats=stats)
