"""The CodeCarbon API output against a real HTTP server on 127.0.0.1: payloads, headers,
order, timing by api_call_interval, and failures (refused, 500, 10 s delays, garbage)."""

from __future__ import annotations

import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_magic import EmissionsTracker
from carbon_magic.core.config import ConfigError
from carbon_magic.core.problems import problems
from carbon_magic.core.record import delta
from carbon_magic.outputs import CodeCarbonAPIOutput, FileOutput
from carbon_magic.outputs import api as api_module
from carbon_magic.outputs.api import PendingDeltas
from tests.outputs_support import MEASURED, Recorder, problem_count, tracker_on
from tests.polling import eventually
from tests.servers import GARBAGE, HANG_UP, LocalServer, closed_port, codecarbon_api, delay, status

KEY = "cc-api-key-0123456789"
RUN_FIELDS = {
    "timestamp", "experiment_id", "os", "python_version", "codecarbon_version", "cpu_count", "cpu_model",
    "gpu_count", "gpu_model", "longitude", "latitude", "region", "provider", "ram_total_size", "tracking_mode",
}
EMISSION_FIELDS = {
    "timestamp", "run_id", "duration", "emissions_sum", "emissions_rate", "cpu_power", "gpu_power", "ram_power",
    "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "cpu_utilization_percent",
    "gpu_utilization_percent", "ram_utilization_percent", "wue",
}

pytestmark = pytest.mark.usefixtures("exit_hooks_run_at_teardown")  # (tests/outputs_support.py)


def api(server_url: str, **options) -> CodeCarbonAPIOutput:
    options.setdefault("api_call_interval", -1)
    return CodeCarbonAPIOutput(server_url, "exp-1", KEY, **options)


def test_run_is_created_then_each_flush_and_stop_posts_its_delta(server):
    recorder = Recorder()
    tracker = tracker_on(api(server.url), recorder, project_name="p")
    tracker.start()
    time.sleep(0.05)  # time must pass: the flush's delta and the stop's are both non-zero
    tracker.flush()
    assert tracker._sink.wait(5)  # (a stop() while the flush's post still waits would merge into it)
    time.sleep(0.05)
    tracker.stop()
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/runs"), ("POST", "/emissions"), ("POST", "/emissions")]
    for request in server.requests:
        assert request.headers["x-api-token"] == KEY
        assert request.headers["content-type"] == "application/json"
    run, first, second = (r.json for r in server.requests)
    final = tracker.final_emissions_data
    assert set(run) == RUN_FIELDS
    assert run["experiment_id"] == "exp-1"
    assert (run["os"], run["cpu_model"], run["cpu_count"], run["tracking_mode"]) == (
        final.os, final.cpu_model, final.cpu_count, final.tracking_mode)
    assert set(first) == set(second) == EMISSION_FIELDS
    assert first["run_id"] == second["run_id"] == "api-run-1"
    flushed = recorder.outs[0][0]
    assert first["emissions_sum"] == flushed.emissions
    assert first["energy_consumed"] == flushed.energy_consumed
    assert second["emissions_sum"] == pytest.approx(final.emissions - flushed.emissions, rel=1e-12)
    assert first["emissions_sum"] + second["emissions_sum"] == pytest.approx(final.emissions, rel=1e-12)
    assert first["duration"] == second["duration"] == 1  # whole seconds, at least 1
    expected = delta(final, flushed)
    assert second["cpu_power"] == pytest.approx(expected.cpu_power) and second["wue"] == final.wue


@pytest.mark.parametrize("count_platform", [True, False])
def test_energy_consumed_is_the_components_plus_the_platform_as_documented(server, count_platform):
    """The API's schema has no platform field: energy_consumed counts the modelled platform
    (by default), the component fields do not, and the platform is the difference (module doc)."""
    tracker = tracker_on(api(server.url), count_platform=count_platform)
    tracker.start()
    time.sleep(0.05)
    tracker.stop()
    final = tracker.final_emissions_data
    [posted] = [r.json for r in server.to("/emissions")]
    assert set(posted) == EMISSION_FIELDS  # CodeCarbon's schema: nothing added
    platform_kwh = posted["energy_consumed"] - posted["cpu_energy"] - posted["gpu_energy"] - posted["ram_energy"]
    assert (final.platform_energy > 0) is count_platform
    assert platform_kwh == pytest.approx(final.platform_energy, rel=1e-9, abs=1e-15)
    power_w = posted["cpu_power"] + posted["gpu_power"] + posted["ram_power"] + final.platform_power
    assert power_w * final.duration / 3.6e6 * final.pue == pytest.approx(posted["energy_consumed"], rel=1e-9)
    documented = "energy_consumed = cpu_energy + gpu_energy + ram_energy + platform energy"
    assert documented in " ".join((api_module.__doc__ or "").split())


def test_api_call_interval_sends_every_n_measurements(server):
    recorder = Recorder()
    tracker = tracker_on(api(server.url, api_call_interval=2), recorder, measure_power_secs=0.05)
    tracker.start()
    assert eventually(lambda: len(server.to("/emissions")) >= 2, timeout_s=5)
    assert eventually(lambda: len(recorder.lives) >= 4)  # two measurements per post (another lane)
    tracker.stop()
    posted = server.to("/emissions")
    assert server.requests[0].path == "/runs" and len(server.to("/runs")) == 1
    final = tracker.final_emissions_data
    assert sum(r.json["emissions_sum"] for r in posted) == pytest.approx(final.emissions, rel=1e-9)


def test_api_call_interval_minus_one_posts_only_on_flush_and_stop(server):
    output = api(server.url, api_call_interval=-1)
    tracker = tracker_on(output, measure_power_secs=0.05)
    assert not tracker._sink.wants_live
    tracker.start()
    time.sleep(0.3)  # time must pass: several 0.05 s live ticks, none of which may post
    assert server.requests == []
    tracker.stop()
    assert [r.path for r in server.requests] == ["/runs", "/emissions"]
    assert server.requests[1].json["emissions_sum"] == tracker.final_emissions_data.emissions


def test_a_tracker_started_again_is_a_new_api_run(server):
    tracker = tracker_on(api(server.url))
    for _ in range(2):
        tracker.start()
        tracker.stop()
    assert [r.path for r in server.requests] == ["/runs", "/emissions", "/runs", "/emissions"]
    assert [r.json["run_id"] for r in server.to("/emissions")] == ["api-run-1", "api-run-2"]


def test_api_down_with_500_then_back_sends_the_merged_delta(server):
    recorder = Recorder()
    output = api(server.url, retry_delays_s=(0.05, 0.05))
    server.then("/emissions", status(500, "down"), status(500, "down"), status(500, "down"))
    tracker = tracker_on(output, recorder)
    tracker.start()
    tracker.flush()  # first try + two retries, all 500: kept
    assert eventually(lambda: problem_count("output api", "DeliveryError") == 3)  # the last retry's 500 handled
    tracker.stop()
    posted = server.to("/emissions")
    assert len(posted) == 4
    # Nothing lost: the one post that got through is the flush's part and the stop's together.
    assert posted[-1].json["emissions_sum"] == tracker.final_emissions_data.emissions
    assert problem_count("output api", "DeliveryError") == 3


def test_refused_then_listening_delivers_everything():
    port = closed_port()
    output = api(f"http://127.0.0.1:{port}", retry_delays_s=(0.1, 0.2, 0.4, 0.8, 1.6))
    tracker = tracker_on(output)
    tracker.start()
    t0 = time.perf_counter()
    tracker.stop(wait=False)
    assert time.perf_counter() - t0 < 0.5  # the caller never waits for the network
    assert eventually(lambda: problem_count("output api", "DeliveryError") >= 1)
    late = LocalServer(default=codecarbon_api(), port=port)
    try:
        assert late.wait_for(lambda requests: len(requests) == 2)
        assert [r.path for r in late.requests] == ["/runs", "/emissions"]
        assert late.requests[1].json["emissions_sum"] == tracker.final_emissions_data.emissions
    finally:
        late.close()


def test_a_10_s_answer_delays_neither_the_caller_nor_the_csv(server, tmp_path):
    server.then("/runs", delay(10))
    csv_path = tmp_path / "emissions.csv"
    tracker = tracker_on(FileOutput("emissions.csv", str(tmp_path)), api(server.url))
    tracker.start()
    t0 = time.perf_counter()
    tracker.stop(wait=False)
    assert time.perf_counter() - t0 < 0.5
    assert server.wait_for(lambda requests: len(requests) == 1, 5)  # the API is now hanging
    assert eventually(csv_path.exists, timeout_s=2)  # the CSV lane is not behind it
    # The default read timeout (3 s) ends the hanging call: a counted failure, retried later.
    assert eventually(lambda: problem_count("output api", "DeliveryError") == 1, timeout_s=6)
    assert any("ReadTimeout" in p.message for p in problems.all())


def test_garbage_answers_are_counted_failures_then_retried(server):
    server.then("/runs", GARBAGE, status(201, "<html>not json</html>"), HANG_UP)
    output = api(server.url, retry_delays_s=(0.05, 0.05, 0.05))
    tracker = tracker_on(output)
    tracker.start()
    tracker.stop(wait=False)
    assert server.wait_for(lambda requests: [r.path for r in requests][-1:] == ["/emissions"])
    assert [r.path for r in server.requests] == ["/runs"] * 4 + ["/emissions"]
    assert server.requests[-1].json["run_id"] == "api-run-1"
    assert problem_count("output api", "DeliveryError") == 3  # not HTTP, no run id, hung up
    assert any("BadStatusLine" in p.message for p in problems.all())  # the first one, as logged


def test_backlog_is_bounded_the_oldest_delta_dropped_and_counted(server):
    recorder = Recorder()
    output = api(server.url, max_pending_deltas=2, retry_delays_s=())
    server.then("/emissions", *[status(500)] * 4)
    tracker = tracker_on(output, recorder)
    tracker.start()
    for _ in range(4):
        time.sleep(0.01)  # each flush's delta holds some energy
        tracker.flush()
        assert tracker._sink.wait(5)
    tracker.stop()
    flushes = [total for total, _ in recorder.outs]
    posted = server.to("/emissions")
    assert len(posted) == 5 and problem_count("output api", "DeliveryError") == 4
    # Held: flush 3, flush 4, stop; bound 2: flushes 1, 2 and 3 dropped in turn, counted.
    assert problem_count("output api", "DeltaDropped") == 3
    assert posted[-1].json["emissions_sum"] == pytest.approx(
        tracker.final_emissions_data.emissions - flushes[2].emissions, rel=1e-12)


def test_api_needs_an_experiment_id():
    with pytest.raises(ConfigError, match="experiment_id") as error:
        EmissionsTracker(save_to_api=True, api_endpoint="http://127.0.0.1:9", **MEASURED)
    assert "save_to_api (from argument)" in str(error.value)


def test_api_key_and_url_secrets_never_in_logs_errors_or_reprs(server, caplog):
    caplog.set_level(logging.DEBUG)
    server.then("/runs", status(500, f"echo {KEY}"))
    secrets = [KEY, "pass-word-9"]
    host = server.url.removeprefix("http://")
    tracker = EmissionsTracker(save_to_api=True, api_key=KEY, experiment_id="exp-1", api_call_interval=-1,
                               api_endpoint=f"http://user:pass-word-9@{host}/", **MEASURED)
    refused = EmissionsTracker(save_to_api=True, api_key=KEY, experiment_id="exp-1",
                               api_endpoint=f"http://user:pass-word-9@127.0.0.1:{closed_port()}", **MEASURED)
    for each in (tracker, refused):
        each.start()
        each.stop()
    assert problem_count("output api", "DeliveryError") >= 2
    shown = [caplog.text, repr(tracker), repr(refused), repr(tracker.config), repr(tracker._sink.outputs),
             *(p.message for p in problems.all())]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    assert "'***'" in repr(tracker._sink.outputs[0])
    assert server.to("/runs")[0].headers["x-api-token"] == KEY  # it does reach the API


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), min_size=1, max_size=60), st.integers(1, 8))
def test_held_deltas_never_count_energy_twice_and_lose_none_without_drops(steps, bound):
    template = _template()
    pending, big = PendingDeltas(bound), PendingDeltas(10_000)
    clock: dict[str, int] = {}
    sums = {id(pending): {}, id(big): {}}

    def post_one(queue):
        newest, posted = queue.next_batch()
        part = delta(newest, posted)
        assert part.energy_consumed >= 0
        sums[id(queue)][newest.run_id] = sums[id(queue)].get(newest.run_id, 0) + part.energy_consumed
        queue.posted(newest)

    for run_id, post_now in steps:
        clock[run_id] = clock.get(run_id, 0) + 1
        total = template.replace(run_id=run_id, duration=float(clock[run_id]), energy_consumed=float(clock[run_id]),
                                 cpu_energy=float(clock[run_id]))
        for queue in (pending, big):
            queue.add(total)
            if post_now and queue.next_batch():
                post_one(queue)
    for queue in (pending, big):
        while queue.next_batch():
            post_one(queue)
    for run_id, last in clock.items():
        assert sums[id(pending)].get(run_id, 0) <= last + 1e-9  # dropped parts are lost, never doubled
        assert sums[id(big)][run_id] == pytest.approx(last)  # nothing dropped: everything arrives


def _template():
    tracker = tracker_on()
    tracker.start()
    tracker.stop()
    return tracker.final_emissions_data
