"""The package's layers point down: no module imports a module listed after it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import peps_suite

PACKAGE = Path(peps_suite.__file__).parent


def imported_layers(path: Path) -> set[str]:
    """The package modules a module imports (``from .x import``, ``from peps_suite.x import``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and module:
                found.add(module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif module.startswith("peps_suite."):
                found.add(module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("peps_suite."))
    return found


def test_every_module_is_a_listed_layer() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(peps_suite.LAYERS)


@pytest.mark.parametrize("layer", peps_suite.LAYERS)
def test_imports_point_down(layer: str) -> None:
    rank = {name: index for index, name in enumerate(peps_suite.LAYERS)}
    above = {name for name in imported_layers(PACKAGE / f"{layer}.py") if rank[name] >= rank[layer]}
    assert not above, f"{layer} imports {sorted(above)}, listed after it in peps_suite.LAYERS"


def test_the_package_never_imports_the_command_line_layer() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "peps_common" not in names and "argparse" not in names, path.name
