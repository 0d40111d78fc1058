"""Shared fixtures: every test gets fresh samplers, an empty config home and a clean env."""

from __future__ import annotations

import os

import pytest

from carbon_magic.core import sampler as sampler_module
from carbon_magic.core.problems import problems


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real ~/.codecarbon.config, no CODECARBON_* from the machine, cwd in a temp folder."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.upper().startswith("CODECARBON_") or name in ("CUDA_VISIBLE_DEVICES", "DO_NOT_TRACK"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    problems.clear()
    yield work
    sampler_module.shutdown_all()
