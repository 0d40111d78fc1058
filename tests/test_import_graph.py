"""The package's real import graph, read from its source: no import cycle.

``import_graph`` gives, for every module of ``carbon_magic``, the package's modules it imports:
every import statement in the file, at module level, inside functions (the lazy imports) and
under ``if TYPE_CHECKING:`` (a type-only import still ties two modules together). ``from
package import name`` is an edge to ``package.name`` when that is a module, else to
``package`` (its ``__init__``). Imports by computed name (``importlib.import_module``) are not
seen.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import carbon_magic

PACKAGE_ROOT = Path(carbon_magic.__file__).parent


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> its file, for the package at ``root`` (packages by ``__init__.py``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(module: str, path: Path) -> list[tuple[str, ...]]:
    """The import statements of ``module`` (file ``path``), one tuple per imported name, made
    absolute: ``import a.b`` gives ``("a.b",)``, ``from a import b`` gives ``("a.b", "a")``
    (``a.b`` if that is a module, else ``a``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[tuple[str, ...]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend((alias.name,) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            names.extend((f"{source}.{alias.name}", source) for alias in node.names)
    return names


def import_graph(root: Path = PACKAGE_ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (see the module docstring)."""
    modules = module_files(root)
    graph = {}
    for module, path in modules.items():
        found = (next((name for name in names if name in modules), None) for names in imported_names(module, path))
        graph[module] = {name for name in found if name is not None} - {module}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules, the first repeated at the end), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "carbon_magic.ipython.sidebar.channel" in graph["carbon_magic.ipython.extension"]  # a lazy import
    assert import_cycle(graph) is None


def test_type_only_and_lazy_imports_make_edges_and_cycles(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "top.py").write_text("def load():\n    from .sub import low\n")
    (package / "sub" / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..top import load\nfrom .. import sub\n")
    graph = import_graph(package)
    assert graph["pkg.top"] == {"pkg.sub.low"}
    assert graph["pkg.sub.low"] == {"pkg.top", "pkg.sub"}
    assert import_cycle(graph) in (["pkg.top", "pkg.sub.low", "pkg.top"], ["pkg.sub.low", "pkg.top", "pkg.sub.low"])
