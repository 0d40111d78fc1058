"""The simulated Windows and macOS runs of tests/test_simulated_platforms.py, started as soon as
collection shows they will be needed: they run beside the rest of the suite (at a lower CPU
priority, so that they take what the other tests leave idle) instead of after it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIM = ROOT / "tests" / "platforms" / "shim"
PLATFORMS = ("windows", "macos")
# what runs on each simulated platform: the CSV and output reliability suites, the CPU checks
SUITES = ("tests/test_csv.py", "tests/reliability/test_outputs.py", "tests/test_cpu_catalog.py",
          "tests/platforms/simulated_checks.py")
# what runs on one simulated platform only: Apple silicon's energy on macOS
PLATFORM_SUITES = {"windows": (), "macos": ("tests/platforms/simulated_apple_checks.py",)}
RUN_TIMEOUT_S = 900
NICENESS = 10
USERS = "test_simulated_platforms.py"


class SimulatedRuns:
    """Both simulated runs, started together in their own temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="carbon_magic-simulated-"))
        self.started = {name: self._start(name) for name in PLATFORMS}
        self._results: dict[str, tuple[int, str]] = {}

    def _start(self, name: str) -> subprocess.Popen[str]:
        folder = self.folder / name
        folder.mkdir()
        environment = {key: value for key, value in os.environ.items() if not key.startswith("CODECARBON_")}
        environment.update({
            "SIMULATED_PLATFORM": name,
            "PYTHONPATH": os.pathsep.join([str(SHIM), str(ROOT)]),
            "RELIABILITY_SUMMARY_PATH": str(folder / "reliability.json"),
        })
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *SUITES,
                   *PLATFORM_SUITES[name], "--basetemp", str(folder / "tmp")]
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=lambda: os.nice(NICENESS))

    def result(self, name: str) -> tuple[int, str]:
        """``name``'s (exit status, output), waiting for it to end."""
        if name not in self._results:
            process = self.started[name]
            self._results[name] = (process.wait(RUN_TIMEOUT_S), process.communicate()[0])
        return self._results[name]

    def close(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
        shutil.rmtree(self.folder, ignore_errors=True)


RUNS_KEY = pytest.StashKey[SimulatedRuns]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(item.path.name == USERS for item in session.items):
        session.config.stash[RUNS_KEY] = SimulatedRuns()


def pytest_unconfigure(config: pytest.Config) -> None:
    runs = config.stash.get(RUNS_KEY, None)
    if runs is not None:
        runs.close()


@pytest.fixture(scope="session")
def simulated_runs(pytestconfig: pytest.Config) -> SimulatedRuns:
    """The simulated runs (started at the end of collection)."""
    return pytestconfig.stash[RUNS_KEY]
