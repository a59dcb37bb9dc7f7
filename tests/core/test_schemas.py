"""The JSON Schemas committed in docs/schemas/ are the ones the models export now."""

from __future__ import annotations

import json
from pathlib import Path

from edgeinfer.core.schemas import FILE_FORMATS, builtin_problems, export_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_committed_schemas_are_current(tmp_path) -> None:
    written = export_schemas(tmp_path)
    names = {p.name for p in builtin_problems()}
    assert {"partial_loading", "mba", "slide", "split_noma", "lymdo_slot"} <= names
    assert len(written) == 2 * len(names) + len(FILE_FORMATS)
    assert "library" in FILE_FORMATS
    for path in written:
        committed = DOCS / path.name
        assert committed.exists(), f"{committed} missing: run `make schemas`"
        assert json.loads(committed.read_text()) == json.loads(path.read_text()), (
            f"{committed.name} is stale: run `make schemas`")


def test_schemas_reject_unknown_fields() -> None:
    for spec in builtin_problems():
        schema = spec.instance_model.model_json_schema()
        assert schema.get("additionalProperties") is False, spec.name
        assert "problem" in schema["properties"], spec.name
