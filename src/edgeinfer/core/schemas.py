"""Export the JSON Schema of every problem's instance and solution documents.

``python -m edgeinfer.core.schemas docs/schemas`` (or ``make schemas``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edgeinfer.core.registry import ProblemSpec, list_problems


def builtin_problems() -> list[ProblemSpec]:
    """The problems edgeinfer itself defines (not ones a plug-in or a test registered)."""
    return [p for p in list_problems() if p.instance_model.__module__.startswith("edgeinfer.")]


def export_schemas(outdir: str | Path) -> list[Path]:
    """Write ``NAME.instance.schema.json`` and ``NAME.solution.schema.json`` per built-in problem."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in builtin_problems():
        for kind, model in (("instance", spec.instance_model), ("solution", spec.solution_model)):
            path = out / f"{spec.name}.{kind}.schema.json"
            path.write_text(json.dumps(model.model_json_schema(), indent=1) + "\n", encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in export_schemas(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"):
        print(p)
