"""JSON reading and writing for instances and solutions, dispatched on ``"problem"``.

Reads refuse what is not a regular file (directories, devices, FIFOs) and files above a size
cap; integers in JSON have at most 18 digits (non-finite numbers are refused by the models).
Writes are atomic (temporary file + rename), so a failure never leaves a half-written
output behind, and never replace a link, a device, a FIFO or an input file.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.core.errors import EdgeInferError, InvalidInstanceError, InvalidSolutionError
from edgeinfer.core.registry import ProblemSpec, get_problem

__all__ = [
    "MAX_INPUT_BYTES",
    "check_output_path",
    "parse_json_text",
    "read_file_bytes",
    "read_text_file",
    "write_bytes_atomic",
    "read_json",
    "problem_of",
    "load_instance",
    "load_solution",
    "dump_solution",
    "write_json",
    "to_jsonable",
    "nonfinite_path",
]


#: Largest input file read (bytes). A 200 MB instance loads in about 14 s and 1.9 GB of
#: memory; beyond this cap a file is refused before it is read. ``EDGEINFER_MAX_INPUT_BYTES``
#: overrides it.
MAX_INPUT_BYTES = 512 * 2**20
#: Integers in input documents have at most this many digits (beyond int64 nothing in a model
#: is meaningful, and NumPy conversions overflow).
MAX_INT_DIGITS = 18


def _max_input_bytes() -> int:
    raw = os.environ.get("EDGEINFER_MAX_INPUT_BYTES")
    if raw:
        try:
            v = int(raw)
            if v > 0:
                return v
        except ValueError:
            pass
    return MAX_INPUT_BYTES


class _BigInt:
    """Placeholder for an integer literal with too many digits; :func:`parse_json_text` then
    names the field that holds it (``batches[1].users``) instead of only the file."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | _BigInt:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:  # never int(): Python refuses > 4300 digits and is slow below that
        return _BigInt(digits)
    return int(text)


def _find_big_int(doc: Any) -> tuple[str, _BigInt] | None:
    """The path (``users[3].bytes``) and placeholder of the first too-large integer, if any."""
    from edgeinfer.core.validation import format_loc

    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        loc, x = stack.pop()
        if isinstance(x, _BigInt):
            return format_loc(loc), x
        if isinstance(x, dict):
            stack.extend(((*loc, k), v) for k, v in reversed(list(x.items())))
        elif isinstance(x, list):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(x))))
    return None


def _path_text(p: Path) -> str:
    """A path as it appears in a one-line message (control characters escaped)."""
    text = str(p)
    return text if text.isprintable() else repr(text)[1:-1]


def read_file_bytes(path: str | os.PathLike[str], *, error: type[InvalidInstanceError] = InvalidInstanceError,
                    what: str = "JSON file", cap: int | None = None, field: str = "") -> bytes:
    """The bytes of a regular file, refusing directories, devices, FIFOs and files above ``cap``
    (default: the input limit, :data:`MAX_INPUT_BYTES`).

    The file is opened without blocking (a FIFO cannot hang the read) and checked with
    ``fstat`` on the open descriptor, so what is checked is what is read. Failures raise
    ``error(field, ...)`` naming the path.
    """
    p = Path(path)
    limit = _max_input_bytes() if cap is None else cap
    which = "the input limit" if cap is None else "the limit"
    hint = " (set EDGEINFER_MAX_INPUT_BYTES to raise it)" if cap is None else ""
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except ValueError:  # a NUL byte in the name: no file can have it
        raise error(field, f"{_path_text(p)}: not a valid file name (it contains a NUL byte)") from None
    except FileNotFoundError:
        raise error(field, f"{_path_text(p)}: no such file") from None
    except IsADirectoryError:
        raise error(field, f"{p}: is a directory, not a {what}") from None
    except OSError as exc:
        raise error(field, f"{p}: cannot read ({exc.strerror or type(exc).__name__})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(field, f"{p}: is a directory, not a {what}")
        if not stat.S_ISREG(st.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or
                    stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise error(field, f"{p}: is {kind}, not a regular file (a {what} was expected)")
        if st.st_size > limit:
            raise error(field, f"{p}: {st.st_size} bytes is larger than {which} of {limit} bytes{hint}")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(field, f"{p}: cannot read ({exc.strerror or type(exc).__name__})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise error(field, f"{p}: larger than {which} of {limit} bytes{hint}")
    return data


def read_text_file(path: str | os.PathLike[str], *, error: type[InvalidInstanceError] = InvalidInstanceError,
                   what: str = "JSON file") -> str:
    """A regular file under the input limit (:func:`read_file_bytes`), decoded as UTF-8."""
    data = read_file_bytes(path, error=error, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error("", f"{Path(path)}: not UTF-8 text (byte {exc.start})") from None


def parse_json_text(text: str, source: str, *, error: type[InvalidInstanceError] = InvalidInstanceError) -> Any:
    """Parse JSON; integers have at most 18 digits. ``NaN``/``Infinity`` literals parse, and the
    problem's model then refuses them naming the field (``capacity_kg: must be a finite number``)."""
    try:
        doc = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise error("", f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise error("", f"{source}: {exc}") from None
    except RecursionError:
        raise error("", f"{source} is nested too deeply") from None
    big = _find_big_int(doc)
    if big is not None:
        where, value = big
        raise error(where, f"an integer with {value.digits} digits is too large (at most {MAX_INT_DIGITS} digits)"
                    + ("" if where else f" in {source}"))
    return doc


def read_json(path: str | os.PathLike[str], *, error: type[InvalidInstanceError] = InvalidInstanceError) -> Any:
    """Read a JSON file; unreadable, oversized or malformed files raise ``error`` naming the file."""
    return parse_json_text(read_text_file(path, error=error), str(Path(path)), error=error)


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
    """Parse and validate an instance document (a path or a dict).

    A ``ValueError``, ``OverflowError`` (any ``ArithmeticError``), ``TypeError`` or
    ``RecursionError`` that escapes a problem's loader (a value no check anticipated) is
    reported as an ``InvalidInstanceError``, not a crash.
    """
    doc = source if isinstance(source, dict) else read_json(source)
    spec = problem_of(doc)
    try:
        return spec, spec.load_instance(doc)
    except EdgeInferError:
        raise
    except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
        raise InvalidInstanceError("", f"the {spec.name} instance cannot be used: {type(exc).__name__}: {exc}") from None


def load_solution(source: str | os.PathLike[str] | dict[str, Any], spec: ProblemSpec, instance: Any) -> Any:
    """Parse and validate a solution document for ``instance``; what escapes the problem's
    loader is an ``InvalidSolutionError`` as in :func:`load_instance`."""
    doc = source if isinstance(source, dict) else read_json(source, error=InvalidSolutionError)
    other = problem_of(doc, error=InvalidSolutionError)
    if other.name != spec.name:
        raise InvalidSolutionError("problem", f"solution is for {other.name!r} but the instance is {spec.name!r}")
    try:
        return spec.load_solution(doc, instance)
    except EdgeInferError:
        raise
    except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
        raise InvalidSolutionError("", f"the {spec.name} solution cannot be used: {type(exc).__name__}: {exc}") from None


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


def get_path(doc: Any, path: str) -> Any:
    """The value at a :func:`nonfinite_path` path (for messages)."""
    import re

    if path == "<document>":
        return doc
    for index, key in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path):
        doc = doc[int(index)] if index else doc[key]
    return doc


def nonfinite_path(doc: Any) -> str | None:
    """The path (``devices[0].energy_j``) of the first NaN or infinity in a JSON-like document."""
    import math

    from edgeinfer.core.validation import format_loc

    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        loc, x = stack.pop()
        if isinstance(x, float) and not math.isfinite(x):
            return format_loc(loc) or "<document>"
        if isinstance(x, dict):
            stack.extend(((*loc, k), v) for k, v in reversed(list(x.items())))
        elif isinstance(x, list | tuple):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(x))))
    return None


def check_output_path(path: str | os.PathLike[str], inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path | None:
    """Refuse an output path that would destroy something: an input file (after resolving links),
    a symlink, a device, a FIFO, a socket or a directory. ``"-"`` (standard output) is ``None``.

    Raises ``InvalidInstanceError`` with field ``output`` (exit 2) before any work is done.
    """
    if str(path) == "-":
        return None
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except ValueError:  # a NUL byte in the name
        raise InvalidInstanceError("output", f"{_path_text(p)}: not a valid file name (it contains a NUL byte)") from None
    except OSError as exc:
        raise InvalidInstanceError("output", f"{p}: cannot use ({exc.strerror or type(exc).__name__})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InvalidInstanceError("output", f"{p} is a symbolic link; edgeinfer does not replace links "
                                                 "(name the file itself, or - for standard output)")
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInstanceError("output", f"{p} is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInstanceError("output", f"{p} is not a regular file (a device, FIFO or socket); "
                                                 "use - for standard output")
    target = p.resolve()
    for src in inputs:
        if str(src) == "-":
            continue
        try:
            same = Path(src).resolve() == target or (st is not None and os.path.samefile(src, p))
        except (OSError, ValueError):  # an input that cannot exist (NUL byte) is refused when read
            same = False
        if same:
            raise InvalidInstanceError("output", f"{p} is also an input ({src}); refusing to overwrite it")
    return p


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 1,
               inputs: tuple[str | os.PathLike[str], ...] = ()) -> None:
    """Write JSON atomically; ``"-"`` writes to standard output.

    The file is written to a temporary file beside it and renamed over it, so a failure (a full
    or read-only disk) leaves no half-written file and the old content intact. The new file gets
    the usual permissions (0666 less the umask). Links, devices, FIFOs and the ``inputs``
    are never replaced (:func:`check_output_path`). ``OSError`` becomes an
    ``InvalidInstanceError`` naming the path.
    """
    doc = to_jsonable(obj)
    bad = nonfinite_path(doc)
    if bad is not None:  # JSON has no NaN or infinity: say where, not only that
        raise ValueError(f"cannot write {bad} = {get_path(doc, bad)}: JSON has no NaN or infinity")
    text = json.dumps(doc, indent=indent, allow_nan=False) + "\n"
    p = check_output_path(path, inputs)
    if p is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_bytes_atomic(p, text.encode("utf-8"), inputs=inputs)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *,
                       inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """Write ``data`` to ``path`` through a temporary file beside it, fsynced and renamed over it.

    A failure leaves no half-written file and the old content intact; the new file gets 0666
    less the umask; links, devices, FIFOs and the ``inputs`` are never replaced
    (:func:`check_output_path`, checked before and again just before the rename). ``OSError``
    becomes an ``InvalidInstanceError`` (field ``output``) naming the path.
    """
    p = check_output_path(path, inputs)
    if p is None:
        raise InvalidInstanceError("output", "- (standard output) is not a file for binary data")
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        check_output_path(p, inputs)  # nothing replaced the target with a link meanwhile
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise InvalidInstanceError("output", f"{p}: cannot write ({exc.strerror or type(exc).__name__})") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return p
