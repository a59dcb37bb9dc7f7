"""Claim verdicts, study settings and the claims tables (issue 14)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from edgeinfer.cli import main
from edgeinfer.experiments import registry
from edgeinfer.experiments.engine import run_study
from edgeinfer.experiments.report import verdict_counts
from edgeinfer.experiments.studies import toy
from edgeinfer.experiments.study import VERDICTS, Claim, Measured


def _claim(**kw):
    return Claim("c", 1.0, lambda df: 0.0, **kw)


def test_measured_of_values_gives_t_interval():
    m = Measured.of([1.0, 2.0, 3.0, float("nan")])
    assert m.n == 3 and m.mean == pytest.approx(2.0)
    # t(0.975, 2) = 4.3027, s = 1, sqrt(3)
    assert m.high - m.mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    one = Measured.of(5.0)
    assert (one.mean, one.low, one.high, one.n) == (5.0, None, None, 1)
    assert Measured.of([7.0]).low is None
    with pytest.raises(ValueError):
        Measured.of([float("inf")])
    with pytest.raises(ValueError):
        Measured.of(float("nan"))


@pytest.mark.parametrize(("m", "verdict"), [
    (Measured(1.0), "reproduced"),
    (Measured(2.3), "partly"),
    (Measured(3.0), "not reproduced"),
    (Measured(1.0, 0.2, 2.4, 5), "reproduced"),     # mean in target, interval inside (0, 2.5)
    (Measured(1.0, -5.0, 7.0, 5), "partly"),        # mean in target, interval too wide to decide
    (Measured(3.0, 1.9, 4.1, 5), "partly"),         # the interval overlaps the target, the mean does not
    (Measured(3.0, 2.4, 3.6, 5), "partly"),
    (Measured(3.0, 2.6, 3.4, 5), "not reproduced"),
    (None, "not measured"),
])
def test_verdict_rule(m, verdict):
    c = _claim(target=(0.5, 2.0), partly=(0.0, 2.5))
    assert c.judge(m)[0] == verdict


def test_reasons_and_fixed_verdicts():
    c = _claim(target=(0.0, 1.0), reasons={"not reproduced": "the SNR is too high"})
    assert c.judge(Measured(5.0)) == ("not reproduced", "the SNR is too high")
    assert "inside 0 to 1" in c.judge(Measured(0.5))[1]
    assert "inside >= 2" in _claim(target=(2.0, math.inf)).judge(Measured(3.0))[1]
    assert "too few realisations" in c.judge(Measured(0.5, -3.0, 4.0, 3))[1]
    # without partly, the interval may reach one target width past each side
    assert c.tolerance_range == (-1.0, 2.0)
    assert c.judge(Measured(0.5, -0.9, 1.9, 4))[0] == "reproduced"
    assert c.judge(Measured(0.5, -1.1, 1.9, 4))[0] == "partly"
    assert _claim(target=(1.1, math.inf), partly=(1.02, 1.1)).tolerance_range == (1.02, math.inf)
    nc = _claim(verdict="not comparable", reasons={"not comparable": "other hardware"})
    assert nc.judge(Measured(1.0)) == ("not comparable", "other hardware")
    assert not _claim().judged and nc.judged


@pytest.mark.parametrize("kw", [
    {"target": (2.0, 1.0)}, {"target": (0.0, float("nan"))}, {"partly": (1,)},
    {"verdict": "maybe"}, {"verdict": "not comparable"}, {"reasons": {"yes": "x"}},
])
def test_bad_claim_declarations(kw):
    with pytest.raises(ValueError):
        _claim(**kw)


def test_settings_declaration_checked():
    with pytest.raises(ValueError, match="unknown parameter"):
        dataclasses.replace(toy.STUDY, settings={"paper": {"nope": 1}})
    with pytest.raises(ValueError, match="must match"):
        dataclasses.replace(toy.STUDY, settings={"default": {"a": 1.0}})
    with pytest.raises(ValueError, match="above the maximum"):
        dataclasses.replace(toy.STUDY, settings={"paper": {"a": 1e9}})
    bad_claim = dataclasses.replace(toy.STUDY.claims[0], setting="paper")
    with pytest.raises(ValueError, match="unknown setting"):
        dataclasses.replace(toy.STUDY, claims=[bad_claim])


def _toy_with_paper_setting():
    paper_claim = Claim("f(3, 1) = 3 sin(1) + 1", 3 * math.sin(1.0) + 1, toy._mean_value, unit="1",
                        target=(3 * math.sin(1.0) + 0.75, 3 * math.sin(1.0) + 1.25), setting="paper")
    return dataclasses.replace(toy.STUDY, settings={"paper": {"a": 3.0}}, fixture=False,
                               setting_notes={"paper": "a = 3"},
                               claims=[*toy.STUDY.claims[:1], paper_claim])


def test_every_setting_runs_into_its_own_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(toy, "STUDY", _toy_with_paper_setting())
    monkeypatch.setattr(registry, "STUDY_MODULES", {"toy": "edgeinfer.experiments.studies.toy"})
    assert main(["reproduce", "toy", "-n", "3", "--jobs", "1", "--no-figures", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("Verdicts per paper:") > out.index("| study | claim |")  # the counts come last
    assert "| toy | default | 1 | 0 | 0 | 0 | 0 |" in out
    d = json.loads((tmp_path / "toy" / "claims.json").read_text())
    p = json.loads((tmp_path / "toy.paper" / "claims.json").read_text())
    # the default setting judges its claim only; the paper setting both (setting None = every setting)
    assert [c["claim"] for c in d["claims"]] == ["f(2, 1) = 2 sin(1) + 1"]
    assert [c["claim"] for c in p["claims"]] == ["f(2, 1) = 2 sin(1) + 1", "f(3, 1) = 3 sin(1) + 1"]
    assert p["claims"][1]["verdict"] == "reproduced" and p["claims"][0]["verdict"] == "not reproduced"
    assert p["claims"][1]["n"] == 3 and p["claims"][1]["low"] < p["claims"][1]["measured"] < p["claims"][1]["high"]
    summary = json.loads((tmp_path / "toy.paper" / "summary.json").read_text())
    assert summary["default_point"]["a"] == 3.0 and summary["setting"] == "paper"
    combined = (tmp_path / "report.md").read_text()
    assert combined.index("## Verdicts per paper") < combined.index("## Paper claims")
    assert "| toy | paper | 1 | 1 | 0 | 0 | 0 |" not in combined  # the default claim fails under paper
    assert "| toy | paper | 1 | 0 | 1 | 0 | 0 |" in combined
    assert json.loads((tmp_path / "claims.json").read_text())["claims"][0]["run"] == "toy"


def test_one_setting_writes_into_out(tmp_path, monkeypatch):
    monkeypatch.setattr(toy, "STUDY", _toy_with_paper_setting())
    run = run_study("toy", tmp_path, realisations=2, figures=False, setting="paper")
    assert run.setting == "paper" and (tmp_path / "claims.json").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["default_point"]["a"] == 3.0


def test_unknown_setting_is_exit_2(tmp_path, capsys):
    assert main(["reproduce", "toy", "--setting", "papr", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "setting" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_verdict_counts_list_every_verdict():
    counts = verdict_counts([{"verdict": "partly"}, {"verdict": "partly"}])
    assert list(counts) == list(VERDICTS) and counts["partly"] == 2 and sum(counts.values()) == 2


def test_one_realisation_prints_no_zero_interval(tmp_path):
    run = run_study("toy", tmp_path, realisations=1, figures=False)
    c = run.summary["claims"][0]
    assert c["n"] == 1 and c["low"] is None
    report = (tmp_path / "report.md").read_text()
    assert "(n=1)" in report
    for v in run.summary["metrics"]["exact"].values():
        assert v["ci95"] is None and v["n"] == 1
    assert "| toy | exact | value |" in report and "| 0 | 1 |" not in report


def test_band_needs_three_realisations(tmp_path):
    import matplotlib.collections

    from edgeinfer.experiments.report import plot_figure

    for n, has_band in ((2, False), (3, True)):
        run = run_study("toy", tmp_path / str(n), realisations=n, figures=False, fmt="csv")

        df = pd.read_csv(run.out_dir / "results.csv")
        fig = plot_figure(toy.STUDY, toy.STUDY.figures[0], df, toy.STUDY.algorithms)
        ax = fig.axes[0]
        bands = [c for c in ax.collections if isinstance(c, matplotlib.collections.PolyCollection)]
        assert bool(bands) is has_band
        assert all(f"(n={n})" in t.get_text() for t in ax.get_legend().get_texts())
        assert np.isfinite([line.get_ydata() for line in ax.get_lines()]).all()
