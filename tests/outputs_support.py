"""Helpers for the output tests: a tracker on chosen outputs, a recording output, the server."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from carbon_magic.core.config import resolve_config
from carbon_magic.core.problems import problems
from carbon_magic.core.tracker import Tracker
from carbon_magic.outputs import BaseOutput, Dispatcher
from carbon_magic.runtime import current_runtime
from tests.servers import LocalServer, codecarbon_api

# Measured without hardware: modelled CPU and RAM, a fixed intensity, no CSV unless asked.
MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0,
            "force_carbon_intensity_g_co2e_kwh": 500.0, "save_to_file": False}


class Recorder(BaseOutput):
    """Keeps every call it gets (to know the totals the other outputs were given)."""

    def __init__(self) -> None:
        self.outs: list[tuple[Any, Any]] = []
        self.lives: list[tuple[Any, Any]] = []
        self.tasks: list[tuple[list, str]] = []

    def out(self, total, delta):
        self.outs.append((total, delta))

    def live_out(self, total, delta):
        self.lives.append((total, delta))

    def task_out(self, data, experiment_name):
        self.tasks.append((data, experiment_name))


def tracker_on(*outputs: Any, **params: Any) -> Tracker:
    """A core Tracker writing to exactly ``outputs`` (built by the test, with test timings)."""
    runtime = current_runtime()
    return Tracker(resolve_config({**MEASURED, **params}), Dispatcher(list(outputs), runtime.outputs),
                   samplers=runtime.samplers, location=runtime.location, forks=runtime.forks)


def problem_count(where: str, error_type: str) -> int:
    return sum(p.count for p in problems.all() if p.where == where and p.error_type == error_type)


def eventually(predicate, timeout_s: float = 10.0, step_s: float = 0.01) -> bool:
    """True as soon as ``predicate()`` is, False if it is still not after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())


@pytest.fixture(autouse=True)
def exit_hooks_run_at_teardown():
    """Each test's exit hooks (retries' last try, job deletions) run at its end, not at the
    end of the whole session against servers long gone. Import it into output test modules."""
    yield
    lanes = current_runtime().lanes
    lanes.flush_at_exit(5)
    for lane in lanes.all():
        lane.cancel_scheduled()


@pytest.fixture
def server():
    recording = LocalServer(default=codecarbon_api())
    yield recording
    recording.close()


class Gate:
    """An output call that blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def block(self, *args: Any) -> None:
        self.entered.set()
        self.opened.wait(30)
