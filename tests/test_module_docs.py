"""The map a newcomer reads first stays true: a package's docstring names each of its modules."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import carbon_magic
import carbon_magic.core.location as location_package
import carbon_magic.ipython as ipython_package
import carbon_magic.ipython.panel as panel_package


@pytest.mark.parametrize(("package", "at_least"), [(ipython_package, 15), (location_package, 5), (panel_package, 10)],
                         ids=["ipython", "core.location", "ipython.panel"])
def test_the_package_docstring_names_each_of_its_modules(package, at_least):
    doc = package.__doc__ or ""
    modules = [m.name for m in pkgutil.iter_modules(package.__path__)]
    assert len(modules) > at_least
    assert sorted(m for m in modules if f"``{m}``" not in doc and f"``{m}/``" not in doc) == []


ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
PACKAGE = Path(carbon_magic.__file__).resolve().parent
# a path as the page writes it: `core/lanes.py`, `ipython/sidebar/`, `tests/conftest.py` (with an
# optional ": name" after it)
PATH_IN_BACKTICKS = re.compile(r"`((?:carbon_magic/|core/|ipython/|outputs/|telemetry/|tests/|scripts/|docs/)"
                               r"[\w/.]*?)(?::[^`]*)?`")


def architecture_paths(text: str) -> list[str]:
    return PATH_IN_BACKTICKS.findall(text)


def missing_paths(text: str) -> list[str]:
    """The paths the page names that exist neither in the repository nor in the package."""
    repository = PACKAGE.parent
    return sorted({path for path in architecture_paths(text)
                   if not (repository / path).exists() and not (PACKAGE / path).exists()})


def test_the_architecture_page_names_only_paths_that_exist():
    """docs/architecture.md follows the code: a module moved or renamed without the page fails here."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert len(architecture_paths(text)) > 40
    assert missing_paths(text) == []
    assert missing_paths("`core/gone.py` and `ipython/gone/`") == ["core/gone.py", "ipython/gone/"]


def test_the_architecture_page_names_every_package_and_top_level_module():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    parts = [m.name + ("/" if m.ispkg else ".py") for m in pkgutil.iter_modules([str(PACKAGE)])
             if not m.name.startswith("_")]
    assert len(parts) >= 6
    assert sorted(part for part in parts if part not in text) == []
