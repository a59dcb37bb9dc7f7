# ruff: noqa: E741  (I is the paper's score tensor I_{i,n}^{(k)})
"""The MBA library generators: the independent one and the muNet-style clone library."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.broadcast.scenario import (
    ScenarioConfig,
    clone_scores,
    make_instance,
    synthetic_scores,
)
from edgeinfer.core.errors import InvalidOptionError

KW = {"num_families": 2, "own_low": 0.9, "r_same": (0.95, 0.45), "r_cross": (0.7, 0.05), "sigma": 0.1}


@pytest.mark.parametrize("seed", range(6))
def test_clone_library_shares_blocks_literally(seed):
    """A shared block is one block held by two models: the same score row for every task, taken
    from an earlier model; own blocks are the model's own; the bottom shares more than the top."""
    K, N = 8, 10
    I, fam, block_of = clone_scores(np.random.default_rng(seed), K, N, clone_share=(0.9, 0.1), **KW)
    assert I.shape == (K, N, K) and fam.shape == (K,) and block_of.shape == (K, N)
    assert np.all(block_of[0] == 0)
    for k in range(K):
        for n in range(N):
            j = block_of[k, n]
            assert j <= k and block_of[j, n] == j  # points at the block's owner
            np.testing.assert_array_equal(I[k, n], I[j, n])
    own = np.array([[I[k, n, k] for n in range(N)] for k in range(K)])
    assert np.all(own[block_of == np.arange(K)[:, None]] >= 0.9 - 1e-6)  # a new block: U(own_low, 1) for its task
    assert np.all((I >= 0) & (I <= 1))


def test_clone_share_extremes_and_overlap():
    K, N = 6, 12
    _, _, none = clone_scores(np.random.default_rng(0), K, N, clone_share=(0.0, 0.0), **KW)
    assert np.all(none == np.arange(K)[:, None])  # nothing shared: every block its own
    I, _, alls = clone_scores(np.random.default_rng(0), K, N, clone_share=(1.0, 1.0), **KW)
    assert np.all(alls == 0)  # everything shared: every model is model 0
    np.testing.assert_array_equal(I, np.broadcast_to(I[:1], I.shape))
    # the paper's Sec. VII-B overlap: (0.6, 0.0) shares 30 % of a child's blocks with its parent on average
    shares = []
    for seed in range(40):
        _, _, b = clone_scores(np.random.default_rng(seed), 10, 24, clone_share=(0.6, 0.0), **KW)
        shares.append(np.mean(b[1:] != np.arange(1, 10)[:, None]))
    assert 0.25 < float(np.mean(shares)) < 0.35


@pytest.mark.parametrize("seed", range(4))
def test_clone_instance_is_valid_and_exact_selection_uses_the_shared_blocks(seed):
    """``make_instance(library="clone")`` is a validated instance; every device's own model meets its
    QoS, so the distinct blocks of the own models are a feasible broadcast, and the exact selection
    (bnb, proved optimal on these small libraries) needs no more, while unicast sends K N."""
    from edgeinfer.broadcast.scenario import clone_scores as cs
    from edgeinfer.broadcast.solvers import bnb_select

    K, N = 4, 5
    inst = make_instance(seed=seed, num_devices=K, num_positions=N, library="clone", clone_share=(0.8, 0.2))
    _, _, block_of = cs(np.random.default_rng(seed), K, N, num_families=2, own_low=0.9, r_same=(0.95, 0.45),
                        r_cross=(0.7, 0.05), sigma=0.1, clone_share=(0.8, 0.2))
    own = inst.scores[np.arange(K), :, np.arange(K)].sum(axis=1)
    assert np.all(own >= inst.qos)
    distinct = len({(int(block_of[k, n]), n) for k in range(K) for n in range(N)})
    res = bnb_select(inst.scores, inst.qos, inst.own_model)
    assert res.status == "optimal" and res.blocks <= distinct <= K * N


def test_independent_library_unchanged_and_options_validated():
    a = make_instance(seed=5, num_devices=4, num_positions=5)
    I, _ = synthetic_scores(np.random.default_rng(5), 4, 5, **KW)
    np.testing.assert_array_equal(a.scores, I)  # the default draws exactly the independent library
    assert ScenarioConfig().library == "independent"
    for field, value in (("library", "shared"), ("clone_share", (1.5, 0.0)), ("clone_share", (0.5,)),
                         ("num_devices", 0), ("qos_fraction", 1.2), ("r_same", (0.9, -0.1))):
        with pytest.raises(InvalidOptionError) as ei:
            make_instance(seed=0, **{"num_devices": 3, "num_positions": 3, field: value})
        assert ei.value.field == field
