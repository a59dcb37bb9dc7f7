"""Shared pieces of the fuzzing suite: the valid seeds, JSON mutations, and the CLI contract.

Seeds are ``examples/*.json`` (one valid instance per problem) and solutions obtained by solving
them. A mutation picks a node of the document (any depth) and replaces, deletes, duplicates,
retypes, empties, scales, nests or swaps it, or renames the problem; one to three mutations per
input. :func:`check_failure` states what every failure must look like on the command line.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from edgeinfer.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: example file -> (fast algorithm used to solve mutated instances, algorithm for the seed solution)
SEEDS: dict[str, tuple[str, str]] = {
    "lymdo_slot_small": ("greedy-dpp", "greedy-dpp"),
    "mba_small": ("greedy", "greedy"),
    "partial_loading_backbone": ("spec", "spec"),
    "partial_loading_general": ("gen", "exact"),
    "slide_small": ("slide", "slide"),
    "split_noma_small": ("neurosurgeon", "device-only"),
}
PROBLEMS = ("lymdo_slot", "mba", "partial_loading", "slide", "split_noma")

#: one in-process CLI call may not take longer than this (a hang is a bug)
CALL_LIMIT_S = 20


@cache
def instance_doc(example: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{example}.json").read_text())


@cache
def solution_doc(example: str) -> dict[str, Any]:
    """The seed solution of an example (solved in-process, then dumped as the CLI writes it)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "sol.json"
        res = run_cli(["solve", str(EXAMPLES / f"{example}.json"), "-a", SEEDS[example][1], "-o", str(out)])
        assert res.rc == 0, res.err
        return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------
# mutations

SPECIAL: tuple[Any, ...] = (
    0, -0.0, 1, -1, 0.5, 1e308, -1e308, 1e300, 1e-300, 5e-324, -5e-324, 2.2250738585072014e-308,
    10**18 - 1, -(10**18 - 1), 2**62, 2**63 - 1, 2**64, 10**30, -(10**40),
    math.nan, math.inf, -math.inf,
    "NaN", "nan", "inf", "-Infinity", "1e999", "-1e999", "1e-999", "0x10", "", " ", "\u0000", "x" * 5000,
    True, False, None, [], {}, [None], [1e308], {"": 0},
)

VALUES = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.integers(),
    st.text(max_size=12),
    st.lists(st.integers(-3, 3), max_size=3),
)

KINDS = ("replace", "replace", "replace", "delete", "delete", "duplicate", "retype", "empty",
         "scale", "nest", "swap", "add_field", "problem")

Path_ = tuple[Any, ...]


def paths(doc: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, (*prefix, i))


def strings(doc: Any) -> list[str]:
    out: list[str] = []
    if isinstance(doc, str):
        out.append(doc)
    elif isinstance(doc, dict):
        for v in doc.values():
            out += strings(v)
    elif isinstance(doc, list):
        for v in doc:
            out += strings(v)
    return out


def get(doc: Any, path: Path_) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    get(doc, path[:-1])[path[-1]] = value
    return doc


def _retype(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return float(v) + 0.5 if abs(v) < 2**52 else str(v)
    if isinstance(v, float):
        return str(v)
    if isinstance(v, str):
        return 1
    if isinstance(v, list):
        return {str(i): x for i, x in enumerate(v)}
    if isinstance(v, dict):
        return list(v.values())
    return "null"


def format_path(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out or "<root>"


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any], max_mutations: int = 3) -> tuple[Any, list[str]]:
    """A copy of ``seed`` with 1..max_mutations mutations; also a log of what was done."""
    doc: Any = copy.deepcopy(seed)
    log: list[str] = []
    for _ in range(draw(st.integers(1, max_mutations))):
        kind = draw(st.sampled_from(KINDS))
        if kind == "problem" or not isinstance(doc, dict | list):
            name = draw(st.sampled_from((*PROBLEMS, "", "toy", "partial-loading", "MBA", "slide ", 7, None)))
            if isinstance(doc, dict):
                doc["problem"] = name
            log.append(f"problem={name!r}")
            continue
        path = draw(st.sampled_from(list(paths(doc))))
        v = get(doc, path)
        if kind == "replace":
            new = copy.deepcopy(draw(VALUES))
        elif kind == "delete" and path:
            parent = get(doc, path[:-1])
            del parent[path[-1]]
            log.append(f"delete {format_path(path)}")
            continue
        elif kind == "duplicate" and isinstance(v, list) and v:
            new = [*v, copy.deepcopy(v[draw(st.integers(0, len(v) - 1))])]
        elif kind == "duplicate" and path and isinstance(get(doc, path[:-1]), list):
            get(doc, path[:-1]).append(copy.deepcopy(v))
            log.append(f"duplicate {format_path(path)}")
            continue
        elif kind == "retype":
            new = _retype(v)
        elif kind == "empty":
            new = [] if isinstance(v, list) else {} if isinstance(v, dict) else "" if isinstance(v, str) else 0
        elif kind == "scale" and isinstance(v, int | float) and not isinstance(v, bool):
            f = draw(st.sampled_from((1e300, -1.0, 1e-300, 0.0, 1e10, 1e-10, -1e300)))
            try:
                new = v * f if isinstance(v, float) or f != int(f) else int(v * f)
            except OverflowError:
                new = math.inf
        elif kind == "nest":
            depth = draw(st.sampled_from((1, 2, 30, 3000, 100_000)))
            new = Raw("[" * depth + json.dumps(v if depth < 100 else 1, allow_nan=True) + "]" * depth)
        elif kind == "swap":
            pool = strings(doc)
            new = draw(st.sampled_from(pool)) if pool else "x"
        elif kind == "add_field" and isinstance(v, dict):
            v[draw(st.sampled_from(("extra", "id", "Id", "problem ", "__proto__")))] = copy.deepcopy(draw(VALUES))
            log.append(f"add_field {format_path(path)}")
            continue
        else:
            new = copy.deepcopy(draw(VALUES))
            kind = "replace"
        doc = _set(doc, path, new)
        log.append(f"{kind} {format_path(path)} = {_short(new)}")
    return doc, log


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) < 60 else text[:57] + "..."


class Raw(str):
    """JSON text inserted verbatim by :func:`dumps` (deep nesting without deep Python objects)."""

    def __repr__(self) -> str:
        return f"Raw({str.__repr__(self[:20])}... {len(self)} chars)"


def dumps(doc: Any) -> str:
    """JSON text as a user could write it: NaN/Infinity literals allowed, raw nested text kept."""
    raws: list[str] = []

    def swap(x: Any) -> Any:
        if isinstance(x, Raw):
            raws.append(str(x))
            return f"\ue000RAW{len(raws) - 1}\ue000"
        if isinstance(x, dict):
            return {k: swap(v) for k, v in x.items()}
        if isinstance(x, list):
            return [swap(v) for v in x]
        return x

    text = json.dumps(swap(doc), allow_nan=True, ensure_ascii=False)
    return re.sub("\"\ue000RAW(\\d+)\ue000\"", lambda m: raws[int(m.group(1))], text)


# ---------------------------------------------------------------------------------------------
# running the command line


@dataclass
class Result:
    rc: int
    out: str
    err: str


class Hang(BaseException):  # not Exception: nothing in edgeinfer may catch it
    pass


def _alarm(*_: Any) -> None:  # signal handler (signum, frame)
    raise Hang(f"an edgeinfer call ran longer than {CALL_LIMIT_S} s")


def run_cli(argv: Sequence[str]) -> Result:
    """``edgeinfer ARGV`` in-process: exit code, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    # the test's own time limit (pytest-timeout's timer, same SIGALRM) is put back afterwards
    outer_s, _ = signal.setitimer(signal.ITIMER_REAL, CALL_LIMIT_S)
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(list(argv))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer_s > 0:
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer_s - (time.monotonic() - start)))
    return Result(rc, out.getvalue(), err.getvalue())


def check_one_line_error(res: Result, context: str = "") -> None:
    """A refused input: exit 2, one line ``edgeinfer: error: WHAT: WHY`` on stderr, no traceback."""
    where = f"\n{context}\nstderr: {res.err!r}"
    assert "Traceback" not in res.err and "Traceback" not in res.out, "traceback shown" + where
    lines = res.err.splitlines()
    assert len(lines) == 1, f"{len(lines)} lines on stderr, expected one" + where
    m = re.match(r"edgeinfer( [a-z]+)?: error: (.*)$", lines[0])  # argparse says "edgeinfer solve: error:"
    assert m, "not an error line" + where
    assert len(m.group(2).strip()) > 3, "the error says nothing" + where


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    """Files in ``folder`` other than ``keep`` (an output or a temporary file left behind)."""
    return sorted(n for n in os.listdir(folder) if n not in keep)


def finite_json(text: str) -> Any:
    """Parse JSON refusing NaN/Infinity literals (what edgeinfer writes must be strict JSON)."""
    def bad(c: str) -> Any:
        raise AssertionError(f"non-finite number {c} in edgeinfer's output")
    return json.loads(text, parse_constant=bad)


# ---------------------------------------------------------------------------------------------
# known bugs inside a framework (fixed there, by other changes): the property tests tolerate
# exactly these outcomes, and tests/fuzz/test_known_bugs.py pins each with xfail(strict=True).
# When a fix lands, its xfail test XPASSes (a failure): delete the test's mark and the entry here.


@dataclass(frozen=True)
class Known:
    name: str
    example: str
    rc: int
    pattern: str  # regex on standard error
    where: str


KNOWN: tuple[Known, ...] = (
)


def known_bug(example: str, res: Result) -> Known | None:
    for k in KNOWN:
        if k.example == example and k.rc == res.rc and re.search(k.pattern, res.err):
            return k
    return None
