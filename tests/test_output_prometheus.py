"""Prometheus against a real push gateway (Debian's prometheus-pushgateway, installed by
``make test``, started on a free loopback port by tests/pushgateway_support.py): the series a
tracked run leaves on the gateway, equal to the record, with every CodeCarbon label filled, in
a group of its own per process; gone after exit."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from carbon_magic import OfflineEmissionsTracker
from carbon_magic.core.problems import problems
from carbon_magic.core.record import delta
from carbon_magic.outputs import PrometheusOutput
from carbon_magic.outputs.prometheus import COUNTERS, GAUGES, LABELS, job_name
from carbon_magic.runtime import current_runtime
from tests.outputs_support import MEASURED, Recorder, problem_count, tracker_on
from tests.polling import eventually
from tests.pushgateway_support import samples, series
from tests.servers import closed_port, status

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("exit_hooks_run_at_teardown")  # (tests/outputs_support.py)


EXPECTED_NAMES = {name for name, _ in (*GAUGES.values(), *COUNTERS.values())} | {"codecarbon_runs_total"}


def test_a_tracked_run_leaves_codecarbon_series_equal_to_the_record(gateway):
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", project_name="my project", experiment_name="exp-1",
                                      save_to_prometheus=True, prometheus_url=gateway, wue=1.7, **MEASURED)
    tracker.start()
    time.sleep(0.05)  # a window that lasts: non-zero figures to compare
    tracker.stop()
    record = tracker.final_emissions_data
    job = "my_project_exp_1"
    found = series(gateway, job)
    assert set(found) >= EXPECTED_NAMES
    for field, (name, _help) in GAUGES.items():
        assert found[name][1] == pytest.approx(getattr(record, field), rel=1e-12, abs=1e-300), name
    assert found["codecarbon_water_consumed"][1] > 0  # CodeCarbon has no water metric; we do
    for field, (name, _help) in COUNTERS.items():
        assert found[name][1] == pytest.approx(getattr(record, field), rel=1e-12), name
    assert found["codecarbon_runs_total"][1] == 1
    labels = found["codecarbon_duration"][0]
    assert set(labels) == set(LABELS)
    assert labels == {name: "" if getattr(record, name) is None else str(getattr(record, name)) for name in LABELS}
    assert labels["country_name"] == "France" and labels["project_name"] == "my project"
    assert labels["cpu_model"] and labels["os"] and labels["tracking_mode"] == "machine"
    assert current_runtime().lanes.flush_at_exit(5)  # the exit hook, in this process
    assert series(gateway, job) == {}


@pytest.mark.parametrize("count_platform", [True, False])
def test_the_components_on_the_gateway_add_up_to_energy_consumed(gateway, count_platform):
    """energy_consumed counts the modelled platform (by default): its own gauges make the
    components add up; with count_platform=False there is none and the sum is CodeCarbon's."""
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", project_name="sums", save_to_prometheus=True,
                                      prometheus_url=gateway, count_platform=count_platform, **MEASURED)
    tracker.start()
    time.sleep(0.05)
    tracker.stop()
    record = tracker.final_emissions_data
    found = {name: value for name, (_labels, value) in series(gateway, "sums").items()}
    assert (found["codecarbon_platform_energy"] > 0) is count_platform
    assert found["codecarbon_platform_energy"] == pytest.approx(record.platform_energy, rel=1e-12, abs=1e-300)
    parts_kwh = sum(found[f"codecarbon_{kind}_energy"] for kind in ("cpu", "gpu", "ram", "platform"))
    assert parts_kwh == pytest.approx(found["codecarbon_energy_consumed"], rel=1e-9)
    power_w = sum(found[f"codecarbon_{kind}_power"] for kind in ("cpu", "gpu", "ram", "platform"))
    assert power_w * record.duration / 3.6e6 * record.pue == pytest.approx(found["codecarbon_energy_consumed"],
                                                                           rel=1e-9)


def test_gauges_hold_the_part_since_the_last_push_and_the_counter_adds_up(gateway):
    recorder = Recorder()
    tracker = tracker_on(PrometheusOutput(gateway, job="j"), recorder)
    tracker.start()
    time.sleep(0.05)  # time must pass: the flushed part and the part after it are both non-zero
    tracker.flush()
    assert tracker._sink.wait(5)
    time.sleep(0.05)
    tracker.stop()
    flushed, final = recorder.outs[0][0], tracker.final_emissions_data
    found = series(gateway, "j")
    since_flush = delta(final, flushed)
    assert found["codecarbon_duration"][1] == pytest.approx(since_flush.duration, rel=1e-9)
    assert found["codecarbon_cpu_energy"][1] == pytest.approx(since_flush.cpu_energy, rel=1e-9)
    assert found["codecarbon_energy_total"][1] == pytest.approx(final.energy_consumed, rel=1e-9)


def test_live_ticks_push_without_counting_energy_twice(gateway):
    tracker = tracker_on(PrometheusOutput(gateway, job="live"), measure_power_secs=0.05)
    tracker.start()
    assert eventually(lambda: "codecarbon_energy_total" in series(gateway, "live"), timeout_s=5)
    first_kwh = series(gateway, "live")["codecarbon_energy_total"][1]
    assert eventually(lambda: series(gateway, "live")["codecarbon_energy_total"][1] > first_kwh)  # a later tick
    tracker.stop()
    assert eventually(lambda: series(gateway, "live")["codecarbon_energy_total"][1]
                      == pytest.approx(tracker.final_emissions_data.energy_consumed, rel=1e-9), timeout_s=5)


def test_job_is_deleted_from_the_gateway_at_interpreter_exit(gateway, tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        from carbon_magic import OfflineEmissionsTracker
        tracker = OfflineEmissionsTracker(country_iso_code="FRA", project_name="exit", experiment_id="e 1",
                                          save_to_prometheus=True, prometheus_url={gateway!r},
                                          **{MEASURED!r})
        tracker.start()
        tracker.stop()
        print(json.dumps(tracker.final_emissions_data.as_dict()), flush=True)
        sys.stdin.readline()  # the test looks at the gateway, then lets us exit
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    record = json.loads(child.stdout.readline())
    job = job_name("exit", "e 1")
    assert job == "exit_e_1"
    assert series(gateway, job)["codecarbon_emissions"][1] == pytest.approx(record["emissions"], rel=1e-12)
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.wait(30) == 0, child.stderr.read()
    assert series(gateway, job) == {}


def test_basic_auth_comes_from_the_environment_and_the_password_stays_secret(server, monkeypatch, caplog):
    monkeypatch.setenv("PROMETHEUS_USERNAME", "pusher")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "gateway-pass-42")
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    monkeypatch.setenv("JPY_SESSION_NAME", "n.ipynb")
    kernel = quote_plus(f"{socket.gethostname()}:{os.getpid()}")
    path = f"/metrics/job/auth/kernel/{kernel}/notebook/n.ipynb/user/ada"  # the group, its labels sorted
    server.then(path, status(500, "bad gateway-pass-42"))
    tracker = tracker_on(PrometheusOutput(server.address, job="auth", retry_delays_s=(0.05,)))
    tracker.start()
    tracker.stop(wait=False)
    assert server.wait_for(lambda requests: len(requests) == 2), [(r.method, r.path) for r in server.requests]
    [first, retry] = server.requests
    assert (first.method, first.path) == ("PUT", path)
    assert first.headers["authorization"] == "Basic " + base64.b64encode(b"pusher:gateway-pass-42").decode()
    assert b"codecarbon_energy_total" in retry.body
    assert problem_count("output prometheus", "DeliveryError") == 1
    assert "gateway-pass-42" not in caplog.text
    assert all("gateway-pass-42" not in p.message for p in problems.all())


def test_a_gateway_that_is_down_is_counted_never_raised():
    output = PrometheusOutput(f"127.0.0.1:{closed_port()}", job="down", retry_delays_s=())
    tracker = tracker_on(output)
    tracker.start()
    assert tracker.stop() > 0
    assert problem_count("output prometheus", "DeliveryError") == 1


def test_each_process_pushes_its_own_group_so_kernels_of_one_project_keep_their_series(gateway, monkeypatch,
                                                                                          tmp_path):
    """Two processes of one project (a JupyterHub's kernels, both under the default project):
    a push replaces its group on the gateway, so each keeps its own (kernel, user, notebook)."""
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.setenv("JPY_SESSION_NAME", "work/train.ipynb")
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", save_to_prometheus=True, prometheus_url=gateway,
                                      **MEASURED)
    tracker.start()
    tracker.stop()
    script = textwrap.dedent(f"""
        from carbon_magic import OfflineEmissionsTracker
        tracker = OfflineEmissionsTracker(country_iso_code="FRA", save_to_prometheus=True,
                                          prometheus_url={gateway!r}, **{MEASURED!r})
        tracker.start()
        tracker.stop()
        input()  # the test reads the gateway, then lets us exit (which deletes our group)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdin=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO), "JUPYTERHUB_USER": "bob",
                                  "JPY_SESSION_NAME": "eval.ipynb"})
    try:
        def groups() -> dict[tuple[str, str], str]:
            return {(s.labels["user"], s.labels["notebook"]): s.labels["kernel"]
                    for s in samples(gateway) if s.name == "codecarbon_runs_total" and s.labels["job"] == "codecarbon"}

        assert eventually(lambda: len(groups()) == 2, timeout_s=30), groups()
        kernels = groups()
        assert set(kernels) == {("alice", "work/train.ipynb"), ("bob", "eval.ipynb")}
        assert kernels["alice", "work/train.ipynb"] == f"{socket.gethostname()}:{os.getpid()}"
        assert kernels["bob", "eval.ipynb"] == f"{socket.gethostname()}:{child.pid}"
    finally:
        child.communicate("\n", timeout=30)
    assert child.returncode == 0
