"""Outputs of a study run: tidy table, figures, ``summary.json``, ``report.md``.

Everything is written into a staging folder and moved into place at the end
(:func:`edgeinfer.experiments.common.commit_staged`), so an output folder never holds a
half-written report. matplotlib is imported only inside :func:`draw_figures`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.experiments.common import clean, commit_staged, stage_dir, t_halfwidth
from edgeinfer.experiments.study import Figure, Study, algorithm_prefix

__all__ = ["summarise", "draw_figures", "figure_algorithms", "write_study", "write_combined", "summary_table"]


def _per_realisation(df: Any, metric: str, by: Sequence[str]) -> Any:
    """Mean of ``metric`` within each (by..., realisation) group (several rows per algorithm allowed)."""
    return df.groupby([*by, "realisation"], sort=False)[metric].mean().reset_index()


def summarise(study: Study, df: Any, algorithms: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Per algorithm (of the run; default the study's) and metric at the default point: mean,
    95% t half-width, n realisations."""
    d = df[df["sweep"] == "default"]
    metrics = list(study.summary_metrics or study.metrics)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for alg in (study.algorithms if algorithms is None else algorithms):
        da = d[d["algorithm"] == alg]
        if da.empty:
            continue
        out[alg] = {}
        for m in metrics:
            vals = _per_realisation(da, m, []).loc[:, m].astype(float).to_numpy()
            fin = vals[np.isfinite(vals)]
            out[alg][m] = {"mean": float(fin.mean()) if fin.size else None,
                           "ci95": t_halfwidth(list(fin)), "n": int(fin.size)}
    return out


def _claims(study: Study, df: Any, algorithms: Sequence[str]) -> list[dict[str, Any]]:
    """Each claim measured, or ``measured: None`` with a ``note`` when the run lacks an
    algorithm it compares (``Claim.needs``, or the measure fails on a run with other
    algorithms than the study's), or an ``error`` when the measure fails otherwise."""
    rows = []
    default = set(algorithms) == set(study.algorithms)
    for c in study.claims:
        measured: Any = None
        error = note = None
        missing = [a for a in c.needs if a not in algorithms]
        if missing:
            note = f"not measured: the run lacks {', '.join(missing)}"
        else:
            try:
                measured = float(c.measure(df))
            except Exception as exc:  # a claim that cannot be measured is reported, not fatal
                if default:
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    note = f"not measured with these algorithms ({type(exc).__name__}: {exc})"
        rows.append({"claim": c.text, "paper": c.paper_value, "measured": measured, "unit": c.unit,
                     "error": error, "note": note})
    return rows


def figure_algorithms(study: Study, spec: Figure, algorithms: Sequence[str]) -> list[str]:
    """The curves of a figure in a run with ``algorithms``: the figure's algorithms (default the
    study's) that ran, then every algorithm of the run that is not one of the study's own and
    shares a name prefix (``bs:``, or none) with one of the figure's. Empty: the figure is skipped."""
    listed = list(spec.algorithms) if spec.algorithms is not None else list(study.algorithms)
    prefixes = {algorithm_prefix(a) for a in listed}
    own = set(study.algorithms)
    out = [a for a in listed if a in algorithms]
    out += [a for a in algorithms if a not in own and a not in out and algorithm_prefix(a) in prefixes]
    return out


def draw_figures(study: Study, df: Any, fig_dir: Path, algorithms: Sequence[str] | None = None) -> list[Path]:
    """One PNG + PDF per :class:`Figure` that has data: mean over realisations with a 95%
    t-interval band, one curve per algorithm of :func:`figure_algorithms`."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from edgeinfer.experiments.style import style_for

    fig_dir.mkdir(parents=True, exist_ok=True)
    files = []
    run_algs = list(study.algorithms if algorithms is None else algorithms)
    for spec in study.figures:
        algs = figure_algorithms(study, spec, run_algs)
        sweep = study.figure_sweep(spec)
        d = df[(df["sweep"] == sweep) & df["algorithm"].isin(algs)]
        if d.empty or spec.x not in d.columns or spec.y not in d.columns or not d[spec.y].notna().any():
            continue  # no curve: the run has none of its algorithms (or no rows for it)
        fig, ax = plt.subplots(figsize=(5.0, 3.6), dpi=120)
        categories: list[str] = []
        for alg in algs:
            da = d[d["algorithm"] == alg]
            if da.empty or spec.x not in da.columns:
                continue
            per = _per_realisation(da, spec.y, [spec.x])
            xs, mean, half = [], [], []
            for x, g in per.groupby(spec.x, sort=True):
                vals = g[spec.y].astype(float).to_numpy()
                vals = vals[np.isfinite(vals)]
                if not vals.size:
                    continue
                xs.append(x)
                mean.append(vals.mean())
                half.append(t_halfwidth(list(vals)))
            if not xs:
                continue
            st: dict[str, Any] = dict(style_for(alg))
            try:
                xa = np.asarray(xs, dtype=float)
            except (TypeError, ValueError):  # categorical x (e.g. a model name): positions + labels
                categories = categories or [str(x) for x in xs]
                xa = np.asarray([categories.index(str(x)) if str(x) in categories else len(categories)
                                 for x in xs], dtype=float)
            ma, ha = np.asarray(mean), np.asarray(half)
            ax.plot(xa, ma, label=alg, markersize=4, **st)
            ax.fill_between(xa, ma - ha, ma + ha, color=st["color"], alpha=0.18, linewidth=0)
        if categories:
            ax.set_xticks(range(len(categories)), categories, rotation=30, fontsize=8)
        ax.set_xlabel(spec.xlabel)
        ax.set_ylabel(spec.ylabel)
        if spec.logx:
            ax.set_xscale("log")
        if spec.logy:
            ax.set_yscale("log")
        ax.set_title(spec.title or f"{study.title}: {spec.name}", fontsize=9)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        fig.tight_layout()
        for ext in ("png", "pdf"):
            path = fig_dir / f"{spec.name}.{ext}"
            fig.savefig(path)
            files.append(path)
        plt.close(fig)
    return files


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _measured(c: dict[str, Any]) -> str:
    if c.get("error") is not None:
        return f"error: {c['error']}"
    if c.get("measured") is None and c.get("note"):
        return str(c["note"])
    return _fmt(c["measured"])


def summary_table(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown table: study | algorithm | metric | mean ± 95% half-width | n."""
    lines = ["| study | algorithm | metric | mean | ±95% | n |", "|---|---|---|---|---|---|"]
    for s in summaries:
        for alg, ms in s["metrics"].items():
            for m, v in ms.items():
                lines.append(f"| {s['study']} | {alg} | {m} | {_fmt(v['mean'])} | {_fmt(v['ci95'])} | {v['n']} |")
    return lines


def _report_md(study: Study, summary: dict[str, Any], figure_names: list[str]) -> str:
    m = summary
    out = [f"# {study.title}", ""]
    if study.description:
        out += [study.description, ""]
    algs = m.get("algorithms") or list(study.algorithms)
    if list(algs) != list(study.algorithms):
        out += [f"Algorithms of this run (`--algorithms`): {', '.join(f'`{a}`' for a in algs)}.", ""]
    out += [f"Study `{study.name}`, mode `{m['mode']}`, seed {m['seed']}, {m['realisations']} realisations per "
            f"point, {m['tasks']['total']} tasks ({m['tasks']['executed']} executed, {m['tasks']['cached']} "
            f"from cache), wall time {m['wall_time_s']:.1f} s, backend {m['backend']} (jobs {m['jobs']}).", ""]
    if m.get("command"):
        out += ["Command:", "", f"    {m['command']}", ""]
    out += ["## Paper claims vs measured", ""]
    if m["claims"]:
        out += ["| claim | paper | measured | unit |", "|---|---|---|---|"]
        for c in m["claims"]:
            out.append(f"| {c['claim']} | {_fmt(c['paper'])} | {_measured(c)} | {c['unit']} |")
    else:
        out.append("(no claims declared)")
    out += ["", "## Headline metrics at the default point", "", *summary_table([summary]), ""]
    if m.get("extra"):
        out += ["Extra:", "", "```json", json.dumps(m["extra"], indent=1), "```", ""]
    if figure_names:
        out += ["## Figures", ""]
        for spec in study.figures:
            if spec.name in figure_names:
                out += [f"### {spec.name}", "", f"![{spec.name}](figures/{spec.name}.png)",
                        f"([PDF](figures/{spec.name}.pdf))", ""]
    out += ["## Run parameters", "", "Default point:", "", "| parameter | value | help |", "|---|---|---|"]
    helps = {p.name: p.help for p in study.params}
    for k, v in m["default_point"].items():
        out.append(f"| `{k}` | {_fmt(v)} | {helps.get(k, '')} |")
    out += ["", "Sweeps:", ""]
    for s, a in m["sweeps"].items():
        out.append(f"* `{s}`: `{a['param']}` in {', '.join(_fmt(v) for v in a['values'])}")
    out += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in m["versions"].items()), ""]
    return "\n".join(out)


def write_study(study: Study, df: Any, sdir: Path, *, meta: dict[str, Any], fmt: str, figures: bool,
                t0: float) -> list[Path]:
    """Write the results, figures, summary and report of one study (staged, then moved)."""
    stage = stage_dir(sdir)
    try:
        if fmt == "parquet":
            df.to_parquet(stage / "results.parquet", index=False)
        else:
            df.to_csv(stage / "results.csv", index=False)
        algs = list(meta.get("algorithms") or study.algorithms)
        fig_files = draw_figures(study, df, stage / "figures", algs) if figures and study.figures else []
        fig_names = sorted({p.stem for p in fig_files})
        summary = {**meta, "metrics": summarise(study, df, algs), "claims": _claims(study, df, algs),
                   "figures": [f"figures/{p.name}" for p in fig_files]}
        if study.summary is not None:
            try:
                summary["extra"] = study.summary(df)
            except Exception as exc:  # e.g. a run (--algorithms) without the algorithms it reads
                if set(algs) == set(study.algorithms):
                    raise
                summary["extra"] = {"note": f"not computed with these algorithms ({type(exc).__name__}: {exc})"}
        summary["wall_time_s"] = time.perf_counter() - t0
        summary = clean(summary)
        (stage / "summary.json").write_text(json.dumps(summary, indent=1))
        (stage / "report.md").write_text(_report_md(study, summary, fig_names))
    except BaseException:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
        raise
    return commit_staged(stage, sdir)


def write_combined(out_root: Path, runs: Sequence[Any], *, seed: int, quick: bool, command: str | None) -> None:
    """``summary.json`` and ``report.md`` over several studies (each in ``out_root/<study>/``)."""
    stage = stage_dir(out_root)
    summaries = [r.summary for r in runs]
    doc = clean({"seed": seed, "mode": "quick" if quick else "full", "command": command,
                  "wall_time_s": sum(r.wall_time_s for r in runs),
                  "studies": {r.study: r.summary for r in runs}})
    (stage / "summary.json").write_text(json.dumps(doc, indent=1))
    lines = ["# edgeinfer: reproduced studies", "",
             f"Mode `{doc['mode']}`, seed {seed}, total wall time {doc['wall_time_s']:.1f} s.", ""]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += ["| study | title | tasks | wall time (s) | report |", "|---|---|---|---|---|"]
    for r in runs:
        s = r.summary
        lines.append(f"| {r.study} | {s['title']} | {s['tasks']['total']} | {s['wall_time_s']:.1f} | "
                     f"[{r.study}/report.md]({r.study}/report.md) |")
    lines += ["", "## Paper claims vs measured", "", "| study | claim | paper | measured | unit |", "|---|---|---|---|---|"]
    for s in summaries:
        for c in s["claims"]:
            lines.append(f"| {s['study']} | {c['claim']} | {_fmt(c['paper'])} | {_measured(c)} | {c['unit']} |")
    lines += ["", "## Headline metrics at the default points", "", *summary_table(summaries), ""]
    (stage / "report.md").write_text("\n".join(lines))
    commit_staged(stage, out_root)
