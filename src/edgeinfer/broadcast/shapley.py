"""Shapley values of model blocks (reusability scores, Section III-A).

The game of a (model ``i``, task ``k``) pair: the players are the ``N`` positions; a
coalition ``S`` is the assembled model that takes model ``i``'s blocks at the positions in
``S`` and a backup (base) model's blocks elsewhere; its value is the accuracy on task
``k`` (with task ``k``'s head). The Shapley value of position ``n`` is then the
reusability score ``I[i, n, k]``, and by efficiency ``sum_n I[i, n, k] = v(all) - v(empty)``:
the eq. (6) score of an assembled model is an additive surrogate of its accuracy gain
over the backup model.

:func:`exact_shapley` enumerates all ``2^N`` coalitions; :func:`permutation_shapley` is
the Monte Carlo permutation estimator (Castro et al. 2009; Ghorbani & Zou's Neuron
Shapley [28] use truncated variants): average marginal contributions over random
orderings. Values are cached per coalition, so with few players the estimator
evaluates each coalition at most once. numpy only (no torch).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

__all__ = ["exact_shapley", "permutation_shapley", "CachedGame"]


class CachedGame:
    """Wrap ``value(frozenset) -> float`` with a cache and an evaluation counter."""

    def __init__(self, value: Callable[[frozenset[int]], float]):
        self.value = value
        self.cache: dict[frozenset[int], float] = {}
        self.evaluations = 0

    def __call__(self, coalition: frozenset[int]) -> float:
        v = self.cache.get(coalition)
        if v is None:
            v = float(self.value(coalition))
            self.cache[coalition] = v
            self.evaluations += 1
        return v


def exact_shapley(value: Callable[[frozenset[int]], float], num_players: int) -> np.ndarray:
    """phi_j = sum_{S not containing j} |S|! (n - |S| - 1)! / n! (v(S + j) - v(S))."""
    n = num_players
    game = value if isinstance(value, CachedGame) else CachedGame(value)
    phi = np.zeros(n)
    fact = [math.factorial(t) for t in range(n + 1)]
    for j in range(n):
        others = [p for p in range(n) if p != j]
        for r in range(n):
            w = fact[r] * fact[n - r - 1] / fact[n]
            for S in itertools.combinations(others, r):
                s = frozenset(S)
                phi[j] += w * (game(s | {j}) - game(s))
    return phi


def permutation_shapley(value: Callable[[frozenset[int]], float], num_players: int, *,
                        num_permutations: int, rng: np.random.Generator, antithetic: bool = True) -> np.ndarray:
    """Monte Carlo permutation sampling; with ``antithetic`` each ordering is paired with its
    reverse (variance reduction). Unbiased for every ``num_permutations``."""
    n = num_players
    game = value if isinstance(value, CachedGame) else CachedGame(value)
    phi = np.zeros(n)
    count = 0
    while count < num_permutations:
        perm = rng.permutation(n)
        orders = [perm, perm[::-1]] if antithetic else [perm]
        for order in orders:
            if count >= num_permutations:
                break
            s: frozenset[int] = frozenset()
            prev = game(s)
            for j in order:
                s = s | {int(j)}
                cur = game(s)
                phi[j] += cur - prev
                prev = cur
            count += 1
    return phi / count
