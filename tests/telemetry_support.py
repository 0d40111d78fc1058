"""Helpers for the telemetry tests: a fresh per-kernel state, a measured cell, guards."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from typing import Any

import pytest

from carbon_magic.core import tracker as tracker_module
from carbon_magic.core.config import resolve_config
from carbon_magic.core.tracker import Tracker
from carbon_magic.runtime import current_runtime, reset_runtime
from carbon_magic.telemetry import gather

# Measured without hardware or network: modelled CPU and RAM, offline in France, no CSV.
OFFLINE_MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0,
                    "offline": True, "country_iso_code": "FRA", "save_to_file": False}
TELEMETRY_THREAD = "carbon_magic-outputs-telemetry"


@pytest.fixture
def fresh_telemetry(monkeypatch):
    """A new kernel as telemetry sees it: nothing chosen, asked or sent; no CI variables."""
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CIRCLECI", "TF_BUILD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(gather, "_static", None)
    monkeypatch.setattr(tracker_module, "starts_by_usage", Counter())
    yield reset_runtime().telemetry


def measured_config(**extra: Any):
    return resolve_config({**OFFLINE_MEASURED, **extra})


def tracked_cell(config, seconds: float = 0.05, usage: str = "magic"):
    """Run a tracked window like the extension does for a cell; its final record."""
    runtime = current_runtime()
    tracker = Tracker(config, samplers=runtime.samplers, location=runtime.location, usage=usage, forks=runtime.forks)
    tracker.start()
    sum(i * i for i in range(20000))
    threading.Event().wait(seconds)
    tracker.stop()
    return tracker.final_emissions_data


def telemetry_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == TELEMETRY_THREAD]


class SocketGuard:
    """Every attempt to create a socket or resolve a name is recorded and refused."""

    def __init__(self, monkeypatch):
        self.attempts: list[str] = []
        guard = self

        class GuardedSocket(socket.socket):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                guard.attempts.append(f"socket{args}")
                raise OSError("socket creation refused by the test's guard")

        def refuse(name: str):
            def refused(*args: Any, **kwargs: Any):
                guard.attempts.append(f"{name}{args[:2]}")
                raise OSError(f"{name} refused by the test's guard")
            return refused

        monkeypatch.setattr(socket, "socket", GuardedSocket)
        monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
