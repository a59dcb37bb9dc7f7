"""DNN layer: profiling the zoo, building block libraries, hashing state dicts, CPU forward latency.

``python benchmarks/run.py dnn [--quick]``.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np


def _best(fn, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> list[dict]:
    import torch

    from edgeinfer.dnn.blocks import (
        backbone_sharing_library,
        general_sharing_library,
        library_from_state_dicts,
    )
    from edgeinfer.dnn.profiler import profile_model
    from edgeinfer.dnn.zoo import ZOO, get_model

    n = 1 if quick else 3
    rows: list[dict] = []
    probe = subprocess.run(
        [sys.executable, "-c", "import time; t=time.perf_counter(); import sys, edgeinfer.dnn, edgeinfer.dnn.blocks; "
         "print(time.perf_counter()-t, 'torch' in sys.modules)"], capture_output=True, text=True, check=True)
    t_imp, torch_loaded = probe.stdout.split()
    rows.append({"benchmark": "dnn", "case": "import edgeinfer.dnn + blocks (no torch)", "value": float(t_imp),
                 "unit": "s", "ok": torch_loaded == "False"})
    t_all = 0.0
    for name in ZOO:
        t = _best(lambda name=name: profile_model(name), n)
        t_all += t
        if name in ("resnet18", "vgg16", "vit_b16"):
            rows.append({"benchmark": "dnn", "case": f"profile {name} (meta device)", "value": t, "unit": "s"})
    rows.append({"benchmark": "dnn", "case": "profile the whole zoo (9 models)", "value": t_all, "unit": "s"})
    resnets = ["resnet18", "resnet34", "resnet50"]
    t = _best(lambda: backbone_sharing_library(np.random.default_rng(0), resnets, 50, 0.85), n)
    rows.append({"benchmark": "dnn", "case": "backbone_sharing_library, 50 ResNets, theta 0.85", "value": t, "unit": "s"})
    t = _best(lambda: general_sharing_library(np.random.default_rng(0), resnets, 50, 0.85), n)
    rows.append({"benchmark": "dnn", "case": "general_sharing_library, 50 ResNets, theta 0.85", "value": t, "unit": "s"})
    sd = get_model("resnet50").state_dict()
    nbytes = sum(v.numel() * v.element_size() for v in sd.values())
    t = _best(lambda: library_from_state_dicts({"a": sd}), n)
    rows.append({"benchmark": "dnn", "case": "library_from_state_dicts: xxh3-128 of ResNet-50", "value": nbytes / t / 1e6,
                 "unit": "MB/s"})
    torch.set_num_threads(1)
    for name in (["resnet18"] if quick else ["resnet18", "resnet50", "vit_b16"]):
        model = get_model(name)
        x = torch.randn(1, 3, 224, 224)
        with torch.no_grad():
            model(x)
            t = _best(lambda model=model, x=x: model(x), n)
        rows.append({"benchmark": "dnn", "case": f"{name} forward, batch 1, 1 CPU thread", "value": t, "unit": "s"})
    return rows
