"""The core and output suites on simulated Windows and macOS (tests/platforms/shim): real test
code in a process where Linux-only modules and attributes are gone, /proc and /sys cannot be
read, and the registry and sysctl answer as there. Both platforms run at once."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both simulated runs, started together; each platform's (exit status, output)."""
    started = {}
    for name in PLATFORMS:
        folder = tmp_path_factory.mktemp(name)
        environment = {key: value for key, value in os.environ.items() if not key.startswith("CODECARBON_")}
        environment.update({
            "SIMULATED_PLATFORM": name,
            "PYTHONPATH": os.pathsep.join([str(SHIM), str(ROOT)]),
            "RELIABILITY_SUMMARY_PATH": str(folder / "reliability.json"),
        })
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *SUITES, *PLATFORM_SUITES[name],
                   "--basetemp", str(folder / "tmp")]
        started[name] = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
    return {name: (process.wait(RUN_TIMEOUT_S), process.communicate()[0]) for name, process in started.items()}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_core_and_output_suites_pass_on_simulated(platform, runs):
    status, output = runs[platform]
    assert status == 0, output[-6000:]
    assert " passed" in output and " failed" not in output
