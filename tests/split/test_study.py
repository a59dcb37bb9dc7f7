"""The split-noma study (slow: the quick run takes about a minute on the shared machine)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quick_study_writes_summary_report_and_figures(tmp_path) -> None:
    from edgeinfer.split.study import ALGORITHMS, run

    summary = run(tmp_path, quick=True, progress=False)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert set(on_disk["latency_speedup"]) == set(ALGORITHMS)
    assert on_disk["latency_speedup"]["device-only"] == pytest.approx(1.0)
    assert on_disk["iterations"]["li-gd"] < on_disk["iterations"]["gd"]
    assert summary["energy_reduction"]["li-gd"] > 1.0
    assert (tmp_path / "report.md").read_text().count("|") > 20
    assert all((tmp_path / f"fig{k}.png").exists() for k in range(2, 12))


def test_study_module_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, edgeinfer.split.study; "
            "print([m for m in ('torch', 'matplotlib', 'scipy.optimize') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
