"""Studies from outside edgeinfer: register_study, plugins' studies, ``--algorithms`` with
registered solvers, and a Dask worker that cannot import a plugin's study."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from edgeinfer.cli import main
from edgeinfer.core import registry as core_registry
from edgeinfer.core.errors import EdgeInferError, InvalidOptionError, UnknownNameError
from edgeinfer.experiments import (
    Axis,
    Claim,
    Figure,
    Param,
    Study,
    TaskSpec,
    register_study,
    registry,
)
from edgeinfer.experiments.engine import TaskFailedError, run_study

pd = pytest.importorskip("pandas")


def _rt(task: TaskSpec) -> list[dict[str, Any]]:
    return [{"algorithm": a, "value": float(task.params["x"]) + task.realisation} for a in task.algorithms]


def _study(name: str = "my-plugin-study") -> Study:
    return Study(name=name, title="A study registered from Python", params=[Param("x", 1.0, float, "x (1)")],
                 sweeps={"xs": Axis("x", quick=(1.0, 2.0), full=(1.0, 2.0, 3.0))}, algorithms=["a", "b"],
                 metrics={"value": "value (1)"}, run_task=_rt, realisations=(2, 3),
                 figures=[Figure("fig_x", x="x", y="value", xlabel="x", ylabel="value")])


@pytest.fixture
def registered():
    st = register_study(_study())
    yield st
    registry.unregister_study(st.name)


def test_registered_study_is_listed_and_runs(registered, tmp_path, capsys):
    assert "my-plugin-study" in registry.available_studies()
    assert main(["reproduce", "--list"]) == 0
    assert "my-plugin-study: A study registered from Python" in capsys.readouterr().out
    assert main(["reproduce", "my-plugin-study", "--jobs", "1", "--no-figures", "--out", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert set(s["metrics"]) == {"a", "b"} and s["metrics"]["a"]["value"]["mean"] == pytest.approx(1.5)


def test_duplicate_study_names_are_an_error_naming_both(registered):
    assert register_study(registered) is registered  # the same object again: fine
    with pytest.raises(EdgeInferError, match=r"registered twice: by .*test_plugins and by .*test_plugins"):
        register_study(_study())
    with pytest.raises(EdgeInferError, match=r"'toy' registered twice: built in \(edgeinfer.experiments.studies.toy\)"):
        register_study(_study("toy"))


def test_plugin_entry_point_registers_a_study_before_listing(tmp_path, monkeypatch, capsys):
    """A module named in the entry-point group ``edgeinfer.plugins`` is imported before the
    studies are listed, so its study shows in ``reproduce --list`` and runs by name."""
    from importlib import metadata

    (tmp_path / "my_ep_plugin.py").write_text(textwrap.dedent('''
        from edgeinfer.experiments import Axis, Param, Study, register_study

        def run_task(task):
            return [{"algorithm": a, "value": task.params["x"]} for a in task.algorithms]

        register_study(Study(name="ep-study", title="From an entry point", params=[Param("x", 2.0, float, "x")],
                             sweeps={"xs": Axis("x", quick=(1.0,), full=(1.0,))}, algorithms=["only"],
                             metrics={"value": "value"}, run_task=run_task, realisations=(1, 1)))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = metadata.EntryPoint(name="my-ep-plugin", value="my_ep_plugin", group=core_registry.PLUGIN_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group=None, **kw: [ep] if group == ep.group else [])
    monkeypatch.setattr(core_registry, "_PLUGINS_LOADED", False)
    monkeypatch.setattr(core_registry, "_PLUGIN_ERRORS", {})
    try:
        assert main(["reproduce", "--list"]) == 0
        assert "ep-study: From an entry point" in capsys.readouterr().out
        assert main(["reproduce", "ep-study", "--jobs", "1", "--out", str(tmp_path / "o")]) == 0
    finally:
        registry.unregister_study("ep-study")
        sys.modules.pop("my_ep_plugin", None)


# ---------------------------------------------------------------------------------- --algorithms


@pytest.fixture
def wrapped_solver():
    """A solver registered from outside a framework (as a plugin would): ``slide``'s sequential
    baseline under another name."""
    from edgeinfer.core.registry import register_solver, solve

    core_registry.load_frameworks()

    @register_solver("slide", "my-sequential", "test plugin: sequential, renamed")
    def _solve(inst, *, options):
        return replace(solve("slide", "sequential", inst, options), algorithm="my-sequential")

    yield "my-sequential"
    core_registry._SOLVERS.pop(("slide", "my-sequential"), None)


def test_algorithms_compares_a_registered_solver(wrapped_solver, tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["reproduce", "slide", "--algorithms", f"slide,{wrapped_solver}", "-n", "1", "--jobs", "1",
            "--set", "num_users=8", "--setting", "default", "--out", str(out)]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["algorithms"] == ["slide", "my-sequential"] and set(s["metrics"]) == {"slide", "my-sequential"}
    df = pd.read_parquet(out / "results.parquet")
    assert set(df["algorithm"]) == {"slide", "my-sequential"}
    m = df.groupby("algorithm")["served_ratio"].mean()
    assert m["my-sequential"] <= m["slide"]  # sequential never beats SLIDE
    assert (out / "figures" / "served_vs_bandwidth.png").exists()
    claims = {c["claim"]: c for c in s["claims"]}
    seq = next(c for k, c in claims.items() if k.startswith("SLIDE significantly improves"))
    assert seq["measured"] is None and "sequential" in seq["note"] and seq["verdict"] == "not measured"
    assert "--algorithms" in (out / "report.md").read_text()
    # the algorithm list is part of the cache key: the default run computes its own tasks
    again = run_study("slide", out, realisations=1, overrides={"num_users": 8}, figures=False, setting="default")
    assert again.tasks_executed == again.tasks_total
    capsys.readouterr()
    assert main(["reproduce", "--list", "slide"]) == 0
    assert "my-sequential" in capsys.readouterr().out


def test_figures_take_added_solvers_by_prefix():
    from edgeinfer.experiments.report import figure_algorithms
    from edgeinfer.experiments.studies.partial_loading import STUDY

    fig6a = next(f for f in STUDY.figures if f.name == "fig6a")
    fig7a = next(f for f in STUDY.figures if f.name == "fig7a")
    run = ("bs:spec", "bs:search", "general:milp")
    assert figure_algorithms(STUDY, fig6a, run) == ["bs:spec", "bs:search"]
    assert figure_algorithms(STUDY, fig7a, run) == ["general:milp"]
    assert figure_algorithms(STUDY, fig7a, ("bs:spec",)) == []  # skipped


@pytest.mark.parametrize(("study", "names", "needle"), [
    ("slide", "slide,sequental", "did you mean 'sequential'"),
    ("partial-loading", "spec", "did you mean 'bs:spec'"),
    ("split-noma", "li-gd,ligd", "did you mean 'li-gd'"),
    ("mba", "bnb,unicats", "did you mean 'unicast'"),
])
def test_unknown_algorithm_is_exit_2_with_a_suggestion(study, names, needle, tmp_path, capsys):
    assert main(["reproduce", study, "--algorithms", names, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "o").exists()


def test_algorithms_validation():
    from edgeinfer.experiments.registry import get_study

    pl = get_study("partial-loading")
    assert pl.resolve_algorithms(["bs:spec", "bs:search", "general:milp"]) == ("bs:spec", "bs:search", "general:milp")
    with pytest.raises(InvalidOptionError, match="named twice"):
        pl.resolve_algorithms(["bs:spec", "bs:spec"])
    with pytest.raises(UnknownNameError):
        get_study("toy").resolve_algorithms(["exact", "spec"])  # toy has no problem: own names only
    assert get_study("toy").resolve_algorithms(["half"]) == ("half",)
    with pytest.raises(InvalidOptionError, match="lymdo_slot"):
        get_study("lymdo").resolve_algorithms(["convex"])
    assert get_study("lymdo").resolve_algorithms(["lymdo", "greedy-dpp"]) == ("lymdo", "greedy-dpp")


def test_algorithms_needs_one_study(tmp_path, capsys):
    assert main(["reproduce", "all", "--algorithms", "exact", "--out", str(tmp_path / "o")]) == 2
    assert "exactly one study" in capsys.readouterr().err


def _task(study: Study, algorithms: tuple[str, ...], **params: Any) -> TaskSpec:
    return TaskSpec(study=study.name, params={**study.defaults(True), **params}, algorithms=algorithms,
                    realisation=0, seed=np.random.SeedSequence(0, spawn_key=(0,)), quick=True)


def test_generic_path_partial_loading_split_mba():
    """Registered solvers the studies do not name run through the generic path, verified, with
    the studies' metrics."""
    from edgeinfer.experiments.studies import mba, partial_loading, split_noma

    rows = partial_loading.run_task(_task(partial_loading.STUDY, ("bs:spec", "bs:search", "general:exact"),
                                          n_users=12, n_models_bs=6, n_models_general=4))
    r = {x["algorithm"]: x for x in rows}
    assert set(r) == {"bs:spec", "bs:search", "general:exact"}
    assert r["bs:search"]["served_ratio"] <= r["bs:spec"]["served_ratio"] + 1e-12  # spec is optimal
    assert r["general:exact"]["runtime_s"] >= 0
    rows = split_noma.run_task(_task(split_noma.STUDY, ("device-only", "gd"), num_aps=1, users_per_ap=2,
                                     num_subchannels=2, model="nin"))
    r = {x["algorithm"]: x for x in rows}
    assert r["device-only"]["latency_speedup"] == 1.0 and np.isfinite(r["gd"]["latency_speedup"])
    assert r["gd"]["objective"] <= r["device-only"]["objective"] * (1 + 1e-9)
    rows = mba.run_task(_task(mba.STUDY, ("bnb", "milp"), num_devices=3, num_positions=4))
    r = {x["algorithm"]: x for x in rows}
    assert r["milp"]["blocks"] == r["bnb"]["blocks"]  # both exact


# ---------------------------------------------------------------------------------- Dask


def test_dask_worker_without_the_plugin_module_fails_fast(tmp_path, monkeypatch):
    """The study's run_task lives in a module only the client can import (a temp folder added to
    the client's sys.path after the workers started): one TaskFailedError line naming the
    worker and the module, within seconds, instead of a hang."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        (tmp_path / "client_only_plugin.py").write_text(textwrap.dedent('''
            from edgeinfer.experiments import Axis, Param, Study

            def run_task(task):
                return [{"algorithm": a, "value": 1.0} for a in task.algorithms]

            STUDY = Study(name="client-only", title="t", params=[Param("x", 1.0, float, "x")],
                          sweeps={"xs": Axis("x", quick=(1.0,), full=(1.0,))}, algorithms=["a"],
                          metrics={"value": "v"}, run_task=run_task, realisations=(2, 2))
        '''))
        monkeypatch.syspath_prepend(str(tmp_path))
        import client_only_plugin

        register_study(client_only_plugin.STUDY)
        t0 = time.perf_counter()
        try:
            with pytest.raises(TaskFailedError, match=r"Dask worker tcp://\S+ cannot import 'client_only_plugin'"):
                run_study("client-only", tmp_path / "o", backend="dask", scheduler=cluster.scheduler_address,
                          figures=False)
            assert main(["reproduce", "client-only", "--backend", "dask", "--scheduler", cluster.scheduler_address,
                         "--out", str(tmp_path / "o2")]) == 1
        finally:
            registry.unregister_study("client-only")
            sys.modules.pop("client_only_plugin", None)
        assert time.perf_counter() - t0 < 20


def test_claim_needs_is_reported_not_measured():
    from edgeinfer.experiments.report import _claims

    st = replace(_study(), claims=[Claim("a beats b", 0.1, lambda df: 1.0, needs=("a", "b"))])
    (row,) = _claims(st, pd.DataFrame(), ["a"])
    assert row["measured"] is None and row["error"] is None and "lacks b" in row["note"]
    (row,) = _claims(st, pd.DataFrame(), ["a", "b"])
    assert row["measured"] == 1.0
