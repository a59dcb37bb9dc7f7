"""Every numeric field of every example at the extremes of a double, through ``edgeinfer solve``.

The Hypothesis fuzz (``test_fuzz_files.py``) mutates up to three random places of a document;
in 45 draws a run it rarely sets one given field to one given extreme, and the crashes below
all survived it. Here every numeric field kind (each key once; the first item of every list)
is set, one at a time, to each of :data:`EXTREMES`, and solved with the example's fast
algorithm: the answer must be exit 0 (solved, and ``solve`` verified it) or exit 2 with one
line, never exit 3. ``test_found_crashes`` pins the field, value and algorithm of each crash
this systematic sweep found (2026-12-04), with the algorithm that crashed.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fuzz.fuzzkit import SEEDS, check_one_line_error, instance_doc, run_cli, solution_doc

EXTREMES = (0, -1, 5e-324, 1e-300, 1e30, 1e300, 1.7e308)


def _kinds(doc: Any, prefix: tuple = (), *, last: bool = False) -> Iterator[tuple]:
    """One path per numeric field kind: dict keys, and the first item of every list (and the
    last one with ``last``)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _kinds(v, prefix + (k,), last=last)
    elif isinstance(doc, list) and doc:
        yield from _kinds(doc[0], prefix + (0,), last=last)
        if last and len(doc) > 1:
            yield from _kinds(doc[-1], prefix + (len(doc) - 1,), last=last)
    elif isinstance(doc, int | float) and not isinstance(doc, bool):
        yield prefix


def _set(doc: Any, path: tuple, value: Any) -> Any:
    out = copy.deepcopy(doc)
    d = out
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = value
    return out


def _contract(doc: Any, algorithm: str, what: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "i.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        res = run_cli(["solve", str(path), "-a", algorithm, "--time-limit", "5", "-o", str(Path(tmp) / "o.json")])
    assert res.rc in (0, 2), f"{what} -a {algorithm}: exit {res.rc}: {res.err.strip()}"
    if res.rc == 2:
        check_one_line_error(res, what)


@pytest.mark.parametrize("example", sorted(SEEDS))
def test_every_numeric_field_at_the_extremes_is_solved_or_refused(example: str) -> None:
    doc = instance_doc(example)
    for path in _kinds(doc):
        for value in EXTREMES:
            _contract(_set(doc, path, value), SEEDS[example][0], f"{example} {path} = {value!r}")


#: (example, field, value, algorithm): each exited 3 before the fix named in docs/formats.md
FOUND = [
    ("mba_small", ("bandwidth_hz",), 1.6e169, "greedy"),
    ("mba_small", ("noise_w",), 1e-300, "bnb"),
    ("mba_small", ("energy_j",), 1e300, "milp"),
    ("mba_small", ("block_bits",), 5e-324, "bnb"),
    ("mba_small", ("scores", 0, 0, 0), 1e15, "milp"),
    ("mba_small", ("scores", 0, 0, 0), 1e30, "latency"),
    ("lymdo_slot_small", ("system", "f_ue_max_hz"), 1e300, "greedy-dpp"),
    ("lymdo_slot_small", ("system", "f_es_max_hz"), 5e-324, "exhaustive"),
    ("lymdo_slot_small", ("system", "f_es_max_hz"), 1.7e308, "greedy-dpp"),
    ("partial_loading_general", ("users", 0, "data_bits"), 5e-324, "gen"),
    ("partial_loading_backbone", ("users", 0, "data_bits"), 5e-324, "spec"),
    ("split_noma_small", ("system", "bandwidth_up_hz"), 1e30, "edge-only"),
    ("split_noma_small", ("system", "bandwidth_up_hz"), 1e30, "reference"),
    ("split_noma_small", ("system", "noise_psd_dbm_per_hz"), 0, "edge-only"),
    ("split_noma_small", ("system", "noise_psd_dbm_per_hz"), -1, "edge-only"),
    ("split_noma_small", ("system", "compute_units_max"), 1e300, "dnn-surgery"),
    ("split_noma_small", ("system", "edge_kappa"), 1e300, "reference"),
    ("split_noma_small", ("system", "edge_unit_flops_per_s"), 5e-324, "edge-only"),
    ("split_noma_small", ("devices", 0, "weight_energy"), 1.7e308, "neurosurgeon"),
    ("split_noma_small", ("devices", 0, "weight_latency"), 1e300, "reference"),
    ("split_noma_small", ("devices", 0, "uplink_gain", 0, 0), 1e-30, "reference"),
]


@pytest.mark.parametrize("example, path, value, algorithm", FOUND)
def test_found_crashes(example: str, path: tuple, value: float, algorithm: str) -> None:
    _contract(_set(instance_doc(example), path, value), algorithm, f"{example} {path} = {value!r}")


@pytest.mark.parametrize("example", sorted(SEEDS))
def test_every_numeric_field_of_a_solution_at_the_extremes_is_judged(example: str) -> None:
    """``verify`` on the example's solution with one numeric field (first and last list items; not
    ``stats`` or ``wall_time_s``) at each extreme: exit 0, 1 (wrong, with reasons) or 2 (one line).
    A slide speed of 1e300 FLOP/s raised OverflowError in the energy (``speed**2`` of a Python
    float; exit 3) before."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = Path(tmp) / "i.json"
        inst.write_text(json.dumps(instance_doc(example)), encoding="utf-8")
        sol = solution_doc(example)
        for path in dict.fromkeys(_kinds(sol, last=True)):
            if path[0] in ("stats", "wall_time_s"):
                continue
            for value in EXTREMES:
                out = Path(tmp) / "s.json"
                out.write_text(json.dumps(_set(sol, path, value)), encoding="utf-8")
                res = run_cli(["verify", str(inst), str(out)])
                what = f"{example} solution {path} = {value!r}"
                assert res.rc in (0, 1, 2), f"{what}: exit {res.rc}: {res.err.strip()}"
                if res.rc == 2:
                    check_one_line_error(res, what)


#: the slow sweep's values: the extremes plus the ends of the ranges the formats declare
WIDE = (*EXTREMES, 1e-30, 1e-9, 1, 1e6, 1e9, 1e12, 1e15, 1e18, -300, 300)


def _every_solver() -> list[tuple[str, str]]:
    from edgeinfer.core.registry import list_solvers
    by_problem = {instance_doc(e)["problem"]: e for e in sorted(SEEDS)}
    out = []
    for s in list_solvers():
        for example in sorted(SEEDS):
            if instance_doc(example)["problem"] == s.problem and (example == by_problem[s.problem]
                                                                   or example.startswith("partial_loading")):
                out.append((example, s.algorithm))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("example, algorithm", _every_solver())
def test_every_field_at_the_extremes_for_every_solver(example: str, algorithm: str) -> None:
    """The sweep above with every registered solver and the ranges' ends (``-m slow``: 36 tests,
    4 min 47 s with ``-n 2`` on the 2-core machine; a hand-run form of it found the crashes pinned
    in :data:`FOUND`)."""
    doc = instance_doc(example)
    for path in _kinds(doc):
        for value in WIDE:
            _contract(_set(doc, path, value), algorithm, f"{example} {path} = {value!r}")
