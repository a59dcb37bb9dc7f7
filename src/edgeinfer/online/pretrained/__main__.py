"""``python -m edgeinfer.online.pretrained``: regenerate (or check) the shipped policies.

    python -m edgeinfer.online.pretrained --out src/edgeinfer/online/pretrained [--agents lymdo,ppo]
    python -m edgeinfer.online.pretrained --check [--agents ppo]
    python -m edgeinfer.online.pretrained --tune [--agents lymdo]

``--check`` retrains into a temporary folder with the shipped manifest's budget and seed and
compares the SHA-256 of each policy file with the manifest's (exit 0 identical, 1 not).
``--tune`` runs the pilot grid that chose the PPO settings (the same for both agents) and
prints one JSON line per setting.
Exit 2 on bad options, with one line naming the option.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from edgeinfer.core.errors import EdgeInferError


def main(argv: list[str] | None = None) -> int:
    from edgeinfer.online.pretrained import (
        DEFAULT_EPISODES,
        DEFAULT_STEPS,
        load_manifest,
        regenerate,
        tune,
    )

    ap = argparse.ArgumentParser(prog="python -m edgeinfer.online.pretrained", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="folder to write <agent>.zip, <agent>.train.json, manifest.json")
    g.add_argument("--check", action="store_true", help="retrain with the shipped budget, compare hashes")
    g.add_argument("--tune", action="store_true", help="run the pilot grid of PPO settings (50 episodes each)")
    ap.add_argument("--agents", default="lymdo,ppo", help="comma-separated: lymdo, ppo (default both)")
    ap.add_argument("--episodes", type=int, default=DEFAULT_EPISODES)
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--date", default=None, help="date written in the manifest (default: today, UTC)")
    args = ap.parse_args(argv)
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    try:
        if args.episodes < 1 or args.steps < 1 or args.seed < 0:
            raise EdgeInferError("--episodes and --steps must be positive, --seed non-negative")
        if not agents or any(a not in ("lymdo", "ppo") for a in agents):
            raise EdgeInferError(f"--agents: expected lymdo and/or ppo, got {args.agents!r}")
        if args.tune:
            import json

            for ag in agents:
                for row in tune(ag):
                    print(json.dumps(row), flush=True)
            return 0
        if args.check:
            shipped = {e.agent: e for e in load_manifest().policies}
            ok = True
            with tempfile.TemporaryDirectory() as tmp:
                for ag in agents:
                    e = shipped[ag]
                    man = regenerate(tmp, agents=[ag], episodes=e.episodes, steps=e.steps, seed=e.seed)
                    new = next(x for x in man.policies if x.agent == ag)
                    same = new.sha256 == e.sha256
                    ok &= same
                    print(f"{ag}: {'identical' if same else 'DIFFERENT'} ({new.sha256[:16]} vs shipped "
                          f"{e.sha256[:16]}; {e.episodes} episodes x {e.steps} slots, seed {e.seed})")
            return 0 if ok else 1
        # each agent's training is seeded on its own, so training them in one run or separately
        # (--agents) gives the same files: the command names the whole set
        cmd = (f"python -m edgeinfer.online.pretrained --out {args.out} "
               f"--episodes {args.episodes} --steps {args.steps} --seed {args.seed}")
        man = regenerate(args.out, agents=agents, episodes=args.episodes, steps=args.steps, seed=args.seed,
                         date=args.date, command=cmd)
        for e in man.policies:
            print(f"{e.agent}: {e.file} {e.bytes} bytes sha256 {e.sha256[:16]}... "
                  f"({e.episodes} episodes x {e.steps} slots, seed {e.seed}, {e.wall_s} s)")
        return 0
    except EdgeInferError as exc:
        print(f"edgeinfer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
