"""The commands the README and docs show run as written (the quick ones).

Every fenced ``bash`` block of README.md, examples/README.md and docs/*.md is run line by line
(continuations and multi-line quotes joined) in a scratch folder holding a copy of
``examples/`` and ``tests/online/data/``. Lines that train, profile, reproduce, install or name
placeholders are skipped (long runs, or the README's plugin example, which needs its package
installed: their code is tested elsewhere, e.g. tests/test_plugins.py). A line may exit 0 or 1
(``verify`` reporting a tampered solution is exit 1); it must never print a traceback, an
internal error or a bad-input error.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "examples" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = re.compile(r"\b(reproduce|train|profile|pip|make|source|head|fifo)\b|\[|\bFILE\b|\bNAME\b|\bSTUDY\b|\.\.\.")


def _commands(text: str) -> list[str]:
    out: list[str] = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        buf = ""
        for line in block.splitlines():
            code = line if buf else line.split("  #")[0] if not line.lstrip().startswith("#") else ""
            buf = f"{buf}\n{code}" if buf else code
            if buf.rstrip().endswith("\\") or buf.count('"') % 2:
                buf = buf.rstrip().removesuffix("\\")
                continue
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    return [c for c in out if not SKIP.search(c) and re.match(r"(edgeinfer|python -c|sed) ", c)]


CASES = [(doc, _commands(doc.read_text(encoding="utf-8"))) for doc in DOCS]


def test_the_extractor_finds_commands():
    found = {str(d.relative_to(ROOT)): c for d, c in CASES}
    assert any("edgeinfer verify" in c for c in found["README.md"])
    assert any(c.startswith("python -c") for c in found["docs/split.md"])
    assert any("&&" in c for c in found["docs/loading.md"])


@pytest.mark.parametrize("doc, commands", [pytest.param(d, c, id=str(d.relative_to(ROOT))) for d, c in CASES if c])
def test_documented_commands_run(doc, commands, tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "tests" / "online" / "data", tmp_path / "tests" / "online" / "data")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "edgeinfer").write_text(f"#!/bin/sh\nexec {sys.executable} -m edgeinfer.cli \"$@\"\n")
    (bindir / "edgeinfer").chmod(0o755)
    (bindir / "python").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    (bindir / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for cmd in commands:
        r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        where = f"{doc.name}: {cmd!r} -> {r.returncode}\n{r.stderr[-2000:]}"
        assert r.returncode in (0, 1), where
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, where
        assert "edgeinfer: error" not in r.stderr, where
