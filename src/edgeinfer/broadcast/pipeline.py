# ruff: noqa: E741
"""Real reusability scores on scikit-learn's digits (issue 5 (b); the paper's Fig. 9).

Needs torch and scikit-learn; never imported by :mod:`edgeinfer.broadcast`.

1. **Library.** A backup (base) model -- ``N`` blocks ``Linear(64, 64) + ReLU`` and a head --
   is trained on the 10-class digit task. Each task-specific model starts from the backup
   and fine-tunes all its blocks and a fresh head on its own task, so blocks at the same
   position stay interchangeable (the paper's cloned muNet blocks). Tasks are related
   label maps of the digits (``digit``, ``parity``, ``ge5``, ``mod3``, ``loop``) plus
   ``mirror`` (digit identity on horizontally mirrored images: a second family whose
   bottom features differ).
2. **Scores.** For task ``k`` and model ``i`` the game's players are the positions; the
   coalition ``S`` takes model ``i``'s blocks on ``S`` and the backup's elsewhere, with
   task ``k``'s head; its value is the validation accuracy. ``I[i, n, k]`` is the Shapley
   value of position ``n`` (Monte Carlo permutations, or exact).
3. **MBA vs unicast (Fig. 9).** Devices (one per task) get ``c_k = qos_fraction *
   sum_n I[k, n, k]``; MBA selects blocks (``milp``) with optimal power control; unicast
   sends each device its own model. Under a latency limit ``L`` only the blocks whose
   broadcast ends by ``L`` arrive (MBA sends the most-requested blocks first; unicast
   goes position by position over the devices); each device assembles, per position, its
   best-scoring received block, or the backup's block if none arrived, and its real
   test accuracy is measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["TASKS", "DigitsLibrary", "build_library", "shapley_scores", "fig9_curves", "run_pipeline"]

TASKS = ("digit", "parity", "ge5", "mod3", "loop", "mirror")


def _labels(task: str, y: np.ndarray) -> np.ndarray:
    if task in ("digit", "mirror"):
        return y
    if task == "parity":
        return y % 2
    if task == "ge5":
        return (y >= 5).astype(int)
    if task == "mod3":
        return y % 3
    if task == "loop":
        return np.isin(y, [0, 6, 8, 9]).astype(int)
    raise ValueError(f"unknown task {task!r}")


@dataclass
class DigitsLibrary:
    tasks: tuple[str, ...]
    num_positions: int
    blocks: list  # blocks[i][n]: torch module (model i, position n)
    heads: list  # heads[k]: task k's head (trained with model k)
    backup: list  # backup blocks per position
    data: dict = field(default_factory=dict)  # split -> task -> (X, y) torch tensors

    def accuracy(self, task_index: int, choice: list, split: str = "val") -> float:
        """Accuracy on task ``k`` of the model whose position ``n`` uses ``choice[n]``
        (a model index, or ``None`` for the backup block)."""
        import torch

        X, y = self.data[split][self.tasks[task_index]]
        with torch.no_grad():
            h = X
            for n, i in enumerate(choice):
                h = (self.backup[n] if i is None else self.blocks[i][n])(h)
            pred = self.heads[task_index](h).argmax(dim=1)
        return float((pred == y).float().mean())


def _block(width: int):
    import torch.nn as nn

    return nn.Sequential(nn.Linear(width, width), nn.ReLU())


def _train(blocks, head, X, y, *, epochs: int, lr: float, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    params = [p for b in blocks for p in b.parameters()] + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    n = len(X)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, 128):
            idx = perm[s:s + 128]
            h = X[idx]
            for b in blocks:
                h = b(h)
            loss = torch.nn.functional.cross_entropy(head(h), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def build_library(tasks: tuple[str, ...] = TASKS, *, num_positions: int = 4, epochs_base: int = 30,
                  epochs_task: int = 15, seed: int = 0) -> DigitsLibrary:
    """Train the backup and the task-specific models (CPU, a few seconds)."""
    import copy

    import torch
    import torch.nn as nn
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    cut1, cut2 = int(0.6 * len(X)), int(0.8 * len(X))
    splits = {"train": perm[:cut1], "val": perm[cut1:cut2], "test": perm[cut2:]}
    mirror = X.reshape(-1, 8, 8)[:, :, ::-1].reshape(-1, 64).copy()
    data: dict = {}
    for s, idx in splits.items():
        data[s] = {}
        for t in tasks:
            xs = mirror[idx] if t == "mirror" else X[idx]
            data[s][t] = (torch.from_numpy(xs), torch.from_numpy(_labels(t, y[idx])))
    width = 64
    torch.manual_seed(seed)
    backup = [_block(width) for _ in range(num_positions)]
    base_head = nn.Linear(width, 10)
    Xtr, ytr = data["train"]["digit"] if "digit" in tasks else (torch.from_numpy(X[splits["train"]]),
                                                                 torch.from_numpy(y[splits["train"]]))
    _train(backup, base_head, Xtr, ytr, epochs=epochs_base, lr=3e-3, seed=seed)
    blocks, heads = [], []
    for k, t in enumerate(tasks):
        bl = [copy.deepcopy(b) for b in backup]
        ncls = int(data["train"][t][1].max()) + 1
        head = nn.Linear(width, ncls)
        _train(bl, head, *data["train"][t], epochs=epochs_task, lr=2e-3, seed=seed + 1 + k)
        for m in bl + [head]:
            m.eval()
        blocks.append(bl)
        heads.append(head)
    for b in backup:
        b.eval()
    return DigitsLibrary(tuple(tasks), num_positions, blocks, heads, backup, data)


def shapley_scores(lib: DigitsLibrary, *, num_permutations: int | None = 24, seed: int = 0,
                   split: str = "val") -> np.ndarray:
    """``I[i, n, k]``: Shapley value of position ``n`` of model ``i`` for task ``k``
    (Monte Carlo permutations; ``num_permutations=None`` enumerates exactly)."""
    from edgeinfer.broadcast.shapley import CachedGame, exact_shapley, permutation_shapley

    M = K = len(lib.tasks)
    N = lib.num_positions
    I = np.zeros((M, N, K))
    rng = np.random.default_rng(seed)
    for i in range(M):
        for k in range(K):
            def v(S: frozenset[int], i: int = i, k: int = k) -> float:
                return lib.accuracy(k, [i if n in S else None for n in range(N)], split)

            game = CachedGame(v)
            if num_permutations is None:
                I[i, :, k] = exact_shapley(game, N)
            else:
                I[i, :, k] = permutation_shapley(game, N, num_permutations=num_permutations, rng=rng)
    return I


def _schedule(inst, requests: np.ndarray, power: str = "optimal"):
    """Broadcast order (most-requested blocks first) with start/end times from power control."""
    from edgeinfer.broadcast.model import power_control, worst_gains

    blocks, H = worst_gains(inst, requests)
    plan = power_control(H, mode=power, bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                         block_bits=inst.block_bits, energy_j=inst.energy_j)
    if plan is None:
        raise ValueError("energy budget too small for the selected blocks")
    users = [int(sum(1 for k in range(requests.shape[0]) if requests[k, n] == i)) for i, n in blocks]
    order = sorted(range(len(blocks)), key=lambda j: (-users[j], blocks[j][1], blocks[j][0]))
    t, out = 0.0, []
    for j in order:
        t += float(plan.duration_s[j])
        out.append((blocks[j], float(H[j]), t))
    return out


def fig9_curves(lib: DigitsLibrary, I: np.ndarray, *, qos_fraction: float = 0.9, seed: int = 0,
                energy_j: float = 1.0, latency_grid_s: np.ndarray | None = None) -> dict:
    """Real test accuracy vs latency limit for MBA (``milp`` selection) and unicast."""
    from edgeinfer.broadcast.model import best_assembly
    from edgeinfer.broadcast.problem import build_instance
    from edgeinfer.broadcast.scenario import ScenarioConfig, rayleigh_gains
    from edgeinfer.broadcast.solvers.milp import milp_select

    M, N, K = I.shape
    own = np.arange(K)
    qos = qos_fraction * I[own, :, own].sum(axis=1)
    gains = rayleigh_gains(np.random.default_rng(seed), K, ScenarioConfig.path_loss)
    inst = build_instance(scores=I, gains=gains, qos=qos, own_model=own, energy_j=energy_j,
                         model_ids=tuple(lib.tasks), device_ids=tuple(f"dev-{t}" for t in lib.tasks))
    sel = milp_select(I, qos, time_limit_s=30)
    if sel.y is None:
        raise ValueError(f"no MBA selection: {sel.status}")
    mba_sched = _schedule(inst, best_assembly(I, sel.y))
    # unicast: own blocks, one transmission per (device, position), position-major order
    from edgeinfer.broadcast.model import optimal_power

    plan = optimal_power(np.repeat(gains, N), bandwidth_hz=inst.bandwidth_hz, noise_w=inst.noise_w,
                         block_bits=inst.block_bits, energy_j=energy_j)
    if plan is None:
        raise ValueError("energy budget too small for unicast")
    dur = plan.duration_s.reshape(K, N)
    uni_sched, t = [], 0.0
    for n in range(N):
        for k in range(K):
            t += float(dur[k, n])
            uni_sched.append((k, n, t))
    total_mba, total_uni = mba_sched[-1][2], uni_sched[-1][2]
    if latency_grid_s is None:
        latency_grid_s = np.linspace(0.0, 1.05 * max(total_mba, total_uni), 12)
    acc_mba = np.zeros((len(latency_grid_s), K))
    acc_uni = np.zeros_like(acc_mba)
    for a, L in enumerate(latency_grid_s):
        got = [(b, h) for b, h, end in mba_sched if end <= L * (1 + 1e-12)]
        for k in range(K):
            choice: list = [None] * N
            best = [0.0] * N  # backup blocks score 0 (Shapley values are relative to the backup)
            for (i, n), h in got:
                if h <= gains[k] and I[i, n, k] > best[n]:
                    best[n], choice[n] = I[i, n, k], i
            acc_mba[a, k] = lib.accuracy(k, choice, "test")
            uchoice: list[int | None] = [None] * N
            for kk, n, end in uni_sched:
                if kk == k and end <= L * (1 + 1e-12):
                    uchoice[n] = k
            acc_uni[a, k] = lib.accuracy(k, uchoice, "test")
    own_acc = [lib.accuracy(k, [k] * N, "test") for k in range(K)]
    backup_acc = [lib.accuracy(k, [None] * N, "test") for k in range(K)]
    return {"latency_s": latency_grid_s.tolist(), "tasks": list(lib.tasks), "mba_accuracy": acc_mba.tolist(),
            "unicast_accuracy": acc_uni.tolist(), "own_accuracy": own_acc, "backup_accuracy": backup_acc,
            "mba_blocks": int(sel.y.sum()), "unicast_blocks": K * N, "mba_total_latency_s": total_mba,
            "unicast_total_latency_s": total_uni}


def surrogate_check(lib: DigitsLibrary, I: np.ndarray, *, samples: int = 60, seed: int = 0) -> dict:
    """Correlation between the eq. (6) score and the real accuracy of random assemblies."""
    rng = np.random.default_rng(seed)
    M, N, K = I.shape
    xs, ys = [], []
    for _ in range(samples):
        k = int(rng.integers(K))
        choice = [int(rng.integers(M)) for _ in range(N)]
        xs.append(float(sum(I[choice[n], n, k] for n in range(N))))
        ys.append(lib.accuracy(k, choice, "test") - lib.accuracy(k, [None] * N, "test"))
    r = float(np.corrcoef(xs, ys)[0, 1]) if np.std(xs) > 0 and np.std(ys) > 0 else math.nan
    return {"pearson_r": r, "samples": samples}


def run_pipeline(*, tasks: tuple[str, ...] = TASKS, num_positions: int = 4, epochs_base: int = 30,
                 epochs_task: int = 15, num_permutations: int | None = 24, seed: int = 0,
                 energy_j: float = 1.0) -> dict:
    lib = build_library(tasks, num_positions=num_positions, epochs_base=epochs_base, epochs_task=epochs_task,
                        seed=seed)
    I = shapley_scores(lib, num_permutations=num_permutations, seed=seed)
    out = fig9_curves(lib, I, seed=seed, energy_j=energy_j)
    out["scores"] = I.tolist()
    out["surrogate"] = surrogate_check(lib, I, seed=seed)
    return out
