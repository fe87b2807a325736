"""No import cycle among the package's modules at run time: the graph of the imports a module
runs when it is loaded (its top level, ``TYPE_CHECKING`` blocks and imports inside functions left
out) sorts topologically."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import shoptrack

PACKAGE = Path(shoptrack.__file__).parent


def _module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if ".migrations." not in name:  # Alembic loads revisions by path, one at a time
            names[name] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _loaded_imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that loading ``name`` imports. Its own parent packages are left
    out: they are being loaded already when it is, so reaching them is no cycle."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, *(h.body for h in node.handlers), node.orelse):
                    visit(block)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text()).body)
    # Importing a module first loads every package above it (``a.b.c`` runs ``a.b``'s
    # ``__init__``), unless that package is one of the importer's own.
    found |= {parent for module in found for parent in _parents(module)}
    return {module for module in found if module in modules} - _parents(name) - {name}


def _parents(name: str) -> set[str]:
    return {".".join(name.split(".")[:end]) for end in range(1, name.count(".") + 1)}


def import_cycle(root: Path) -> list[str] | None:
    """A cycle of runtime imports among the modules under ``root`` (a package), or None."""
    modules = _module_names(root)
    graph = {name: _loaded_imports(name, path, modules) for name, path in modules.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        cycle: list[str] = error.args[1]
        return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    assert import_cycle(PACKAGE) is None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("a_imports", "cycle"),
    [
        ("from pkg.sub import b\n", True),
        ("from pkg.sub.b import VALUE\n", True),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import b\n", False),
        ("def later() -> None:\n    from pkg.sub import b\n", False),
        ("from pkg.other.c import VALUE\n", True),  # pkg.other's __init__ imports pkg.sub.a
    ],
)
def test_a_cycle_is_found_and_deferred_imports_are_none(
    tmp_path: Path, a_imports: str, cycle: bool
) -> None:
    root = tmp_path / "pkg"
    _write(root / "__init__.py", "from pkg.sub import a\n")  # a package importing its parts
    _write(root / "sub" / "__init__.py", "")
    _write(root / "sub" / "a.py", a_imports)
    _write(root / "sub" / "b.py", "from pkg.sub import a\nVALUE = 1\n")
    _write(root / "other" / "__init__.py", "from pkg.sub.a import *\n")
    _write(root / "other" / "c.py", "VALUE = 1\n")
    assert (import_cycle(root) is not None) is cycle
