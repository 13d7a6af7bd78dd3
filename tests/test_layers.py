"""The house: data <- models <- inference, data <- reports; the top package on all four.

Read from the source with ``ast`` (imports inside functions count too), so a shortcut
taken anywhere in a module breaks the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {  # layer folder -> chemoshift subpackages it may import
    "data": {"data"},
    "models": {"data", "models"},
    "inference": {"data", "models", "inference"},
    "reports": {"data", "reports"},
}


def chemoshift_imports(path: Path) -> set[str]:
    """Second component of every ``chemoshift.X`` a module imports ('' for bare chemoshift)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "chemoshift":
                found.add(parts[1] if len(parts) > 1 else "")
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_lies_below_it(layer):
    for path in sorted((ROOT / layer).rglob("*.py")):
        imported = chemoshift_imports(path)
        assert imported <= ALLOWED[layer], f"{path.relative_to(ROOT)} imports {imported}"


def four_parameter_forms(path: Path) -> list[str]:
    """Code (not docstrings) that writes the logistic curve itself: ``1 + 10 ** (...)``, or
    a sigmoid / expit of an expression holding a Hill slope."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            sides = (node.left, node.right)
            if any(isinstance(s, ast.BinOp) and isinstance(s.op, ast.Pow)
                   and isinstance(s.left, ast.Constant) and s.left.value == 10 for s in sides):
                found.append(ast.unparse(node))
        if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in (
                "sigmoid", "expit"):
            if "hill" in ast.unparse(node):
                found.append(ast.unparse(node))
    return found


def test_four_parameter_curve_is_written_once():
    for layer in ("data", "models", "reports"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            if path.name != "curve.py":
                assert not four_parameter_forms(path), f"{path}: {four_parameter_forms(path)}"
    assert four_parameter_forms(ROOT / "data" / "curve.py")  # the one place it is written


PACKAGE = ROOT / "chemoshift"


def top_modules() -> dict[str, Path]:
    """Every module of the top package (``chemoshift/``, subpackages included) by its name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def module_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The top-package modules ``path`` imports, anywhere in it (late imports count):
    ``from chemoshift.x import y`` is ``chemoshift.x.y`` when that is a module, else
    ``chemoshift.x``; ``from chemoshift import __version__`` is the package itself."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                     else node.module for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = top_modules()
    return {name: module_imports(path, modules) - {name} for name, path in modules.items()}


def test_no_module_of_the_top_package_imports_another_in_a_circle():
    """Imports point one way (late imports count: a circle held together by an import
    inside a function is still a circle a reader has to untie)."""
    import networkx as nx

    graph = nx.DiGraph([(a, b) for a, targets in import_graph().items() for b in targets])
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not circles, f"modules importing each other in a circle: {circles}"


def test_the_command_line_is_imported_by_nothing():
    importers = sorted(a for a, targets in import_graph().items() if "chemoshift.cli" in targets)
    assert not importers, f"chemoshift.cli is the top: imported by {importers}"
