"""The map a newcomer reads first stays true: a package's docstring names each of its modules."""

from __future__ import annotations

import pkgutil

import pytest

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
