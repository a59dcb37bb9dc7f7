"""ECC / Li-GD (issue 7): li-gd at 50 devices (VGG-16, < 1 s), at the paper's 1,250 devices and
5 APs (< 60 s; quick mode: 250 devices), and li-gd / gd in time and iterations at the same
accuracy (same eps, objectives reported side by side)."""

from __future__ import annotations

import time

from edgeinfer.core.registry import solve
from edgeinfer.core.solution import SolveOptions
from edgeinfer.split.scenario import make_instance


def _run(inst, algo: str, params: dict | None = None):
    t0 = time.perf_counter()
    sol = solve("split_noma", algo, inst, SolveOptions(params=params or {}))
    return sol, time.perf_counter() - t0


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    for model in (["vgg16"] if quick else ["vgg16", "nin", "tiny_yolov2"]):
        inst = make_instance(seed=0, model=model, num_aps=5, users_per_ap=10, num_subchannels=6)
        case = f"{model}, 50 devices, 5 APs, M=6"
        lig, t_l = _run(inst, "li-gd")
        dev, _ = _run(inst, "device-only")
        rows += [
            {"benchmark": "split li-gd (default, prune on)", "case": case, "value": t_l, "unit": "s", "target": 1.0,
             "ok": t_l < 1.0},
            {"benchmark": "split li-gd objective / device-only", "case": case, "value": lig.objective / dev.objective,
             "unit": "x"},
        ]
        # Corollary 4: the paper's algorithms without pruning, same eps (= same accuracy target)
        lig, t_l = _run(inst, "li-gd", {"prune": False})
        gd, t_g = _run(inst, "gd", {"prune": False})
        rows += [
            {"benchmark": "split li-gd (prune off)", "case": case, "value": t_l, "unit": "s"},
            {"benchmark": "split gd (prune off)", "case": case, "value": t_g, "unit": "s"},
            {"benchmark": "split li-gd/gd time", "case": case, "value": t_l / t_g, "unit": "x"},
            {"benchmark": "split li-gd/gd iterations", "case": case,
             "value": lig.stats["iterations"] / gd.stats["iterations"], "unit": "x"},
            {"benchmark": "split li-gd / gd iterations (counts)", "case": case,
             "value": f"{lig.stats['iterations']} / {gd.stats['iterations']}", "unit": ""},
            {"benchmark": "split li-gd/gd objective", "case": case, "value": lig.objective / gd.objective,
             "unit": "x"},
        ]
    # the paper's scale: 1,250 devices, 5 APs, 250 subchannels of 40 kHz (quick: 250 devices, M = 50)
    n_per_ap, m = (50, 50) if quick else (250, 250)
    inst = make_instance(seed=0, model="vgg16", num_aps=5, users_per_ap=n_per_ap, num_subchannels=m)
    lig, t_l = _run(inst, "li-gd")
    case = f"vgg16, {5 * n_per_ap} devices, 5 APs, M={m}"
    rows += [
        {"benchmark": "split li-gd (default, prune on)", "case": case, "value": t_l, "unit": "s", "target": 60.0,
         "ok": t_l < 60.0},
        {"benchmark": "split li-gd offloading devices", "case": case,
         "value": int((lig.split < inst.num_layers).sum()), "unit": ""},
        {"benchmark": "split li-gd pruned splits", "case": case, "value": len(lig.stats["pruned_splits"]),
         "unit": f"of {int(inst.num_layers.max())}"},
    ]
    # a large case where offloading pays (prune off: every split descended)
    inst = make_instance(seed=0, model="vgg16", num_aps=5, users_per_ap=20 if quick else 50, num_subchannels=10)
    lig, t_l = _run(inst, "li-gd", {"prune": False})
    case = f"vgg16, {inst.num_devices} devices, 5 APs, M=10, prune off"
    rows += [
        {"benchmark": "split li-gd", "case": case, "value": t_l, "unit": "s"},
        {"benchmark": "split li-gd iterations", "case": case, "value": lig.stats["iterations"], "unit": ""},
        {"benchmark": "split li-gd offloading devices", "case": case,
         "value": int((lig.split < inst.num_layers).sum()), "unit": f"of {inst.num_devices}"},
    ]
    return rows
