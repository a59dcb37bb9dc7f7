"""JSON reading and writing for instances and solutions, dispatched on ``"problem"``.

Writes are atomic (temporary file + rename), so a failure never leaves a
half-written output behind.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import ProblemSpec, get_problem

__all__ = [
    "read_json",
    "problem_of",
    "load_instance",
    "load_solution",
    "dump_solution",
    "write_json",
    "to_jsonable",
]


def read_json(path: str | os.PathLike[str], *, error: type[InvalidInstanceError] = InvalidInstanceError) -> Any:
    """Read a JSON file; unreadable or malformed files raise ``error`` with the position."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("", f"{p}: no such file") from None
    except IsADirectoryError:
        raise error("", f"{p}: is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error("", f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error("", f"{p} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise error("", f"{p} is nested too deeply") from None


def problem_of(doc: Any, *, error: type[InvalidInstanceError] = InvalidInstanceError) -> ProblemSpec:
    if not isinstance(doc, dict):
        raise error("", f"the document must be a JSON object, not {type(doc).__name__}")
    if "problem" not in doc:
        raise error("problem", "missing required field (the problem name, e.g. \"partial_loading\")")
    name = doc["problem"]
    if not isinstance(name, str):
        raise error("problem", f"must be a string, not {type(name).__name__}")
    return get_problem(name)


def load_instance(source: str | os.PathLike[str] | dict[str, Any]) -> tuple[ProblemSpec, Any]:
    """Parse and validate an instance document (a path or a dict)."""
    doc = source if isinstance(source, dict) else read_json(source)
    spec = problem_of(doc)
    return spec, spec.load_instance(doc)


def load_solution(source: str | os.PathLike[str] | dict[str, Any], spec: ProblemSpec, instance: Any) -> Any:
    doc = source if isinstance(source, dict) else read_json(source, error=InvalidSolutionError)
    other = problem_of(doc, error=InvalidSolutionError)
    if other.name != spec.name:
        raise InvalidSolutionError("problem", f"solution is for {other.name!r} but the instance is {spec.name!r}")
    return spec.load_solution(doc, instance)


def dump_solution(spec: ProblemSpec, solution: Any) -> dict[str, Any]:
    return to_jsonable(spec.dump_solution(solution))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, enums, tuples and dataclass-like mappings to JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if hasattr(obj, "value") and type(obj).__module__.startswith("edgeinfer"):
        return obj.value
    return obj


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 1) -> None:
    """Write JSON atomically; ``"-"`` writes to standard output."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
