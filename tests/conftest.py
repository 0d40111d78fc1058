"""Shared fixtures: every test gets a fresh runtime (lanes, telemetry, samplers, location
service), an empty config home and a clean env."""

from __future__ import annotations

import os

import pytest

from carbon_magic.core.meters.gpu import VISIBLE_DEVICES
from carbon_magic.core.problems import problems
from carbon_magic.core.sampler import SamplerRegistry
from carbon_magic.runtime import current_runtime, reset_runtime
from tests.servers import closed_port

# The shared fixture modules, registered here so that no test file imports a fixture:
# reliability cases (tests/reliability/ and @pytest.mark.reliability anywhere) -> RELIABILITY.md;
# the output tests' ``server``, ``exit_hooks_run_at_teardown`` and ``gateway``; telemetry's ``fresh_telemetry``
# and ``shell``; real kernels (``kernel``, ``offline``, ``sidebar``); the panel tests' ``ip``.
pytest_plugins = ["tests.reliability.plugin", "tests.outputs_support", "tests.telemetry_support",
                  "tests.kernel_support", "tests.sidebar_support", "tests.panel_support",
                  "tests.cluster_support", "tests.pushgateway_support", "tests.apple_support",
                  "tests.simulated_platforms_support"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real ~/.codecarbon.config, no CODECARBON_* or *_VISIBLE_DEVICES from the machine, cwd
    in a temp folder."""
    machine_only = {"DO_NOT_TRACK", *(name for stages in VISIBLE_DEVICES.values() for names in stages for name in names)}
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.upper().startswith("CODECARBON_") or name in machine_only:
            monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    problems.clear()
    yield work
    reset_runtime()


@pytest.fixture
def samplers() -> SamplerRegistry:
    """The current runtime's samplers (a fresh registry in every test)."""
    return current_runtime().samplers


@pytest.fixture(scope="session")
def closed_loopback_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens: a request there is refused at once."""
    return f"http://127.0.0.1:{closed_port()}"


@pytest.fixture(autouse=True)
def no_internet(isolated, monkeypatch, closed_loopback_url):
    """No test reaches the internet: every online endpoint parameter (telemetry's too) points at
    a closed loopback port (by CODECARBON_* variable, so explicit arguments still win);
    TZ=UTC so no test depends on this machine's time zone."""
    monkeypatch.setenv("CODECARBON_GEOLOCATION_ENDPOINT", f"{closed_loopback_url}/geolocation")
    monkeypatch.setenv("CODECARBON_CLOUD_METADATA_URL", closed_loopback_url)
    monkeypatch.setenv("CODECARBON_ELECTRICITYMAPS_ENDPOINT", f"{closed_loopback_url}/electricitymaps")
    monkeypatch.setenv("CODECARBON_TELEMETRY_ENDPOINT", f"{closed_loopback_url}/telemetry")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)  # the telemetry choice file: under HOME
    monkeypatch.setenv("TZ", "UTC")
