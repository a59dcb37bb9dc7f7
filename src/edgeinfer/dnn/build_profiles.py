"""Regenerate the shipped zoo profiles: ``python -m edgeinfer.dnn.build_profiles`` (``make profiles``).

Writes ``src/edgeinfer/dnn/profiles/<name>.json`` for every model of
:data:`edgeinfer.dnn.zoo.ZOO`, at the model's canonical input shape, in the
format :func:`edgeinfer.dnn.profiles.profile_from_dict` reads
(:meth:`ModelProfile.to_dict`), plus ``<name>_fine.json`` (one layer per
parameter layer, :func:`edgeinfer.dnn.profiler.profile_param_layers`; loading
units, not split points) for the models in :data:`FINE`. Profiling runs on the
meta device and takes a few seconds for the whole zoo.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from edgeinfer.dnn.profiler import profile_model, profile_param_layers
from edgeinfer.dnn.zoo import ZOO

__all__ = ["FINE", "build_profiles", "main"]

#: models that also get a fine-grained ``<name>_fine`` profile (PartialLoading's library)
FINE = ("resnet18", "resnet34", "resnet50")

DEFAULT_DIR = Path(__file__).resolve().parent / "profiles"


def build_profiles(out_dir: Path = DEFAULT_DIR, names: Sequence[str] | None = None) -> list[Path]:
    """Profile the zoo models ``names`` (all by default) and write one JSON file each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(ZOO):
        profiles = [profile_model(name)] + ([profile_param_layers(name)] if name in FINE else [])
        for profile in profiles:
            doc = profile.to_dict()
            doc["meta"] = {**doc.get("meta", {}), "description": ZOO[name].description,
                           "generator": "python -m edgeinfer.dnn.build_profiles"}
            path = out_dir / f"{profile.name}.json"
            path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeinfer.dnn.build_profiles", description=__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR, help="output folder (default: the package's)")
    ap.add_argument("models", nargs="*", help="zoo models (default: all)")
    args = ap.parse_args(argv)
    for path in build_profiles(args.out, args.models or None):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
