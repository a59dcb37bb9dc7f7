"""Synthetic random instances (tests, benchmarks). The paper's §VII set-up is in ``scenario``."""

from __future__ import annotations

from typing import Any

from edgeinfer.core.rng import SeedLike, make_rng

__all__ = ["random_instance_doc"]


def random_instance_doc(
    seed: SeedLike,
    *,
    kind: str = "general",
    n_models: int = 4,
    n_users: int = 6,
    n_clusters: int = 2,
    n_blocks: int = 6,
    max_batch: tuple[int, int] = (1, 3),
    deadline_s: tuple[float, float] = (0.3, 3.0),
    bandwidth_hz: float = 1e6,
) -> dict[str, Any]:
    """A random ``partial_loading`` instance document.

    ``kind="backbone"``: ``n_clusters`` clusters, each with a backbone of up to ``n_blocks``
    blocks; model i holds the first ``l_i`` of them (0..all) plus 0-2 own blocks (at least one
    block in all). ``kind="general"``: ``n_blocks`` blocks, each model a random non-empty subset.
    Times are of order 0.01-1 s for uploads, loads and batches, so every term matters.
    """
    rng = make_rng(seed)
    blocks: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []

    def new_block(name: str) -> str:
        blocks.append({"id": name, "bytes": float(rng.uniform(0.02, 1.0) * 1e9)})
        return name

    if kind == "backbone":
        backbones = []
        for c in range(n_clusters):
            nb = int(rng.integers(1, max(n_blocks, 1) + 1))
            backbones.append([new_block(f"c{c}.bb{j}") for j in range(nb)])
        for i in range(n_models):
            c = int(rng.integers(n_clusters))
            bb = backbones[c]
            level = int(rng.integers(0, len(bb) + 1))
            own = int(rng.integers(0 if level else 1, 3))
            ids = bb[:level] + [new_block(f"m{i}.own{j}") for j in range(own)]
            models.append({"id": f"m{i}", "blocks": ids})
    elif kind == "general":
        ids_all = [new_block(f"b{j}") for j in range(n_blocks)]
        for i in range(n_models):
            size = int(rng.integers(1, n_blocks + 1))
            pick = sorted(rng.choice(n_blocks, size=size, replace=False).tolist())
            models.append({"id": f"m{i}", "blocks": [ids_all[j] for j in pick]})
    else:
        raise ValueError(f"kind must be 'backbone' or 'general', not {kind!r}")
    for m in models:
        m["compute_per_sample_s"] = float(rng.uniform(0.0, 0.15))
        m["compute_fixed_s"] = float(rng.uniform(0.0, 0.3))
        m["max_batch"] = int(rng.integers(max_batch[0], max_batch[1] + 1))
    users = []
    for k in range(n_users):
        users.append({
            "id": f"u{k}",
            "model": f"m{int(rng.integers(n_models))}",
            "data_bits": float(rng.uniform(1e4, 3e5)),
            "spectral_efficiency": float(rng.uniform(0.5, 10.0)),
        })
    return {
        "problem": "partial_loading",
        "bandwidth_hz": bandwidth_hz,
        "deadline_s": float(rng.uniform(*deadline_s)),
        "load": {"disk_bytes_per_s": 2e9, "host_to_device_bytes_per_s": 1e10},
        "blocks": blocks,
        "models": models,
        "users": users,
    }
