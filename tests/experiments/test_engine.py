"""The experiment engine end to end on the toy study: sweep, seeds, cache, backends, outputs, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edgeinfer.cli import main
from edgeinfer.core.errors import EdgeInferError, UnknownNameError
from edgeinfer.experiments import Axis, Claim, Figure, Param, Study, registry
from edgeinfer.experiments.engine import ExperimentError, _task_seed, run_studies, run_study

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_REAL = 2
# default point + 3 + 3 sweep points; a=2 and b=1 coincide with the default point (merged)
N_POINTS, N_UNIQUE = 7, 5


def _metrics(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["sweep", "point", "realisation", "algorithm", "value", "error"]
    return df[cols].sort_values(cols[:4]).reset_index(drop=True)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    run = run_study("toy", out, quick=True, seed=7, jobs=1, realisations=N_REAL)
    return out, run


def test_sweep_table_is_tidy(toy_run):
    out, run = toy_run
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == N_POINTS * N_REAL * 2
    for col in ("study", "sweep", "point", "realisation", "seed", "a", "b", "noise_std", "work", "algorithm"):
        assert col in df.columns
    assert set(df["sweep"]) == {"default", "amplitude", "phase"}
    amp = df[df["sweep"] == "amplitude"]
    assert sorted(set(amp["a"])) == [0.0, 1.0, 2.0] and set(amp["b"]) == {1.0}
    assert (df["seed"] == 7).all()
    # the analytic function is recovered up to the noise
    ex = df[df["algorithm"] == "exact"]
    np.testing.assert_allclose(ex["value"], ex["a"] * np.sin(ex["b"]) + 1, atol=1.0)
    half = df[df["algorithm"] == "half"].reset_index(drop=True)
    assert (half["error"].to_numpy() == 0.5 * ex["error"].to_numpy()).all()
    assert run.tasks_total == N_UNIQUE * N_REAL and run.tasks_executed == run.tasks_total


def test_seeds_are_spawned_children():
    children = np.random.SeedSequence(7).spawn(5)
    for r in range(5):
        assert (_task_seed(7, r).generate_state(4) == children[r].generate_state(4)).all()


def test_figures_are_png_and_pdf(toy_run):
    out, _ = toy_run
    for name in ("fig_amplitude", "fig_phase"):
        png = out / "figures" / f"{name}.png"
        data = png.read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 5000
        assert (out / "figures" / f"{name}.pdf").read_bytes()[:4] == b"%PDF"


def test_summary_and_report(toy_run):
    out, _ = toy_run
    s = json.loads((out / "summary.json").read_text())
    for key in ("study", "title", "mode", "seed", "realisations", "default_point", "metrics", "claims",
                "tasks", "versions", "wall_time_s", "figures"):
        assert key in s
    assert s["seed"] == 7 and s["mode"] == "quick" and s["realisations"] == N_REAL
    assert set(s["metrics"]) == {"exact", "half"}
    assert set(s["metrics"]["exact"]) == {"value", "error"}
    m = s["metrics"]["exact"]["value"]
    assert m["n"] == N_REAL and m["ci95"] > 0 and abs(m["mean"] - (2 * np.sin(1) + 1)) < 1.0
    assert abs(s["metrics"]["half"]["value"]["mean"] - 0.5 * m["mean"]) < 1e-12
    (claim,) = s["claims"]
    assert claim["measured"] == pytest.approx(m["mean"]) and claim["paper"] == pytest.approx(2 * np.sin(1) + 1)
    for v in ("python", "numpy", "scipy", "edgeinfer"):
        assert v in s["versions"]
    rep = (out / "report.md").read_text()
    assert "![fig_phase](figures/fig_phase.png)" in rep
    assert "f(2, 1) = 2 sin(1) + 1" in rep and "seed 7" in rep and "numpy" in rep
    assert not list(out.glob(".staging-*"))


def test_rerun_hits_cache_and_is_identical(toy_run, tmp_path):
    out, _ = toy_run
    before = _metrics(pd.read_parquet(out / "results.parquet"))
    again = run_study("toy", out, quick=True, seed=7, jobs=1, realisations=N_REAL)
    assert again.tasks_executed == 0 and again.tasks_cached == again.tasks_total
    pd.testing.assert_frame_equal(before, _metrics(pd.read_parquet(out / "results.parquet")))
    # an interrupted run: only the missing tasks are computed
    import shutil

    shutil.copytree(out / "cache", tmp_path / "cache")
    shutil.copy(out / ".edgeinfer-results", tmp_path)
    files = sorted((tmp_path / "cache").glob("*.json"))
    for f in files[:3]:
        f.unlink()
    part = run_study("toy", tmp_path, quick=True, seed=7, jobs=1, realisations=N_REAL, figures=False)
    assert part.tasks_executed == 3
    pd.testing.assert_frame_equal(before, _metrics(pd.read_parquet(tmp_path / "results.parquet")))
    # more realisations reuse the first ones
    more = run_study("toy", tmp_path, quick=True, seed=7, jobs=1, realisations=N_REAL + 1, figures=False)
    assert more.tasks_executed == N_UNIQUE


def test_other_seed_differs(toy_run, tmp_path):
    out, _ = toy_run
    run_study("toy", tmp_path, quick=True, seed=8, jobs=1, realisations=N_REAL, figures=False, fmt="csv")
    a = _metrics(pd.read_parquet(out / "results.parquet"))
    b = _metrics(pd.read_csv(tmp_path / "results.csv"))
    assert not np.allclose(a["value"], b["value"])


def test_two_processes_bit_identical(toy_run, tmp_path):
    out, _ = toy_run
    run_study("toy", tmp_path, quick=True, seed=7, jobs=2, realisations=N_REAL, figures=False)
    pd.testing.assert_frame_equal(_metrics(pd.read_parquet(out / "results.parquet")),
                                  _metrics(pd.read_parquet(tmp_path / "results.parquet")), check_exact=True)


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_local_cluster_bit_identical(toy_run, tmp_path, processes):
    distributed = pytest.importorskip("dask.distributed")
    out, _ = toy_run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster:
        run = run_study("toy", tmp_path, quick=True, seed=7, realisations=N_REAL, figures=False,
                        backend="dask", scheduler=cluster.scheduler_address)
    assert run.tasks_executed == run.tasks_total
    pd.testing.assert_frame_equal(_metrics(pd.read_parquet(out / "results.parquet")),
                                  _metrics(pd.read_parquet(tmp_path / "results.parquet")), check_exact=True)


def test_overrides_and_config(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('noise_std = 0.0\n[toy]\nb = 0.5\n')
    code = main(["reproduce", "toy", "--config", str(cfg), "--set", "a=3", "-n", "1", "--jobs", "1",
                 "--no-figures", "--format", "csv", "--out", str(tmp_path / "o")])
    assert code == 0
    df = pd.read_csv(tmp_path / "o" / "results.csv")
    d = df[(df["sweep"] == "default") & (df["algorithm"] == "exact")]
    assert d["a"].tolist() == [3.0] and d["b"].tolist() == [0.5]
    assert d["value"].iloc[0] == pytest.approx(3 * np.sin(0.5) + 1, abs=1e-12)  # no noise
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["default_point"]["a"] == 3.0


def test_all_leaves_out_fixtures(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "STUDY_MODULES", {"toy": "edgeinfer.experiments.studies.toy",
                                                    "noop": "edgeinfer.experiments.studies.noop"})
    assert main(["reproduce", "all", "-n", "1", "--jobs", "1", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert set(s["studies"]) == {"noop"}  # toy is a test fixture (Study.fixture)
    assert not (tmp_path / "toy").exists()


def test_all_writes_each_study_and_combined(tmp_path, monkeypatch, capsys):
    import dataclasses

    from edgeinfer.experiments.studies import toy

    monkeypatch.setattr(toy, "STUDY", dataclasses.replace(toy.STUDY, fixture=False))
    monkeypatch.setattr(registry, "STUDY_MODULES", {"toy": "edgeinfer.experiments.studies.toy",
                                                    "noop": "edgeinfer.experiments.studies.noop",
                                                    "missing": "edgeinfer.no_such_pkg.study"})
    assert registry.available_studies() == ["toy", "noop"]
    code = main(["reproduce", "all", "-n", "1", "--jobs", "1", "--set", "toy.a=1", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| toy | exact | value |" in out and "| noop | a | value |" in out
    assert f"report: {tmp_path / 'report.md'}" in out
    s = json.loads((tmp_path / "summary.json").read_text())
    assert set(s["studies"]) == {"toy", "noop"}
    assert (tmp_path / "toy" / "summary.json").exists() and (tmp_path / "noop" / "results.parquet").exists()
    assert "[toy/report.md](toy/report.md)" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(("argv", "needle"), [
    (["reproduce", "tyo"], "did you mean 'toy'"),
    (["reproduce", "toy", "--set", "noise_sdt=1"], "did you mean 'noise_std'"),
    (["reproduce", "toy", "--set", "a=abc"], "toy.a: expected a number"),
    (["reproduce", "toy", "--set", "a=1e9"], "above the maximum"),
    (["reproduce", "toy", "--set", "work=1.5"], "expected an integer"),
    (["reproduce", "toy", "--set", "noise_std=-1"], "below the minimum"),
    (["reproduce", "toy", "--seed", "-1"], "--seed"),
    (["reproduce", "toy", "--jobs", "0"], "--jobs"),
    (["reproduce", "toy", "--config", "/nonexistent.toml"], "file not found"),
    (["reproduce", "toy", "--backend", "dask"], "--scheduler"),
    (["reproduce", "toy", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
])
def test_bad_input_one_line_exit_2_nothing_written(argv, needle, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_unknown_param_suggests(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'noise_std'"):
        run_studies("toy", tmp_path / "x", overrides={"noise_sd": 1})
    assert not (tmp_path / "x").exists()


def test_param_coercion():
    p = Param("n", 3, int, bounds=(1, 10))
    assert p.coerce("4") == 4 and p.coerce("1e1") == 10 and p.coerce(5.0) == 5
    with pytest.raises(ValueError):
        p.coerce("11")
    with pytest.raises(ValueError):
        p.coerce(True)
    f = Param("x", 1.0, float)
    assert f.coerce("1e8") == 1e8 and isinstance(f.coerce(2), float)
    with pytest.raises(ValueError, match="finite"):
        f.coerce("inf")
    b = Param("flag", False, bool)
    assert b.coerce("true") is True and b.coerce("0") is False
    s = Param("mode", "a", str, choices=("a", "b"))
    with pytest.raises(ValueError, match="not one of"):
        s.coerce("c")
    with pytest.raises(ValueError):
        Param("bad", 0, int, bounds=(1, 2))


def _rt(task):
    return [{"algorithm": "x", "m": 1.0}]


def test_study_declaration_checks():
    base = dict(name="s", title="t", params=[Param("p", 1.0)], algorithms=["x"], metrics={"m": "m"}, run_task=_rt)
    Study(**base, sweeps={"p": Axis("p", (1.0,), (1.0, 2.0))})
    with pytest.raises(ValueError, match="unknown parameter"):
        Study(**base, sweeps={"q": Axis("q", (1.0,), (1.0,))})
    with pytest.raises(ValueError, match="reserved"):
        Study(**base, sweeps={"default": Axis("p", (1.0,), (1.0,))})
    with pytest.raises(ValueError, match="unknown metric"):
        Study(**base, sweeps={}, figures=[Figure("f", x="p", y="nope", xlabel="", ylabel="")])


def _bad_rt(task):
    return [{"algorithm": "x"}]


def test_run_task_rows_are_checked(tmp_path):
    study = Study(name="bad", title="t", params=[Param("p", 1.0)], sweeps={}, algorithms=["x"],
                  metrics={"m": "m"}, run_task=_bad_rt)
    with pytest.raises(ExperimentError, match="lacks metrics"):
        run_study(study, tmp_path, realisations=1)
    assert isinstance(ExperimentError("x"), EdgeInferError)


def test_import_is_light():
    code = ("import sys, edgeinfer.experiments, edgeinfer.experiments.cli, edgeinfer.experiments.studies.toy; "
            "print([m for m in ('pandas','matplotlib','torch','joblib','dask','cvxpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_registry_lists_existing_modules_only():
    avail = registry.available_studies()
    assert "toy" in avail
    for name in avail:
        assert registry.get_study(name).name == name
    assert Path(__file__).parents[2].joinpath("docs", "experiments.md").exists()


def _curve_rt(task):
    rng = task.rng()
    bonus = {"small": 0.0, "big": 1.0}[task.params["model"]]
    return [{"algorithm": alg, "episode": e, "reward": e * (i + 1) + bonus + float(rng.normal(0, 0.1))}
            for i, alg in enumerate(task.algorithms) for e in range(3)]


def test_curves_and_categorical_axis(tmp_path):
    study = Study(
        name="curves", title="curves", params=[Param("model", "small", str, choices=("small", "big"))],
        sweeps={"models": Axis("model", quick=("small", "big"), full=("small", "big"))},
        algorithms=["lymdo", "ppo"], metrics={"reward": "reward (1)"}, run_task=_curve_rt,
        figures=[Figure("training", x="episode", y="reward", xlabel="episode", ylabel="reward"),
                 Figure("per_model", x="model", y="reward", xlabel="model", ylabel="reward")],
        claims=[Claim("broken measure", 1.0, lambda df: df["no_such_column"].mean())],
        summary=lambda df: {"episodes": int(df["episode"].max()) + 1},
    )
    assert study.figure_sweep(study.figures[0]) == "default" and study.figure_sweep(study.figures[1]) == "models"
    run = run_study(study, tmp_path, realisations=3, jobs=1)
    df = pd.read_parquet(tmp_path / "results.parquet")
    assert len(df) == 3 * 3 * 2 * 3  # (default, small, big) x realisations x algorithms x episodes
    assert run.tasks_total == 2 * 3  # the "small" point is the default point: computed once
    s = run.summary["metrics"]
    # summary averages the episodes within a realisation: ppo's reward is twice lymdo's
    assert s["ppo"]["reward"]["mean"] == pytest.approx(2 * s["lymdo"]["reward"]["mean"], abs=0.3)
    assert run.summary["extra"] == {"episodes": 3}
    (claim,) = run.summary["claims"]
    assert claim["measured"] is None and "KeyError" in claim["error"]
    assert "error: KeyError" in (tmp_path / "report.md").read_text()
    for name in ("training", "per_model"):
        assert (tmp_path / "figures" / f"{name}.png").read_bytes()[:8] == PNG_SIGNATURE


def test_refuses_foreign_non_empty_out_dir(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "figures").mkdir()
    assert main(["reproduce", "toy", "-n", "1", "--out", str(tmp_path)]) == 2
    assert "not written by edgeinfer" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "notes.txt"]


def test_list_and_missing_arguments(capsys, tmp_path):
    assert main(["reproduce", "--list", "toy"]) == 0
    out = capsys.readouterr().out
    assert "toy: Toy study" in out and "--set noise_std=0.1 (float in [0.0, None])" in out
    assert "sweep amplitude: a" in out
    assert main(["reproduce", "toy"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path / "o")]) == 2
    assert "name a study" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_styles_are_fixed_per_algorithm():
    from edgeinfer.experiments.style import style_for

    assert style_for("mba") == style_for("MBA") and style_for("bs:spec") == style_for("spec")
    assert style_for("some-new-algorithm") == style_for("some-new-algorithm")
    assert style_for("unicast")["color"] != style_for("mba")["color"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_failing_task_is_one_line_and_resumable(tmp_path, jobs):
    """A task that raises stops the run with TaskFailedError naming the realisation and the
    parameters; its traceback is on disk; tasks already finished stay cached for the rerun."""
    from edgeinfer.experiments.engine import TaskFailedError
    from edgeinfer.experiments.studies.noop import STUDY as NOOP

    with pytest.raises(TaskFailedError, match=r"realisation 3;.*fail_at=3.*deliberate failure") as err:
        run_study(NOOP, tmp_path, realisations=4, jobs=jobs, overrides={"fail_at": 3}, figures=False)
    logs = list((tmp_path / "cache").glob("*.failed.txt"))
    assert logs and "Traceback" in logs[0].read_text() and str(logs[0]) in str(err.value)
    cached = len(list((tmp_path / "cache").glob("*.json")))
    if jobs == 1:  # in order: realisations 0-2 of the first point finished before the failure
        assert cached >= 3
    rerun = run_study(NOOP, tmp_path, realisations=3, jobs=jobs, overrides={"fail_at": 3}, figures=False)
    assert rerun.tasks_cached == cached and rerun.tasks_executed == rerun.tasks_total - cached


def test_failing_task_cli_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "STUDY_MODULES", {"noop": "edgeinfer.experiments.studies.noop"})
    code = main(["reproduce", "noop", "-n", "2", "--jobs", "1", "--set", "fail_at=1", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgeinfer: error: study noop: a task failed")
