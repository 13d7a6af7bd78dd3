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

