"""Small MBA cases shared by tests/broadcast: seeded random instances and the brute-force optimum
of parameter selection (P2.1)."""

from __future__ import annotations

import itertools

import numpy as np

from edgeinfer.broadcast.model import is_feasible
from edgeinfer.broadcast.problem import build_instance


def brute_force(scores, c):
    """Fewest blocks of a feasible selection, by enumeration (``None``: infeasible)."""
    M, N, _ = scores.shape
    blocks = [(i, n) for i in range(M) for n in range(N)]
    for size in range(N, len(blocks) + 1):
        for comb in itertools.combinations(blocks, size):
            y = np.zeros((M, N), bool)
            for i, n in comb:
                y[i, n] = True
            if y.any(axis=0).all() and is_feasible(scores, c, y):
                return size
    return None


def random_instance(seed, M=3, N=3, K=3):
    """A seeded instance: random scores, each requester's own model strong, QoS 60-95 % of it."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.uniform(0, 1, size=(M, N, K)), 3)
    own = rng.integers(0, M, size=K)
    for k in range(K):
        scores[own[k], :, k] = np.round(rng.uniform(0.8, 1.0, size=N), 3)
    qos = np.round(rng.uniform(0.6, 0.95) * scores[own, :, np.arange(K)].sum(axis=1), 3)
    return build_instance(scores=scores, gains=rng.exponential(1e-3, K), qos=qos, own_model=own)


def assert_exact_on_random_cases(cfg, permute=False, seeds=10):
    """``bnb`` with ``cfg`` on seeded 3 x 3 x 3 instances equals brute force (and, with
    ``permute``, gives the same count with models and devices shuffled). Returns the results."""
    from edgeinfer.broadcast.solvers import bnb_select
    out = []
    for seed in range(seeds):
        inst = random_instance(seed, M=3, N=3, K=3)
        opt = brute_force(inst.scores, inst.qos)
        r = bnb_select(inst.scores, inst.qos, inst.own_model, config=cfg)
        out.append(r)
        if opt is None:
            assert r.status == "infeasible"
            continue
        assert r.status == "optimal" and r.blocks == opt and r.lower_bound == opt
        assert is_feasible(inst.scores, inst.qos, r.y)
        if permute:
            rng = np.random.default_rng(seed)
            pm, pk = rng.permutation(3), rng.permutation(3)
            p = bnb_select(inst.scores[pm][:, :, pk], inst.qos[pk], np.argsort(pm)[inst.own_model[pk]], config=cfg)
            assert p.blocks == opt
    return out


def components(inst, max_cuts=0):
    """The components of ``inst`` after the exact reductions (none when a device is infeasible)."""
    from edgeinfer.broadcast.solvers import reduce_problem
    from edgeinfer.broadcast.solvers.component import Component
    red = reduce_problem(inst.scores, inst.qos)
    if red.infeasible is not None:
        return []
    return [Component(inst.scores, inst.qos, red.U, devs, max_cuts=max_cuts, node_dominance=False)
            for devs in red.components]
