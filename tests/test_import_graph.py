"""The package's import graph has no cycle (issue 13): arrows point one way, also through the imports
inside functions (lazy imports).

Built with ``ast`` from every ``sparks_gui/**/*.py``: the imports a module runs when it is
imported (module body, including top-level ``if``/``try`` blocks, not function bodies or
``if TYPE_CHECKING:``), relative imports resolved.  A package's ``__init__`` counts as the
package; importing ``pkg.mod`` is an edge to ``pkg.mod`` only (the parent packages Python also
runs are left out, else every ``__init__`` that re-exports would close a loop).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = "sparks_gui"
ROOT = Path(__file__).resolve().parents[1] / PKG

KNOWN_CYCLES: set[tuple[str, ...]] = set()
"""Cycles allowed for now, each as its sorted module names; empty: the graph is acyclic."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _top_level_imports(tree: ast.Module):
    """Import nodes executed on import: module body and nested top-level if/try/with blocks."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body + node.orelse + node.finalbody)
            for h in node.handlers:
                stack.extend(h.body)
        elif isinstance(node, ast.With):
            stack.extend(node.body)


def _all_imports(tree: ast.Module):
    """Every import node, also those inside functions (lazy imports); not ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    """Module -> the package modules it imports at module level (``lazy``: anywhere in the file)."""
    find = _all_imports if lazy else _top_level_imports
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        for node in find(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [prefix]
                targets += [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in mods]
            for t in targets:
                while t and t not in mods and "." in t:  # `import a.b.name` -> the module a.b
                    t = t.rpartition(".")[0]
                if t in mods and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[tuple[str, ...]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_relative_and_absolute_imports():
    g = import_graph()
    assert "sparks_gui.napari.layers" in g["sparks_gui.napari.reader"]
    assert "sparks_gui.errors" in g["sparks_gui.napari.reader"]
    assert "sparks_gui.analysis.ordering" in g["sparks_gui.gui._ordering"]
    assert "sparks_gui.tools.validate_mtm" in g["sparks_gui.tools.validate"]
    # a made-up cycle is found
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


@pytest.mark.parametrize("lazy", [False, True], ids=["module-level", "with-lazy-imports"])
def test_no_import_cycle(lazy):
    found = set(cycles(import_graph(lazy)))
    assert found <= KNOWN_CYCLES, f"new import cycle(s): {sorted(found - KNOWN_CYCLES)}"
    assert not (KNOWN_CYCLES - found), f"fixed cycle(s) still listed as known: {sorted(KNOWN_CYCLES - found)}"


def test_lazy_imports_are_seen_and_type_checking_imports_are_not():
    g = import_graph(lazy=True)
    assert "sparks_gui.engine.defaults" in g["sparks_gui.engine.config"]  # inside SparksConfig.for_recording
    assert "sparks_gui.engine.config" not in g["sparks_gui.engine.defaults"]  # only under TYPE_CHECKING


@pytest.mark.parametrize("prefix", ["sparks_gui.napari", "sparks_gui.gui._ordering", "sparks_gui.analysis.ordering"])
def test_modules_of_issue_13_are_in_no_cycle_even_through_lazy_imports(prefix):
    """The napari reader and samples imported each other inside functions; lazy imports count here."""
    for lazy in (False, True):
        assert not [c for c in cycles(import_graph(lazy)) if any(m.startswith(prefix) for m in c)], lazy


def test_old_modules_are_gone():
    mods = _modules()
    for old in (
        "sparks_gui._napari_io",
        "sparks_gui._napari_samples",
        "sparks_gui.gui._frames",
        "sparks_gui.data.registry",
    ):
        assert old not in mods
    for moved in ("validate", "validate_mtm", "validate_real", "bench"):
        assert f"sparks_gui.{moved}" not in mods and f"sparks_gui.tools.{moved}" in mods


def test_importing_the_views_leaves_pyqtgraph_options_alone():
    """The SPARKS views set pyqtgraph's (global) options when one is made, not when imported (issue 13)."""
    pytest.importorskip("pyqtgraph")
    pytest.importorskip("qtpy")
    code = (
        "import pyqtgraph as pg; before = dict(pg.CONFIG_OPTIONS); "
        "import sparks_gui.gui.views, sparks_gui.gui.views._common as c; "
        "changed = {k: v for k, v in pg.CONFIG_OPTIONS.items() if before.get(k) != v}; print(changed); "
        "assert not changed; c.use_view_options(); "
        "assert all(pg.getConfigOption(k) == v for k, v in c.VIEW_OPTIONS.items())"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
