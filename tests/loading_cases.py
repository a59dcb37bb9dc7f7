"""Small PartialLoading cases shared by tests/loading: the brute-force optimum over all batch
sequences, a shuffled copy of an instance document, and a solution's batches as data."""

from __future__ import annotations

import json

import numpy as np

from edgeinfer.loading.problem import dump_solution


def brute_force(inst) -> int:
    """Most users served over ALL batch sequences: any subsets of users of one model per batch
    (<= max_batch), any order, models may repeat, batches need not be contiguous. Upload with
    the optimal shares (eq. 11: the sum of D/(B R)); load = blocks not in the previous model."""
    unit = inst.unit_upload_s
    K = inst.n_users
    T = inst.deadline_s * (1 + 1e-9)
    users_of = [list(inst.users_of(i)) for i in range(inst.n_models)]
    best = 0
    load = {}
    for prev in [None, *range(inst.n_models)]:
        for i in range(inst.n_models):
            load[(prev, i)] = inst.load_bytes(prev, i) * inst.load_s_per_byte

    def rec(mask: int, t: float, prev, served: int) -> None:
        nonlocal best
        best = max(best, served)
        if served + (K - bin(mask).count("1")) <= best:
            return
        for i in range(inst.n_models):
            rem = [k for k in users_of[i] if not mask >> k & 1]
            if not rem:
                continue
            base = t + load[(prev, i)] + inst.compute_fixed_s[i]
            if base > T:
                continue
            n = len(rem)
            for sub in range(1, 1 << n):
                chosen = [rem[j] for j in range(n) if sub >> j & 1]
                if len(chosen) > inst.max_batch[i]:
                    continue
                end = base + sum(unit[k] for k in chosen) + inst.compute_per_sample_s[i] * len(chosen)
                if end <= T:
                    m2 = mask
                    for k in chosen:
                        m2 |= 1 << k
                    rec(m2, end, i, served + len(chosen))

    rec(0, 0.0, None, 0)
    return best


def permuted(doc: dict, rng: np.random.Generator) -> dict:
    """The instance document with its blocks, models, users and each model's blocks shuffled."""
    out = json.loads(json.dumps(doc))
    for key in ("blocks", "models", "users"):
        idx = rng.permutation(len(out[key]))
        out[key] = [out[key][int(i)] for i in idx]
    for m in out["models"]:
        m["blocks"] = [m["blocks"][int(i)] for i in rng.permutation(len(m["blocks"]))]
    return out


def answer(inst, sol) -> list:
    """The batches of a solution as (model, users): what must not depend on the file's order."""
    d = dump_solution(sol, inst)
    return [(b["model"], b["users"]) for b in d["batches"]]
