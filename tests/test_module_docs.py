"""The map a newcomer reads first stays true: the ipython package's docstring, and each of its
subpackages' (``panel/``), names each of its modules."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import carbon_magic.ipython as ipython_package


def _unnamed(package_name: str) -> tuple[list[str], list[str]]:
    package = importlib.import_module(package_name)
    doc = package.__doc__ or ""
    modules = [m.name for m in pkgutil.iter_modules(package.__path__)]
    named = [m for m in modules if f"``{m}``" in doc or f"``{m}/``" in doc]
    return modules, sorted(set(modules) - set(named))


def test_the_ipython_package_docstring_names_each_of_its_modules():
    modules, unnamed = _unnamed(ipython_package.__name__)
    assert len(modules) > 15 and "panel" in modules
    assert unnamed == []


@pytest.mark.parametrize("subpackage", ["panel"])
def test_each_views_subpackage_docstring_names_each_of_its_modules(subpackage):
    modules, unnamed = _unnamed(f"{ipython_package.__name__}.{subpackage}")
    assert len(modules) >= 10
    assert unnamed == []
