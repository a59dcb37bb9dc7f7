"""Shapley estimators on hand-built games; the CLI round trip for ``mba``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeinfer.broadcast.shapley import CachedGame, exact_shapley, permutation_shapley
from edgeinfer.cli import main


def glove(s):  # player 0 holds a left glove, players 1 and 2 right gloves
    return float(0 in s and (1 in s or 2 in s))


def test_exact_shapley_glove_game():
    np.testing.assert_allclose(exact_shapley(glove, 3), [2 / 3, 1 / 6, 1 / 6])


def test_exact_matches_formula_on_an_additive_plus_interaction_game():
    w = np.array([0.3, -0.1, 0.5, 0.2])

    def v(s):  # additive part + a pairwise synergy between 0 and 2 split equally
        return float(sum(w[j] for j in s) + (0.4 if {0, 2} <= s else 0.0))

    np.testing.assert_allclose(exact_shapley(v, 4), w + np.array([0.2, 0, 0.2, 0]))


def test_permutation_estimator_converges_to_exact():
    rng = np.random.default_rng(0)
    vals = rng.uniform(size=2 ** 5)

    def v(s):  # an arbitrary (random) 5-player game
        return float(vals[sum(1 << j for j in s)]) if s else 0.0

    exact = exact_shapley(v, 5)
    game = CachedGame(v)
    est = permutation_shapley(game, 5, num_permutations=4000, rng=np.random.default_rng(1))
    np.testing.assert_allclose(est, exact, atol=0.03)
    assert est.sum() == pytest.approx(v(frozenset(range(5))) - v(frozenset()))  # efficiency, exact per sample
    assert game.evaluations <= 2 ** 5


def test_cli_round_trip(example_path, tmp_path, capsys):
    out = tmp_path / "sol.json"
    for algo, extra in [("bnb", []), ("greedy", ["--power", "constant"]), ("greedy", ["-p", "variant=adaptive"]),
                        ("unicast", [])]:
        assert main(["solve", str(example_path), "-a", algo, "-o", str(out), *extra]) == 0
        doc = json.loads(out.read_text())
        assert doc["problem"] == "mba" and doc["algorithm"] == algo
        assert main(["verify", str(example_path), str(out)]) == 0
        if algo == "bnb":
            assert len(doc["broadcast"]) == 28
        if algo == "unicast":
            assert len(doc["broadcast"]) == 48
    # tamper: shorten a broadcast -> verify exit 1
    doc = json.loads(out.read_text())
    doc["broadcast"][0]["duration_s"] *= 0.5
    doc["total_latency_s"] = sum(b["duration_s"] for b in doc["broadcast"])
    out.write_text(json.dumps(doc))
    assert main(["verify", str(example_path), str(out)]) == 1
    # bad input -> exit 2 naming the field
    bad = json.loads(example_path.read_text())
    bad["scores"][0].pop()
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    capsys.readouterr()
    assert main(["solve", str(p), "-a", "bnb", "-o", str(out)]) == 2
    assert "scores[0]" in capsys.readouterr().err
    assert main(["solve", str(example_path), "-a", "bnb", "--param", "power=fast", "-o", str(out)]) == 2


def test_cli_time_limit_and_infeasible(example_path, tmp_path):
    doc = json.loads(example_path.read_text())
    doc["devices"][1]["qos"] = 1e3
    p = tmp_path / "inf.json"
    p.write_text(json.dumps(doc))
    out = tmp_path / "sol.json"
    assert main(["solve", str(p), "-a", "bnb", "--time-limit", "5", "-o", str(out)]) == 0
    sol = json.loads(out.read_text())
    assert sol["status"] == "infeasible" and "d1" in sol["stats"]["message"]
    assert sol["total_latency_s"] is None
    assert main(["verify", str(p), str(out)]) == 0
