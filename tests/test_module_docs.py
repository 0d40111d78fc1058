"""The map a newcomer reads first stays true: the ipython package's docstring names each module."""

from __future__ import annotations

import pkgutil

import carbon_magic.ipython as ipython_package


def test_the_ipython_package_docstring_names_each_of_its_modules():
    doc = ipython_package.__doc__ or ""
    modules = [m.name for m in pkgutil.iter_modules(ipython_package.__path__)]
    named = [m for m in modules if f"``{m}``" in doc or f"``{m}/``" in doc]
    assert len(modules) > 20
    assert sorted(set(modules) - set(named)) == []
