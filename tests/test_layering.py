"""The dependency rule of docs/architecture.md, checked on the source (no imports executed).

- no framework (loading, broadcast, streaming, split, online) imports ``edgeinfer.experiments``
  or ``edgeinfer.cli``, anywhere (function-level imports included);
- ``core`` imports no other layer; ``system`` and ``dnn`` import only ``core`` (and each other);
- the experiment engine's report writer never imports the engine (shared helpers: ``experiments.common``);
- the module-level import graph of ``edgeinfer`` has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
FRAMEWORKS = ("loading", "broadcast", "streaming", "split", "online")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted((SRC / "edgeinfer").rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The edgeinfer module ``name`` refers to (a module, or the package of an imported name)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    pkg = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("edgeinfer"):
                        r = _resolve(a.name)
                        if r:
                            found.add(r)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                if not base.startswith("edgeinfer"):
                    continue
                for a in node.names:
                    r = _resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in MODULES else _resolve(base)
                    if r:
                        found.add(r)
            elif isinstance(node, ast.If) and _is_type_checking(node):
                continue
            elif top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                sub = getattr(node, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt | ast.ExceptHandler):
                    visit([s for s in sub if isinstance(s, ast.stmt)] if field != "handlers"
                          else [s for h in sub for s in h.body])

    visit(tree.body)
    found.discard(module)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_frameworks_never_import_experiments_or_cli():
    bad = []
    for mod in MODULES:
        if _layer(mod) in FRAMEWORKS:
            for dep in _imports(mod, top_level_only=False):
                if _layer(dep) in ("experiments", "cli"):
                    bad.append(f"{mod} -> {dep}")
    assert not bad, bad


def test_lower_layers_import_only_below():
    allowed = {"core": {"core"}, "system": {"core", "system"}, "dnn": {"core", "system", "dnn"}}
    bad = []
    for mod in MODULES:
        layer = _layer(mod)
        if layer in allowed:
            for dep in _imports(mod, top_level_only=False):
                if _layer(dep) not in allowed[layer] and dep != "edgeinfer":
                    bad.append(f"{mod} -> {dep}")
    assert not bad, bad


def test_engine_and_report_do_not_import_each_other():
    """The engine writes reports; the report writer never reaches back into the engine."""
    eng, rep = "edgeinfer.experiments.engine", "edgeinfer.experiments.report"
    assert eng not in _imports(rep, top_level_only=False)
    assert "edgeinfer.experiments.common" in _imports(rep, top_level_only=False)


def test_no_import_cycles():
    graph = {m: _imports(m, top_level_only=True) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d):], d])
            elif d not in state:
                dfs(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_the_checker_sees_imports():
    """The rules above are not vacuous: the checker finds known edges."""
    assert "edgeinfer.core.registry" in _imports("edgeinfer.core.io", top_level_only=True)
    assert "edgeinfer.core.errors" in _imports("edgeinfer.core.registry", top_level_only=True)
    # function-level imports count for the layering rules, not for cycles
    assert "edgeinfer.core.io" in _imports("edgeinfer", top_level_only=False)
    assert "edgeinfer.core.io" not in _imports("edgeinfer", top_level_only=True)
