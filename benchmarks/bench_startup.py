"""Start-up time of the command line: ``edgeinfer --help`` and ``edgeinfer solve`` must not
import torch or matplotlib and must start in under 0.5 s (issue 2)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "partial_loading_backbone.json"


def _time(cmd: list[str], n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> list[dict]:
    n = 3 if quick else 7
    py = sys.executable
    base = _time([py, "-c", "pass"], n)
    rows = [{"benchmark": "startup", "case": "python -c pass (reference)", "value": base, "unit": "s"}]
    for label, args in [("edgeinfer --help", ["--help"]), ("edgeinfer list", ["list"])] + (
        [("edgeinfer solve (example, spec)", ["solve", str(EXAMPLE), "-a", "spec", "-o", "-"])] if EXAMPLE.exists() else []
    ):
        t = _time([py, "-m", "edgeinfer.cli", *args], n)
        rows.append({"benchmark": "startup", "case": label, "value": t, "unit": "s", "target": 0.5, "ok": t < 0.5})
    probe = subprocess.run(
        [py, "-c", "import sys, edgeinfer.cli as c; c.main(['list']); "
         "print('HEAVY', [m for m in ('torch','matplotlib','gymnasium','stable_baselines3','cvxpy') if m in sys.modules])"],
        capture_output=True, text=True, check=False)
    heavy = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "?"
    rows.append({"benchmark": "startup", "case": "heavy modules imported by `list`", "value": heavy, "unit": "",
                 "ok": heavy.endswith("[]")})
    return rows
