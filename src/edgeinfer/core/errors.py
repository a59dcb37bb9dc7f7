"""Exception hierarchy: every error edgeinfer raises derives from :class:`EdgeInferError`.

Modelled on Gymnasium's ``error`` module: specific classes, messages that name the
offending field, and a suggestion where one can be computed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "EdgeInferError",
    "InvalidInstanceError",
    "InvalidSolutionError",
    "InvalidOptionError",
    "UnknownNameError",
    "UnsupportedInstanceError",
    "SolverError",
    "VerificationError",
    "PluginError",
    "suggest",
]


class EdgeInferError(Exception):
    """Root of all edgeinfer exceptions."""


class InvalidInstanceError(EdgeInferError, ValueError):
    """An input document or object is malformed.

    Parameters
    ----------
    field:
        Path of the offending field, e.g. ``users[3].data_bits`` (``""`` for the document).
    problem:
        What is wrong, in a few words.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class InvalidSolutionError(InvalidInstanceError):
    """A solution document is malformed (as opposed to merely infeasible)."""


class InvalidOptionError(EdgeInferError, ValueError):
    """A solver option, study parameter or command-line value is unknown, mistyped or out of range.

    ``field`` names the option (``max_evals``, ``--seed``); the message suggests the nearest
    valid name for a typo.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class PluginError(EdgeInferError):
    """A plugin module (entry point group ``edgeinfer.plugins``) failed to load."""


class UnknownNameError(EdgeInferError, LookupError):
    """A name (problem, algorithm, study, parameter) is not known; suggests the nearest."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(set(known))
        self.kind = kind
        self.name = name
        self.known = known
        self.suggestion = suggest(name, known)
        msg = f"unknown {kind} {name!r}"
        if self.suggestion:
            msg += f"; did you mean {self.suggestion!r}?"
        elif known:
            msg += f"; known: {', '.join(known)}"
        super().__init__(msg)

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class UnsupportedInstanceError(EdgeInferError, ValueError):
    """A solver cannot handle this (valid) instance, e.g. ``spec`` on a general-sharing library."""


class SolverError(EdgeInferError, RuntimeError):
    """A solver failed for a reason other than bad input (an internal error: exit code 3)."""


class VerificationError(SolverError):
    """A solver's own answer failed the independent verification (a solver bug)."""


def suggest(name: str, known: Iterable[str]) -> str | None:
    """Return the closest known name (difflib), or ``None``."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return matches[0] if matches else None
