"""Bugs the fuzzer found inside a framework, pinned as ``xfail(strict=True)``.

They are fixed in the frameworks by other changes; when one lands, its test here XPASSes and
fails: remove the mark (and the matching entry of ``fuzzkit.KNOWN`` / ``KNOWN_PARAMS``).
Each asserts the contract: exit 0 or 2, one line, no traceback, within a few seconds.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest

import fuzz.fuzzkit as kit
from fuzz.fuzzkit import EXAMPLES, Hang, check_one_line_error, instance_doc, run_cli


def _contract(argv: list[str], limit_s: int = 20) -> None:
    old = kit.CALL_LIMIT_S
    kit.CALL_LIMIT_S = limit_s
    try:
        res = run_cli(argv)
    except Hang as exc:
        raise AssertionError(str(exc)) from None
    finally:
        kit.CALL_LIMIT_S = old
    assert res.rc in (0, 2), f"exit {res.rc}: {res.err.strip()}"
    if res.rc == 2:
        check_one_line_error(res)


# Fixed: noise 0 dBm/Hz is solved and verified; values outside the physical ranges of the
# format (noise in [-300, 300] dBm/Hz, tx power in [1e-15, 1e6] W) are refused (exit 2).
@pytest.mark.parametrize("field, value", [("noise_psd_dbm_per_hz", 0.0),
                                          ("noise_psd_dbm_per_hz", 5.720590791266008e16),
                                          ("noise_psd_dbm_per_hz", -1.74e12), ("tx_power_w", 2.2250738585072014e-308)])
def test_lymdo_extreme_noise_or_power(field: str, value: float) -> None:
    doc = copy.deepcopy(instance_doc("lymdo_slot_small"))
    doc["system"][field] = value
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "i.json"
        p.write_text(json.dumps(doc))
        _contract(["solve", str(p), "-a", "greedy-dpp", "-o", str(Path(tmp) / "o.json")])


def test_split_overflowing_energy() -> None:
    """Fixed by the split soundness work: the loader refuses an instance whose cost overflows."""
    doc = copy.deepcopy(instance_doc("split_noma_small"))
    doc["devices"][0]["kappa"] = 1e300
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "i.json"
        p.write_text(json.dumps(doc))
        _contract(["solve", str(p), "-a", "neurosurgeon", "-o", str(Path(tmp) / "o.json")])


def test_mba_unicast_infeasible_claim() -> None:
    """Fixed: unicast, a baseline, refuses what it cannot serve (exit 2) instead of claiming infeasible."""
    doc = copy.deepcopy(instance_doc("mba_small"))
    doc["scores"][3][5][3] = 0
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "i.json"
        p.write_text(json.dumps(doc))
        _contract(["solve", str(p), "-a", "unicast", "-o", str(Path(tmp) / "o.json")])


def test_lymdo_solver_and_verify_agree() -> None:
    """Fixed: lymdo_slot's verify uses the solvers' model (no 10 s cap)."""
    doc = copy.deepcopy(instance_doc("lymdo_slot_small"))
    doc["system"]["rho_cycles_per_mac"] = 32
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "i.json"
        p.write_text(json.dumps(doc))
        _contract(["solve", str(p), "-a", "greedy-dpp", "-o", str(Path(tmp) / "o.json")])


@pytest.mark.parametrize("algorithm", ["gen", "equal-bandwidth"])
def test_loading_subnormal_slot(algorithm: str) -> None:
    """Fixed: a slot giving more than 1e9 slots is an InvalidOptionError (exit 2)."""
    with tempfile.TemporaryDirectory() as tmp:
        _contract(["solve", str(EXAMPLES / "partial_loading_general.json"), "-a", algorithm, "-p", "slot_s=5e-324",
                   "-o", str(Path(tmp) / "o.json")])


def test_search_huge_kick_is_refused() -> None:
    """Fixed: kick is bounded (at most 10,000 moves), exit 2."""
    with tempfile.TemporaryDirectory() as tmp:
        _contract(["solve", str(EXAMPLES / "partial_loading_general.json"), "-a", "search", "--time-limit", "1",
                   "-p", f"kick={2**62}", "-o", str(Path(tmp) / "o.json")], limit_s=4)


def test_reference_many_starts_is_refused() -> None:
    """Fixed: starts is bounded (at most 1,000), exit 2."""
    with tempfile.TemporaryDirectory() as tmp:
        _contract(["solve", str(EXAMPLES / "split_noma_small.json"), "-a", "reference", "--time-limit", "1",
                   "-p", "starts=100000", "-o", str(Path(tmp) / "o.json")], limit_s=4)
