"""Declared parameters: one type for solver options and study parameters.

Every solver declares its parameters once, at registration
(``@register_solver(..., params=(Param("max_evals", 100_000, int, "...", bounds=(1, None)),))``);
studies declare theirs the same way. :func:`resolve_params` checks what a user gives
against the declarations: an unknown or misspelt name, a value of the wrong type or out of
range is an :class:`~edgeinfer.core.errors.InvalidOptionError` naming the parameter (with
the nearest valid name for a typo). Values given as strings (the command line) are
converted to the declared type; every declared parameter missing from what was given takes
its default, so a solver reads ``options.params["name"]`` and holds no defaults of its own.

This module imports only the standard library and NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.core.errors import InvalidOptionError, suggest

__all__ = ["Param", "PARAM_TYPES", "resolve_params", "describe_param"]

#: the types a parameter may have
PARAM_TYPES: tuple[type, ...] = (float, int, str, bool)

#: the largest integer a parameter accepts (beyond it, counts and budgets are meaningless
#: and arithmetic on them overflows NumPy's int64)
MAX_INT = 2**62


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Parameters
    ----------
    name:
        Identifier, with a unit suffix where it has a unit (``bandwidth_hz``, ``slot_s``).
    default:
        The value used when none is given. ``None`` only if ``optional``.
    type:
        ``float``, ``int``, ``str`` or ``bool``.
    help:
        One line: what it is, with its unit.
    bounds:
        Inclusive ``(low, high)`` for numbers; ``None`` for either side means unbounded.
    choices:
        Allowed values for ``str`` parameters.
    optional:
        ``None`` is an accepted value (meaning "not set"; the help says what that does).
    validate:
        A further check of an already-typed, in-range value: what is wrong with it, or ``None``
        (e.g. the form of a ``str`` list of rates), so that a bad value is refused with the
        others, before any work.
    """

    name: str
    default: Any
    type: type = float
    help: str = ""
    bounds: tuple[float | None, float | None] | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    validate: Callable[[Any], str | None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Param name must be an identifier, got {self.name!r}")
        if self.type not in PARAM_TYPES:
            raise ValueError(f"Param {self.name}: type must be one of float, int, str, bool")
        problem = self.check(self.default)
        if problem:
            raise ValueError(f"Param {self.name}: default {self.default!r}: {problem}")

    def check(self, value: Any) -> str | None:
        """Return what is wrong with an already-typed ``value``, or ``None``."""
        if value is None:
            return None if self.optional else "must not be null"
        t = self.type
        if t is bool:
            ok = isinstance(value, bool | np.bool_)
        elif t is int:
            ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
            if ok and abs(int(value)) > MAX_INT:
                return f"{_short(value)} is too large (at most {MAX_INT:.3g} in magnitude)"
        elif t is float:
            ok = isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool)
            if ok:
                try:
                    finite = math.isfinite(float(value))
                except OverflowError:
                    finite = False
                if not finite:
                    return "must be a finite number"
        else:
            ok = isinstance(value, str)
        if not ok:
            return f"expected {_type_word(t)}, got {type(value).__name__} {_short(value)}"
        if self.bounds is not None and t in (int, float):
            lo, hi = self.bounds
            if lo is not None and value < lo:
                return f"{_short(value)} is below the minimum {lo!r}"
            if hi is not None and value > hi:
                return f"{_short(value)} is above the maximum {hi!r}"
        if self.choices is not None and value not in self.choices:
            return f"{_short(value)} is not one of {', '.join(map(repr, self.choices))}"
        if self.validate is not None:
            return self.validate(value)
        return None

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (a string from the command line, a JSON or TOML value) to the type.

        Raises ``ValueError`` with a short reason on failure (the caller adds the name).
        """
        t = self.type
        if value is None or (isinstance(value, str) and self.optional and value.strip().lower() in ("none", "null")):
            value = None
        elif isinstance(value, str) and t is not str:
            text = value.strip()
            if t is bool:
                low = text.lower()
                if low in ("true", "1", "yes", "on"):
                    value = True
                elif low in ("false", "0", "no", "off"):
                    value = False
                else:
                    raise ValueError(f"expected a boolean (true/false), got {_short(value)}")
            elif t is int:
                if len(text) > 40:
                    raise ValueError(f"expected an integer, got {_short(value)}")
                try:
                    value = int(text)
                except ValueError:
                    try:
                        f = float(text)
                    except ValueError:
                        raise ValueError(f"expected an integer, got {_short(value)}") from None
                    if not (math.isfinite(f) and f == int(f)):
                        raise ValueError(f"expected an integer, got {_short(value)}") from None
                    value = int(f)
            else:
                try:
                    value = float(text)
                except ValueError:
                    raise ValueError(f"expected a number, got {_short(value)}") from None
        elif t is int and isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        elif t is bool and isinstance(value, np.bool_):
            value = bool(value)
        if t is float and isinstance(value, int | np.integer) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise ValueError(f"{_short(value)} is too large") from None
        elif t is float and isinstance(value, np.floating):
            value = float(value)
        elif t is int and isinstance(value, np.integer):
            value = int(value)
        problem = self.check(value)
        if problem:
            raise ValueError(problem)
        return value


def _type_word(t: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(t, t.__name__)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_param(p: Param) -> str:
    """One line for listings: ``max_evals=100000 (int >= 1): help``."""
    kind = p.type.__name__
    if p.bounds is not None:
        lo, hi = p.bounds
        if lo is not None and hi is not None:
            kind += f" in [{lo:g}, {hi:g}]"
        elif lo is not None:
            kind += f" >= {lo:g}"
        elif hi is not None:
            kind += f" <= {hi:g}"
    if p.choices:
        kind += ": " + "|".join(p.choices)
    if p.optional:
        kind += " or null"
    return f"{p.name}={p.default!r} ({kind}) {p.help}".rstrip()


def resolve_params(
    declared: Sequence[Param], given: Mapping[str, Any] | Iterable[tuple[str, Any]], *, where: str
) -> dict[str, Any]:
    """Check ``given`` against ``declared``; return every declared parameter, typed.

    ``where`` names the owner in messages (``"solver partial_loading/search"``).
    Raises :class:`InvalidOptionError` on an unknown name (suggesting the nearest declared
    one), a value that does not convert to the declared type, or one out of range.
    """
    by = {p.name: p for p in declared}
    items = given.items() if isinstance(given, Mapping) else given
    out: dict[str, Any] = {}
    for key, raw in items:
        if not isinstance(key, str) or key not in by:
            hint = suggest(str(key), by)
            if hint:
                extra = f"; did you mean {hint!r}?"
            elif by:
                extra = f"; it takes {', '.join(sorted(by))}"
            else:
                extra = "; it takes no parameters"
            raise InvalidOptionError(str(key), f"unknown parameter of {where}{extra}")
        try:
            out[key] = by[key].coerce(raw)
        except ValueError as exc:
            raise InvalidOptionError(key, str(exc)) from None
    for p in declared:
        if p.name not in out:
            out[p.name] = p.coerce(p.default)
    return out
