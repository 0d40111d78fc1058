"""What the code reads from a configuration, found in its source (not in the parameter table):
the names read as ``config.NAME``, ``config["NAME"]`` or ``config.source("NAME")`` on any
object called ``config``, ``_config``, ``settings`` or ``_settings``; and the modules a module
imports within ``carbon_magic.core``. The tests that check the table compare against these."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "carbon_magic"
CONFIG_OBJECTS = {"config", "_config", "settings", "_settings"}
# Methods of Config and CarbonMagic, not parameters.
CONFIG_METHODS = {"source", "settings", "values_and_sources", "with_values", "shown", "get", "keys", "items",
                  "values", "layers", "rejected", "generation", "update_config", "observe"}
# Where CodeCarbon 3.3's own parameter reference (its documentation page, MIT licence) is kept.
CODECARBON_REFERENCE = Path(__file__).resolve().parent / "reference" / "codecarbon_parameters.txt"


def _is_config(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in CONFIG_OBJECTS) or (
        isinstance(node, ast.Attribute) and node.attr in CONFIG_OBJECTS)


def _read_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and _is_config(node.value):
        return None if node.attr.startswith("_") or node.attr in CONFIG_METHODS else node.attr
    if isinstance(node, ast.Subscript) and _is_config(node.value) and isinstance(node.slice, ast.Constant):
        return node.slice.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_config(node.func.value)
            and node.func.attr in ("source", "shown") and node.args and isinstance(node.args[0], ast.Constant)):
        return node.args[0].value
    return None


def names_read(paths: list[Path]) -> set[str]:
    """The configuration names the source files ``paths`` read."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            name = _read_name(node)
            if isinstance(name, str):
                names.add(name)
    return names


def every_source_file() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def core_import_closure(module: str) -> list[Path]:
    """The files of ``module`` and of every ``carbon_magic.core`` module it imports, directly or
    not (the table's own modules, config and params, excluded): whatever the layout."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name in ("carbon_magic.core.config", "carbon_magic.core.params") \
                or not name.startswith("carbon_magic.core."):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # a name imported from a module, not a module
            continue
        if spec is None or spec.origin is None:
            continue
        path = seen[name] = Path(spec.origin)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                todo += ([base] if node.module else []) + [f"{base}.{alias.name}" for alias in node.names]
    return sorted(seen.values())


def codecarbon_parameter_names() -> set[str]:
    """The parameters CodeCarbon 3.3's reference lists ('name Optional[type]' lines of its tables)."""
    text = CODECARBON_REFERENCE.read_text()
    names = set(re.findall(r"^(\w+) (?:Optional\[.+\]|int|str|float|bool|Callable)$", text, re.M))
    return names - {"fn"}  # the decorated function of @track_emissions


def env_variables_named(paths: list[Path]) -> set[str]:
    """Every CODECARBON_* variable named in a string of the source files ``paths``."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= set(re.findall(r"\bCODECARBON_[A-Z0-9_]*[A-Z0-9]\b", node.value))
    return found
