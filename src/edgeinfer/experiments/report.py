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
from edgeinfer.experiments.study import VERDICTS, Figure, Measured, Study, algorithm_prefix

__all__ = ["summarise", "draw_figures", "figure_algorithms", "write_study", "write_combined", "summary_table",
           "claims_table", "verdict_table", "verdict_counts", "MIN_BAND_N"]


def _per_realisation(df: Any, metric: str, by: Sequence[str]) -> Any:
    """Mean of ``metric`` within each (by..., realisation) group (several rows per algorithm allowed)."""
    return df.groupby([*by, "realisation"], sort=False)[metric].mean().reset_index()


def summarise(study: Study, df: Any, algorithms: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Per algorithm (of the run; default the study's) and metric at the default point: mean,
    95% t half-width (``None`` below two realisations: no interval from one value), n realisations."""
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
                           "ci95": t_halfwidth(list(fin)) if fin.size >= 2 else None, "n": int(fin.size)}
    return out


def _claims(study: Study, df: Any, algorithms: Sequence[str], setting: str = "default") -> list[dict[str, Any]]:
    """Each claim judged under ``setting`` (claims judged under another setting are left out):
    measured (mean, 95 % interval, n) with its verdict and reason, or ``not measured`` with a
    ``note`` when the run lacks an algorithm it compares (``Claim.needs``, or the measure fails
    on a run with other algorithms than the study's), or an ``error`` when the measure fails
    otherwise (the verdict is then ``not measured`` too)."""
    rows = []
    default = set(algorithms) == set(study.algorithms)
    for i, c in enumerate(study.claims):
        if c.setting is not None and c.setting != setting:
            continue
        measured: Measured | None = None
        error = note = None
        missing = [a for a in c.needs if a not in algorithms]
        if missing:
            note = f"not measured: the run lacks {', '.join(missing)}"
        else:
            try:
                measured = Measured.of(c.measure(df))
            except Exception as exc:  # a claim that cannot be measured is reported, not fatal
                if c.verdict == "not comparable":
                    pass  # shown for information only; its verdict does not depend on it
                elif default:
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    note = f"not measured with these algorithms ({type(exc).__name__}: {exc})"
        verdict, reason = c.judge(measured)
        if verdict == "not measured" and (note or error):
            reason = note or f"the measure failed: {error}"
        rows.append({
            "id": f"{study.name}/{i}", "claim": c.text, "source": c.source, "paper": c.paper_value,
            "measured": None if measured is None else measured.mean,
            "low": None if measured is None else measured.low,
            "high": None if measured is None else measured.high,
            "n": None if measured is None else measured.n,
            "unit": c.unit, "target": None if c.target is None else list(c.target),
            "partly": None if c.partly is None else list(c.partly),
            "verdict": verdict, "reason": reason, "docs": c.docs, "setting": setting,
            "error": error, "note": note,
        })
    return rows


def verdict_counts(claims: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many claims got each verdict (every verdict listed, zeros included)."""
    return {v: sum(1 for c in claims if c.get("verdict") == v) for v in VERDICTS}


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


#: no confidence band is drawn from fewer realisations than this (the t-interval of 2 values
#: is 12.7 standard deviations wide: a band that says nothing, and goes negative)
MIN_BAND_N = 3


def _log_ticks(ax: Any, axis: str, values: Sequence[float]) -> None:
    """On a log axis with few sweep values, tick exactly those values with plain labels
    (matplotlib's minor log labels overlap on short ranges)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    vals = sorted({float(v) for v in values if np.isfinite(v) and v > 0})
    if not 1 <= len(vals) <= 8:
        return
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(vals))
    target.set_minor_locator(NullLocator())
    labels = [f"{v:g}" for v in vals]
    (ax.set_xticklabels if axis == "x" else ax.set_yticklabels)(labels, fontsize=8)


#: at most about this many markers on one curve (beyond it, every k-th point is marked)
MAX_MARKERS = 12


def plot_figure(study: Study, spec: Figure, df: Any, algorithms: Sequence[str]) -> Any:
    """The matplotlib figure of one :class:`Figure` panel, or ``None`` when it has no data:
    the mean over realisations per x, a 95 % t-interval band where at least
    :data:`MIN_BAND_N` realisations exist, n in the legend, one distinct style per curve
    (:func:`edgeinfer.experiments.style.figure_styles`)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from edgeinfer.experiments.style import figure_styles

    algs = figure_algorithms(study, spec, algorithms)
    sweep = study.figure_sweep(spec)
    d = df[(df["sweep"] == sweep) & df["algorithm"].isin(algs)]
    if d.empty or spec.x not in d.columns or spec.y not in d.columns or not d[spec.y].notna().any():
        return None  # no curve: the run has none of its algorithms (or no rows for it)
    styles = figure_styles(algs)
    fig, ax = plt.subplots(figsize=(5.0, 3.6), dpi=120)
    categories: list[str] = []
    all_x: list[float] = []
    for alg in algs:
        da = d[d["algorithm"] == alg]
        if da.empty or spec.x not in da.columns:
            continue
        per = _per_realisation(da, spec.y, [spec.x])
        xs, mean, half, ns = [], [], [], []
        for x, g in per.groupby(spec.x, sort=True):
            vals = g[spec.y].astype(float).to_numpy()
            vals = vals[np.isfinite(vals)]
            if not vals.size:
                continue
            xs.append(x)
            mean.append(vals.mean())
            half.append(t_halfwidth(list(vals)) if vals.size >= MIN_BAND_N else np.nan)
            ns.append(int(vals.size))
        if not xs:
            continue
        st: dict[str, Any] = dict(styles[alg])
        try:
            xa = np.asarray(xs, dtype=float)
            all_x += list(xa)
        except (TypeError, ValueError):  # categorical x (e.g. a model name): positions + labels
            categories = categories or [str(x) for x in xs]
            xa = np.asarray([categories.index(str(x)) if str(x) in categories else len(categories)
                             for x in xs], dtype=float)
        ma, ha = np.asarray(mean), np.asarray(half)
        n_lo, n_hi = min(ns), max(ns)
        label = f"{alg} (n={n_lo})" if n_lo == n_hi else f"{alg} (n={n_lo}-{n_hi})"
        if len(xa) > MAX_MARKERS:  # long curves (learning curves): about MAX_MARKERS markers, not one per point
            st["markevery"] = max(1, len(xa) // MAX_MARKERS)
        ax.plot(xa, ma, label=label, markersize=4, **st)
        band = np.isfinite(ha)
        if band.any():
            ax.fill_between(xa, ma - np.where(band, ha, 0), ma + np.where(band, ha, 0), where=band,
                            color=st["color"], alpha=0.18, linewidth=0)
    if categories:
        ax.set_xticks(range(len(categories)), categories, rotation=30, fontsize=8)
    ax.set_xlabel(spec.xlabel)
    ax.set_ylabel(spec.ylabel)
    if spec.logx:
        ax.set_xscale("log")
        if not categories:
            _log_ticks(ax, "x", all_x)
    if spec.logy:
        ax.set_yscale("log")
    elif spec.symlogy is not None:
        ax.set_yscale("symlog", linthresh=spec.symlogy)
    ax.set_title(spec.title or f"{study.title}: {spec.name}", fontsize=9)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def draw_figures(study: Study, df: Any, fig_dir: Path, algorithms: Sequence[str] | None = None) -> list[Path]:
    """One PNG + PDF per :class:`Figure` that has data (:func:`plot_figure`), one curve per
    algorithm of :func:`figure_algorithms`."""
    import matplotlib.pyplot as plt

    fig_dir.mkdir(parents=True, exist_ok=True)
    files = []
    run_algs = list(study.algorithms if algorithms is None else algorithms)
    for spec in study.figures:
        fig = plot_figure(study, spec, df, run_algs)
        if fig is None:
            continue
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
    if c.get("measured") is None:
        return "n/a"
    if c.get("low") is None or c.get("high") is None:
        return f"{_fmt(c['measured'])} (n={c.get('n') or 1})"
    return f"{_fmt(c['measured'])} [{_fmt(c['low'])}, {_fmt(c['high'])}] (n={c['n']})"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_table(claims: Sequence[dict[str, Any]], *, study_column: bool = False) -> list[str]:
    """Markdown table of judged claims: claim (source), paper, ours (mean [95 % CI] (n)), unit,
    verdict, reason, docs."""
    head = "| claim | source | paper | ours: mean [95 % CI] (n) | unit | verdict | reason | docs |"
    if study_column:
        head = "| study | " + head[2:]
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for c in claims:
        docs = f"[{c['docs']}]({c['docs']})" if c.get("docs") else ""
        row = (f"| {_cell(c['claim'])} | {_cell(c.get('source', ''))} | {_cell(_fmt(c['paper']))} | "
               f"{_cell(_measured(c))} | {_cell(c['unit'])} | **{c['verdict']}** | {_cell(c['reason'])} | {docs} |")
        if study_column:
            row = f"| {c.get('run', '')} " + row
        lines.append(row)
    return lines


def verdict_table(runs: Sequence[tuple[str, str, Sequence[dict[str, Any]]]]) -> list[str]:
    """Markdown table of verdict counts: one row per (study, setting, claims)."""
    lines = ["| study | setting | " + " | ".join(VERDICTS) + " |", "|---|---|" + "---|" * len(VERDICTS)]
    for study, setting, claims in runs:
        counts = verdict_counts(claims)
        lines.append(f"| {study} | {setting} | " + " | ".join(str(counts[v]) for v in VERDICTS) + " |")
    return lines


def summary_table(summaries: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown table: study | algorithm | metric | mean ± 95% half-width | n."""
    lines = ["| study | algorithm | metric | mean | ±95% | n |", "|---|---|---|---|---|---|"]
    for s in summaries:
        name = s["study"] if s.get("setting", "default") == "default" else f"{s['study']}.{s['setting']}"
        for alg, ms in s["metrics"].items():
            for m, v in ms.items():
                ci = v["ci95"] if v["n"] >= 2 else None  # no interval from one value (n/a, never 0)
                lines.append(f"| {name} | {alg} | {m} | {_fmt(v['mean'])} | {_fmt(ci)} | {v['n']} |")
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
    setting = m.get("setting", "default")
    out += [f"Setting `{setting}`" + (f": {m['setting_note']}" if m.get("setting_note") else "") + ".", ""]
    out += ["## Paper claims: verdicts", ""]
    if m["claims"]:
        counts = verdict_counts(m["claims"])
        out += [", ".join(f"{v}: {counts[v]}" for v in VERDICTS if counts[v]) + ".", "",
                "Verdict rule: our 95 % interval (or our value when n = 1) inside the target range is "
                "*reproduced*, inside the wider range *partly*, otherwise *not reproduced* "
                "(see docs/experiments.md#verdicts). The same claims are in `claims.json`.", "",
                *claims_table(m["claims"])]
    else:
        out.append("(no claims declared for this setting)")
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
        claims = _claims(study, df, algs, meta.get("setting", "default"))
        summary = {**meta, "metrics": summarise(study, df, algs), "claims": claims,
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
        (stage / "claims.json").write_text(json.dumps(
            {"study": study.name, "setting": summary.get("setting", "default"), "mode": summary.get("mode"),
             "seed": summary.get("seed"), "command": summary.get("command"), "claims": summary["claims"]}, indent=1))
        (stage / "report.md").write_text(_report_md(study, summary, fig_names))
    except BaseException:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
        raise
    return commit_staged(stage, sdir)


def combined_claims(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """Every judged claim of several runs, each with ``run`` (its folder name)."""
    return [{**c, "run": r.label} for r in runs for c in r.summary["claims"]]


def write_combined(out_root: Path, runs: Sequence[Any], *, seed: int, quick: bool, command: str | None) -> None:
    """``summary.json``, ``claims.json`` and ``report.md`` over several runs (each in
    ``out_root/<study>[.<setting>]/``). The report opens with the verdict counts per paper."""
    stage = stage_dir(out_root)
    summaries = [r.summary for r in runs]
    claims = combined_claims(runs)
    doc = clean({"seed": seed, "mode": "quick" if quick else "full", "command": command,
                  "wall_time_s": sum(r.wall_time_s for r in runs),
                  "verdicts": {r.label: verdict_counts(r.summary["claims"]) for r in runs},
                  "studies": {r.label: r.summary for r in runs}})
    (stage / "summary.json").write_text(json.dumps(doc, indent=1))
    (stage / "claims.json").write_text(json.dumps(clean({"seed": seed, "mode": doc["mode"], "command": command,
                                                          "claims": claims}), indent=1))
    lines = ["# edgeinfer: reproduced studies", "",
             f"Mode `{doc['mode']}`, seed {seed}, total wall time {doc['wall_time_s']:.1f} s.", ""]
    if quick:
        lines += ["Quick mode: few realisations and short sweeps (and short training where a study trains); "
                  "verdicts from a quick run are indicative only. `--full` is the reproduction.", ""]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += ["## Verdicts per paper", "",
              *verdict_table([(r.study, r.setting, r.summary["claims"]) for r in runs]), ""]
    lines += ["| run | title | setting | tasks | wall time (s) | report |", "|---|---|---|---|---|---|"]
    for r in runs:
        s = r.summary
        lines.append(f"| {r.label} | {s['title']} | {r.setting} | {s['tasks']['total']} | {s['wall_time_s']:.1f} | "
                     f"[{r.label}/report.md]({r.label}/report.md) |")
    lines += ["", "## Paper claims", "", *claims_table(claims, study_column=True)]
    lines += ["", "## Headline metrics at the default points", "", *summary_table(summaries), ""]
    (stage / "report.md").write_text("\n".join(lines))
    commit_staged(stage, out_root)
