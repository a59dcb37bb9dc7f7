"""``edgeinfer train``: train a LyMDO (or PPO baseline) policy and save it.

Imports nothing heavy at module level; Stable-Baselines3/torch load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys

from edgeinfer.core.errors import EdgeInferError, InvalidInstanceError

__all__ = ["add_arguments", "run"]


def _rates(text: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated rates, got {text!r}") from None
    from edgeinfer.online.problem import (
        MAX_ARRIVAL_RATE,  # 1e300 crashed the environment's Poisson draw
    )

    if not vals or not all(0 <= v <= MAX_ARRIVAL_RATE for v in vals):  # also refuses nan
        raise argparse.ArgumentTypeError(f"rates must lie in [0, {MAX_ARRIVAL_RATE:g}] req/s, got {text!r}")
    return vals


def _rate(text: str) -> float:
    vals = _rates(text)
    if len(vals) != 1:
        raise argparse.ArgumentTypeError(f"expected one rate, got {text!r}")
    return vals[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent", choices=["lymdo", "ppo"], help="learning agent to train")
    parser.add_argument("--episodes", type=int, default=2000, help="episodes (paper: 2000)")
    parser.add_argument("--steps", type=int, default=200, help="slots per episode K (paper: 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arrival-rate", type=_rates, default=[0.5, 1.0, 1.5, 2.0, 2.5], metavar="R[,R...]",
                        help="arrival rate(s) in req/s; with several, each episode draws one (default 0.5-2.5)")
    parser.add_argument("--out", "-o", required=True, help="where to save the policy (a .zip of JSON + safetensors; .zip is appended if missing)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--eval-rate", type=_rate, default=None, metavar="R",
                        help="after training, evaluate one episode at this rate and print the summary")


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        raise InvalidInstanceError("--episodes", "must be a positive integer")
    if args.steps < 1:
        raise InvalidInstanceError("--steps", "must be a positive integer")
    import importlib.util

    if importlib.util.find_spec("stable_baselines3") is None or importlib.util.find_spec("gymnasium") is None:
        raise EdgeInferError("train needs the rl extra: pip install 'edgeinfer[rl]'")
    from edgeinfer.core.io import check_output_path
    from edgeinfer.online.agents import evaluate, make_policy, policy_path, save_policy, train

    out = policy_path(args.out)
    check_output_path(out)  # before training: a link, device or FIFO is refused now, not after hours
    check_output_path(out.with_suffix(".train.json"))
    res = train(args.agent, episodes=args.episodes, steps=args.steps, seed=args.seed,
                arrival_rate=args.arrival_rate, progress=not args.no_progress)
    path = save_policy(res, args.out)  # also writes <stem>.train.json (the training curve)
    last = res.episode_rewards[-10:]
    mean_last = sum(last) / len(last) if last else float("nan")
    print(f"trained {args.agent}: {res.timesteps} slots in {res.wall_s:.1f} s, "
          f"mean reward of the last {len(last)} episodes {mean_last:.4g} -> {path}", file=sys.stderr)
    if args.eval_rate is not None:
        ev = evaluate(args.agent, arrival_rate=args.eval_rate, slots=args.steps, seed=args.seed,
                      policy=make_policy(args.agent, model=res.model))
        print(json.dumps(ev.summary(), indent=1))
    return 0
