"""Pydantic building blocks for the JSON file formats and helpers for cross-field checks.

Every problem's file format is a :class:`StrictModel`: unknown fields are rejected,
numbers must be finite, and :func:`parse_model` turns pydantic's errors into an
:class:`~edgeinfer.core.errors.InvalidInstanceError` naming the field path
(``users[3].data_bits``). Checks that span fields (unique ids, references) run
after parsing with :func:`check_unique_ids` and :func:`check_ref`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgeinfer.core.errors import InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.status import SolveStatus

__all__ = [
    "StrictModel",
    "PositiveFloat",
    "NonNegativeFloat",
    "Fraction",
    "PositiveInt",
    "NonNegativeInt",
    "Id",
    "Hertz",
    "NoisePsdDbmPerHz",
    "parse_model",
    "format_loc",
    "check_unique_ids",
    "check_ref",
    "require_nonempty",
    "parse_status",
    "match_ids",
]

M = TypeVar("M", bound=BaseModel)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


class StrictModel(BaseModel):
    """Base for file-format models: frozen, unknown fields forbidden, finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Id = Annotated[str, Field(min_length=1, max_length=200)]
#: a bandwidth or a clock in [1 Hz, 1 THz]: wider than anything physical, narrow enough that the
#: rates and times the solvers compute from it stay normal doubles (1.6e169 Hz and 1e-300 Hz crashed
#: lymdo_slot's greedy-dpp, 1e30 Hz overflowed split_noma's edge-only: docs/formats.md)
Hertz = Annotated[float, Field(ge=1.0, le=1e12)]
#: a noise density in dBm/Hz (thermal noise: -174); [-300, 300] keeps ``10**(x/10)`` finite and normal
NoisePsdDbmPerHz = Annotated[float, Field(ge=-300.0, le=300.0)]


def format_loc(loc: Sequence[Any]) -> str:
    """``("users", 3, "data_bits")`` -> ``users[3].data_bits``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "missing required field",
    "finite_number": "must be a finite number (no NaN or infinity)",
}


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    msg = str(err.get("msg", "invalid value"))
    if kind.endswith("_type"):
        got = err.get("input")
        msg += f" (got {type(got).__name__} {got!r})" if not isinstance(got, dict | list) else f" (got {type(got).__name__})"
    return msg


def parse_model(
    model: type[M], doc: Any, *, prefix: str = "", error: type[InvalidInstanceError] = InvalidInstanceError
) -> M:
    """Validate ``doc`` against ``model``; raise ``error`` naming the first bad field."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errs = exc.errors()
        # Prefer errors about the structure (missing/unknown) over union noise.
        first = errs[0]
        loc = format_loc(first.get("loc", ()))
        field = ".".join(p for p in (prefix, loc) if p)
        more = f" (and {len(errs) - 1} more problems)" if len(errs) > 1 else ""
        raise error(field, _describe(first) + more) from None


def require_nonempty(items: Sequence[Any], field: str) -> None:
    if len(items) == 0:
        raise InvalidInstanceError(field, "must not be empty")


def check_unique_ids(ids: Iterable[str], field: str, attr: str = "id") -> None:
    """Raise if an id repeats: ``users[4].id: duplicate id 'u1' (first at users[0])``."""
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in seen:
            raise InvalidInstanceError(f"{field}[{i}].{attr}", f"duplicate id {v!r} (first at {field}[{seen[v]}])")
        seen[v] = i


def check_ref(value: str, known: Iterable[str], field: str, what: str) -> None:
    """Raise if ``value`` is not among ``known``: ``users[3].model: unknown model 'm9'``."""
    known_set = known if isinstance(known, set | frozenset | dict) else set(known)
    if value not in known_set:
        from edgeinfer.core.errors import suggest

        hint = suggest(value, [str(k) for k in known_set])
        raise InvalidInstanceError(
            field, f"unknown {what} {value!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )


def parse_status(value: str, field: str = "status") -> SolveStatus:
    """The :class:`SolveStatus` named ``value`` in a solution file, else InvalidSolutionError."""
    try:
        return SolveStatus(value)
    except ValueError:
        raise InvalidSolutionError(field, f"unknown status {value!r}") from None


def match_ids(items: Sequence[T], ids: Sequence[str], field: str, what: str) -> list[T]:
    """Order a solution's per-entity records (each with an ``id``) as the instance's ``ids``.

    Every instance id must appear exactly once and no other: ``devices[2].id: unknown device
    'd9'``, ``devices[3].id: duplicate device 'd1'``, ``devices: missing device 'd4'``.
    """
    known = set(ids)
    by_id: dict[str, T] = {}
    for k, item in enumerate(items):
        i = item.id
        if i not in known:
            raise InvalidSolutionError(f"{field}[{k}].id", f"unknown {what} {i!r}")
        if i in by_id:
            raise InvalidSolutionError(f"{field}[{k}].id", f"duplicate {what} {i!r}")
        by_id[i] = item
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise InvalidSolutionError(field, f"missing {what} {missing[0]!r}")
    return [by_id[i] for i in ids]
