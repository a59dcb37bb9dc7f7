"""One colour/marker per algorithm name, the same in every study's figures.

Known names get a fixed style; others get one from a fallback cycle chosen by a hash of
the name (so it does not depend on the order of algorithms in a study). A prefixed name
such as ``bs:spec`` falls back to the style of ``spec``.
"""

from __future__ import annotations

import zlib

__all__ = ["STYLES", "style_for"]

_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

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
