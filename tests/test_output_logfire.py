"""Logfire through its pytest capture fixture (``capfire``, no network): CodeCarbon's
counters and gauges with the record's values; no token does not raise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbon_magic import EmissionsTracker
from carbon_magic.core.config import ConfigError
from carbon_magic.core.record import delta
from carbon_magic.outputs import LogfireOutput
from carbon_magic.outputs.logfire import COUNTERS, GAUGES
from tests.outputs_support import MEASURED, Recorder, tracker_on

pytest.importorskip("logfire", reason="logfire is in the test extra: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("exit_hooks_run_at_teardown")  # (tests/outputs_support.py)


def collected(capfire) -> dict[str, float]:
    """Metric name -> its value (counters: the sum; gauges: the last value)."""
    values = {}
    for metric in capfire.get_collected_metrics():
        if metric["name"].startswith("codecarbon_"):
            [point] = metric["data"]["data_points"]
            values[metric["name"]] = point["value"]
    return values


def test_counters_and_gauges_carry_the_record(capfire):
    tracker = EmissionsTracker(save_to_logfire=True, wue=2.0, **MEASURED)
    tracker.start()
    time.sleep(0.05)
    tracker.stop()
    record = tracker.final_emissions_data
    values = collected(capfire)
    assert set(values) == {name for name, *_ in COUNTERS.values()} | {name for name, *_ in GAUGES.values()}
    for field, (name, *_rest) in {**COUNTERS, **GAUGES}.items():
        assert values[name] == pytest.approx(getattr(record, field), rel=1e-12), name
    assert values["codecarbon_water_consumed"] > 0


@pytest.mark.parametrize("count_platform", [True, False])
def test_the_component_gauges_add_up_to_energy_consumed(capfire, count_platform):
    """energy_consumed counts the modelled platform (by default): its own gauges make the
    components add up; with count_platform=False there is none and the sum is CodeCarbon's."""
    tracker = EmissionsTracker(save_to_logfire=True, count_platform=count_platform, **MEASURED)
    tracker.start()
    time.sleep(0.05)
    tracker.stop()
    record = tracker.final_emissions_data
    values = collected(capfire)
    assert (values["codecarbon_platform_energy"] > 0) is count_platform
    parts_kwh = sum(values[f"codecarbon_{kind}_energy"] for kind in ("cpu", "gpu", "ram", "platform"))
    assert parts_kwh == pytest.approx(values["codecarbon_energy_consumed"], rel=1e-9)
    power_w = sum(values[f"codecarbon_{kind}_power"] for kind in ("cpu", "gpu", "ram", "platform"))
    assert power_w * record.duration / 3.6e6 * record.pue == pytest.approx(values["codecarbon_energy_consumed"],
                                                                           rel=1e-9)


def test_counters_add_up_over_flushes_and_gauges_hold_the_last_part(capfire):
    recorder = Recorder()
    tracker = tracker_on(LogfireOutput(), recorder)
    tracker.start()
    time.sleep(0.02)
    tracker.flush()
    time.sleep(0.02)
    tracker.stop()
    final = tracker.final_emissions_data
    last_part = delta(final, recorder.outs[0][0])
    values = collected(capfire)
    assert values["codecarbon_energy_consumed"] == pytest.approx(final.energy_consumed, rel=1e-9)
    assert values["codecarbon_duration"] == pytest.approx(final.duration, rel=1e-9)
    assert values["codecarbon_cpu_energy"] == pytest.approx(last_part.cpu_energy, rel=1e-9)


def test_without_a_token_logfire_is_configured_and_nothing_raises(tmp_path):
    script = (
        "import json, logfire\n"
        "from carbon_magic import EmissionsTracker\n"
        # offline: stop() would otherwise wait for (and log) the geolocation this test cannot reach
        f"tracker = EmissionsTracker(save_to_logfire=True, offline=True, country_iso_code='FRA', **{MEASURED!r})\n"
        "tracker.start(); tracker.stop()\n"
        "config = logfire.DEFAULT_LOGFIRE_INSTANCE.config\n"
        "print(json.dumps([config._initialized, config.send_to_logfire, config.token]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGFIRE_")}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**env, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [True, "if-token-present", None]
    assert "failed" not in done.stderr and "Traceback" not in done.stderr


def test_logfire_not_installed_is_a_config_error(monkeypatch):
    from carbon_magic.outputs import logfire

    monkeypatch.setattr(logfire, "logfire_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'carbon_magic\[logfire\]'"):
        EmissionsTracker(save_to_logfire=True, **MEASURED)
