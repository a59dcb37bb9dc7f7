"""One colour/marker per algorithm name, the same in every study's figures, and distinct
styles within each figure.

Known names get a fixed style; others get one from a fallback cycle chosen by a hash of
the name (so it does not depend on the order of algorithms in a study). A prefixed name
such as ``bs:spec`` falls back to the style of ``spec``. :func:`figure_styles` gives the
curves of one figure their styles: each curve keeps its own style unless an earlier curve
of the figure already has its colour or marker, and then takes the next free one, so no two
curves of a figure share a colour or a marker (tests/experiments/test_style.py checks every
figure of every registered study).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

__all__ = ["STYLES", "style_for", "figure_styles", "PALETTE", "MARKERS"]

_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
#: colours a figure draws from when two curves would share one (tab10, then darker/lighter pairs)
PALETTE = (*_TAB10, "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d",
           "#31a354", "#756bb1", "#636363")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
MARKERS = (*_MARKERS, "h", "p", "d", "8", "H", "1", "2", "3", "4", "+")

#: algorithm name -> (colour, marker, linestyle); "ours" first colours, baselines grey-ish
STYLES: dict[str, tuple[str, str, str]] = {
    # experiment toy
    "exact": ("#1f77b4", "o", "-"),
    "half": ("#ff7f0e", "s", "--"),
    # proposed algorithms
    "mba": ("#1f77b4", "o", "-"),
    "bnb": ("#1f77b4", "o", "-"),
    "latency": ("#17becf", "*", "-"),
    "spec": ("#1f77b4", "o", "-"),
    "search": ("#17becf", "*", "-"),
    "slide": ("#1f77b4", "o", "-"),
    "li-gd": ("#1f77b4", "o", "-"),
    "ligd": ("#1f77b4", "o", "-"),
    "lymdo": ("#1f77b4", "o", "-"),
    # variants and heuristics
    "greedy": ("#2ca02c", "^", "--"),
    "gen": ("#2ca02c", "^", "--"),
    "gd": ("#2ca02c", "^", "--"),
    "ppo": ("#2ca02c", "^", "--"),
    "mba-constant-power": ("#9467bd", "D", "-."),
    # baselines
    "unicast": ("#d62728", "s", ":"),
    "random": ("#7f7f7f", "x", ":"),
    "local": ("#8c564b", "v", ":"),
    "device-only": ("#8c564b", "v", ":"),
    "edge-only": ("#e377c2", "P", ":"),
    "neurosurgeon": ("#bcbd22", "X", "-."),
}


def style_for(algorithm: str) -> dict[str, str]:
    """Matplotlib keyword arguments (color, marker, linestyle) for ``algorithm``."""
    key = algorithm.lower()
    if key not in STYLES and ":" in key:  # "bs:spec" -> the style of "spec"
        key = key.rsplit(":", 1)[1]
    if key in STYLES:
        c, m, ls = STYLES[key]
    else:
        h = zlib.crc32(key.encode())
        c, m, ls = _TAB10[h % len(_TAB10)], _MARKERS[(h // 10) % len(_MARKERS)], "-"
    return {"color": c, "marker": m, "linestyle": ls}


def figure_styles(algorithms: Sequence[str]) -> dict[str, dict[str, str]]:
    """Styles for the curves of one figure, in the given order: :func:`style_for`, with a
    colour or marker already taken by an earlier curve replaced by the next free one of
    :data:`PALETTE` / :data:`MARKERS` (so every curve has its own colour and marker)."""
    used_c: set[str] = set()
    used_m: set[str] = set()
    out: dict[str, dict[str, str]] = {}
    for alg in algorithms:
        st = style_for(alg)
        if st["color"] in used_c:
            st["color"] = next((c for c in PALETTE if c not in used_c), st["color"])
        if st["marker"] in used_m:
            st["marker"] = next((m for m in MARKERS if m not in used_m), st["marker"])
        used_c.add(st["color"])
        used_m.add(st["marker"])
        out[alg] = st
    return out
