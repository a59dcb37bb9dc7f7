"""Every curve of every figure of every registered study has its own colour and marker."""

from __future__ import annotations

import pandas as pd
import pytest

from edgeinfer.experiments import registry
from edgeinfer.experiments.report import figure_algorithms, plot_figure
from edgeinfer.experiments.style import figure_styles, style_for

FIGURES = [(name, fig.name) for name in registry.available_studies()
           for fig in registry.get_study(name).figures]


def _synthetic(study, spec, algs):
    rows = []
    x_numeric = spec.x in study.param_map and study.param_map[spec.x].type in (int, float)
    for alg in algs:
        for r in range(3):
            for i, x in enumerate((1, 2) if x_numeric or spec.x not in study.param_map else ("a", "b")):
                rows.append({"sweep": study.figure_sweep(spec), "algorithm": alg, "realisation": r,
                             spec.x: x, spec.y: 1.0 + i + 0.1 * r})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("study_name", "figure"), FIGURES)
def test_curves_look_different(study_name, figure):
    import matplotlib.pyplot as plt

    study = registry.get_study(study_name)
    spec = next(f for f in study.figures if f.name == figure)
    algs = figure_algorithms(study, spec, list(study.algorithms))
    fig = plot_figure(study, spec, _synthetic(study, spec, algs), list(study.algorithms))
    assert fig is not None
    lines = fig.axes[0].get_lines()
    assert len(lines) == len(algs)
    looks = [(ln.get_color(), ln.get_marker()) for ln in lines]
    assert len({c for c, _ in looks}) == len(looks), f"{figure}: two curves share a colour: {looks}"
    assert len({m for _, m in looks}) == len(looks), f"{figure}: two curves share a marker: {looks}"
    plt.close(fig)


def test_figure_styles_resolve_collisions_deterministically():
    assert style_for("edge") == style_for("edge")
    a = figure_styles(["spec", "bs:spec", "general:spec"])
    assert len({s["color"] for s in a.values()}) == 3 and len({s["marker"] for s in a.values()}) == 3
    assert a["spec"] == style_for("spec")  # the first keeps its own style
    assert figure_styles(["spec", "bs:spec", "general:spec"]) == a


def test_long_curves_mark_about_a_dozen_points_and_learning_curves_use_symlog():
    import matplotlib.pyplot as plt

    from edgeinfer.experiments.report import MAX_MARKERS
    study = registry.get_study("lymdo")
    spec = next(f for f in study.figures if f.name == "fig3_training_reward")
    assert spec.symlogy is not None
    rows = [{"sweep": study.figure_sweep(spec), "algorithm": alg, "realisation": r, spec.x: e,
             spec.y: -1e6 / (1 + e) - 10 * (alg == "ppo") - r}
            for alg in ("lymdo", "ppo") for r in range(3) for e in range(200)]
    fig = plot_figure(study, spec, pd.DataFrame(rows), list(study.algorithms))
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog"
    for ln in ax.get_lines():
        assert len(ln.get_xdata()) == 200 and ln.get_markevery() == 200 // MAX_MARKERS
    plt.close(fig)
