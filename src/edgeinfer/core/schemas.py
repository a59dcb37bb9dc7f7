"""Export the JSON Schema of every problem's instance and solution documents, and of the other
file formats (:data:`FILE_FORMATS`: the block library ...).

``python -m edgeinfer.core.schemas docs/schemas`` (or ``make schemas``).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from edgeinfer.core.registry import ProblemSpec, list_problems

#: file format name -> "module:Model" of its pydantic model (imported only when exporting, so
#: ``core`` keeps importing no other layer at module level); written as ``NAME.schema.json``.
FILE_FORMATS: dict[str, str] = {
    "library": "edgeinfer.dnn.library:LibraryDoc",
    "server": "edgeinfer.loading.server:ServerDoc",
    "run": "edgeinfer.loading.server:RunDoc",
}


def file_format_models() -> dict[str, type]:
    """File format name -> its pydantic model (:data:`FILE_FORMATS`)."""
    out = {}
    for name, ref in FILE_FORMATS.items():
        module, _, attr = ref.partition(":")
        out[name] = getattr(importlib.import_module(module), attr)
    return out


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
    for name, fmt in file_format_models().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(fmt.model_json_schema(), indent=1) + "\n", encoding="utf-8")  # type: ignore[attr-defined]
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in export_schemas(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"):
        print(p)
