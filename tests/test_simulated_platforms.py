"""The core and output suites on simulated Windows and macOS (tests/platforms/shim): real test
code in a process where Linux-only modules and attributes are gone, /proc and /sys cannot be
read, and the registry and sysctl answer as there. Both platforms run at once, beside the rest
of the suite (tests/simulated_platforms_support.py starts them at the end of collection)."""

from __future__ import annotations

import pytest

from tests.simulated_platforms_support import PLATFORMS


@pytest.mark.parametrize("platform", PLATFORMS)
def test_core_and_output_suites_pass_on_simulated(platform, simulated_runs):
    status, output = simulated_runs.result(platform)
    assert status == 0, output[-6000:]
    assert " passed" in output and " failed" not in output
