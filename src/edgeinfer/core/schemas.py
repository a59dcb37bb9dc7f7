"""Export the JSON Schema of every problem's instance and solution documents.

``python -m edgeinfer.core.schemas docs/schemas`` (or ``make schemas``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from edgeinfer.core.registry import ProblemSpec, list_problems

#: Other documents with a schema (``server``, ...): name -> pydantic model, registered by the
#: framework that defines them (:func:`register_document`) when it is imported.
_DOCUMENTS: dict[str, type[BaseModel]] = {}


def register_document(name: str, model: type[BaseModel]) -> None:
    """Export ``model``'s JSON Schema as ``NAME.schema.json`` beside the problems' schemas."""
    if name in _DOCUMENTS and _DOCUMENTS[name] is not model:
        raise ValueError(f"document schema {name!r} registered twice")
    _DOCUMENTS[name] = model


def builtin_documents() -> dict[str, type[BaseModel]]:
    """The non-problem documents edgeinfer itself defines (after the frameworks are imported)."""
    list_problems()  # imports the frameworks, which register their documents
    return {k: m for k, m in sorted(_DOCUMENTS.items()) if m.__module__.startswith("edgeinfer.")}


def builtin_problems() -> list[ProblemSpec]:
    """The problems edgeinfer itself defines (not ones a plug-in or a test registered)."""
    return [p for p in list_problems() if p.instance_model.__module__.startswith("edgeinfer.")]


def export_schemas(outdir: str | Path) -> list[Path]:
    """Write ``NAME.instance.schema.json`` and ``NAME.solution.schema.json`` per built-in problem,
    and ``NAME.schema.json`` per other registered document (:func:`register_document`)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in builtin_problems():
        for kind, model in (("instance", spec.instance_model), ("solution", spec.solution_model)):
            path = out / f"{spec.name}.{kind}.schema.json"
            path.write_text(json.dumps(model.model_json_schema(), indent=1) + "\n", encoding="utf-8")
            written.append(path)
    for name, model in builtin_documents().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    from edgeinfer.core import schemas as _module  # the registry the frameworks fill, not __main__'s copy

    for p in _module.export_schemas(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"):
        print(p)
