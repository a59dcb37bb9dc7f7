"""``unicast``: the baseline. Each device receives its own model's ``N`` blocks, one
transmission per (device, block) at the device's own gain (``K N`` transmissions), with the
same power control (P3.1) as MBA."""

from __future__ import annotations

import numpy as np

from edgeinfer.broadcast.model import MAX_DURATION_S, power_control, qos_tol
from edgeinfer.broadcast.problem import (
    PROBLEM,
    MBAInstance,
    MBASolution,
    Transmission,
    infeasibility_certificate,
)
from edgeinfer.broadcast.solvers.plan import POWER, infeasible_solution
from edgeinfer.core.errors import UnsupportedInstanceError
from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus

__all__ = ["unicast_plan"]


def unicast_plan(inst: MBAInstance, power: str) -> MBASolution:
    """The unicast schedule with power control ``power`` (``optimal`` or ``constant``).

    Unicast is a baseline, not a solver of P1: where it cannot serve (a device's own model
    misses its QoS, or the budget cannot unicast ``K N`` blocks) it answers ``infeasible`` only
    when the instance itself is certifiably infeasible
    (:func:`~edgeinfer.broadcast.problem.infeasibility_certificate`, what ``verify`` checks);
    otherwise MBA may still serve it, and unicast refuses the instance
    (``UnsupportedInstanceError``, exit 2)."""
    K, N = inst.num_devices, inst.num_positions
    own_scores = inst.scores[inst.own_model, :, np.arange(K)].sum(axis=1)
    bad = np.flatnonzero(own_scores < inst.qos - qos_tol(inst.qos))
    if bad.size:
        k = int(bad[0])
        if infeasibility_certificate(inst) is not None:
            return infeasible_solution("unicast", f"device {inst.device_ids[k]!r}: its own model scores "
                                       f"{own_scores[k]:g} < qos {inst.qos[k]:g}")
        raise UnsupportedInstanceError(f"unicast: device {inst.device_ids[k]!r}: its own model scores "
                                       f"{own_scores[k]:g} < qos {inst.qos[k]:g}, so unicast cannot serve it")
    H = np.repeat(inst.gains, N)
    plan = power_control(H, mode=power, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                         block_bits=inst.block_bits, energy_j=inst.energy_j)
    if plan is None:
        short = (f"energy budget {inst.energy_j:g} J is below the least energy needed to unicast {K * N} blocks, "
                 f"each within {MAX_DURATION_S:g} s")
        if infeasibility_certificate(inst) is not None:
            return infeasible_solution("unicast", short)
        raise UnsupportedInstanceError(f"unicast: {short}")
    tx = tuple(Transmission(inst.model_ids[int(inst.own_model[k])], n, float(plan.power_w[k * N + n]),
                            float(plan.duration_s[k * N + n])) for k in range(K) for n in range(N))
    asm = {inst.device_ids[k]: tuple([inst.model_ids[int(inst.own_model[k])]] * N) for k in range(K)}
    return MBASolution(problem=PROBLEM, algorithm="unicast", status=SolveStatus.FEASIBLE,
                       objective=plan.total_latency_s, broadcast=tx, assembly=asm,
                       total_latency_s=plan.total_latency_s, energy_j=plan.energy_j,
                       stats={"blocks": K * N, "power": power, **({"beta": plan.beta} if plan.beta else {})})


@register_solver(PROBLEM, "unicast", "baseline: each device gets its own model's N blocks at its own gain, power control",
                 params=(POWER,))
def solve_unicast(inst: MBAInstance, *, options: SolveOptions) -> MBASolution:
    return unicast_plan(inst, options.params["power"])
