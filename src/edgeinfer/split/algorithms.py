"""Solvers registered for ``split_noma``: li-gd, gd, reference and the §VI baselines."""

from __future__ import annotations

from edgeinfer.core.registry import register_solver
from edgeinfer.core.solution import SolveOptions
from edgeinfer.core.status import SolveStatus
from edgeinfer.split import baselines
from edgeinfer.split.ligd import run_ligd
from edgeinfer.split.model import SplitInstance
from edgeinfer.split.problem import PROBLEM, SplitSolution, make_solution
from edgeinfer.split.reference import run_reference

__all__ = ["solve_ligd", "solve_gd", "solve_reference"]


@register_solver(PROBLEM, "li-gd", "Li-GD (Table I): relaxed subchannels, projected GD per split, warm-started "
                 "split to split, rounding, power polish (params eps, max_iter, polish, refine)")
def solve_ligd(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    dec, status, stats = run_ligd(inst, options, warm=True)
    return make_solution(inst, "li-gd", status, dec, stats=stats)


@register_solver(PROBLEM, "gd", "GD: as li-gd but every split starts cold from the same point (Corollary 4)")
def solve_gd(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    dec, status, stats = run_ligd(inst, options, warm=False)
    return make_solution(inst, "gd", status, dec, stats=stats)


@register_solver(PROBLEM, "reference", "exhaustive splits/subchannels with multi-start L-BFGS-B powers and "
                 "closed-form compute (small instances; params max_cases, starts)")
def solve_reference(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    dec, status, stats = run_reference(inst, options)
    return make_solution(inst, "reference", status, dec, stats=stats)


@register_solver(PROBLEM, "device-only", "every device runs the whole model locally")
def solve_device_only(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "device-only", SolveStatus.FEASIBLE, baselines.device_only(inst))


@register_solver(PROBLEM, "edge-only", "split 0 (raw input offloaded), full powers, r_max, greedy subchannels")
def solve_edge_only(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "edge-only", SolveStatus.FEASIBLE, baselines.edge_only(inst))


@register_solver(PROBLEM, "neurosurgeon", "latency-optimal split per device (interference-free rates, r_max, "
                 "full powers; no energy, no resource coupling)")
def solve_neurosurgeon(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "neurosurgeon", SolveStatus.FEASIBLE, baselines.neurosurgeon(inst))


@register_solver(PROBLEM, "dnn-surgery", "chain min-cut (latency) under the edge's capacity shared by its cell "
                 "(param edge_capacity_units, default r_max)")
def solve_dnn_surgery(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    cap = options.param("edge_capacity_units", None)
    return make_solution(inst, "dnn-surgery", SolveStatus.FEASIBLE,
                         baselines.dnn_surgery(inst, None if cap is None else float(cap)))


@register_solver(PROBLEM, "ecc-oma", "ECC with orthogonal access (no SIC): per-device exact split, powers and "
                 "compute on a balanced subchannel assignment")
def solve_ecc_oma(inst: SplitInstance, *, options: SolveOptions) -> SplitSolution:
    return make_solution(inst, "ecc-oma", SolveStatus.FEASIBLE, baselines.ecc_oma(inst), access="oma")
