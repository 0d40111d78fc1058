"""``emissions_endpoint`` against a real HTTP server on 127.0.0.1: the totals as JSON on
flush() and stop(); retried on failure, dropped and counted after the last retry."""

from __future__ import annotations

import time

import pytest

from carbon_magic import EmissionsTracker
from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs import HTTPOutput
from carbon_magic.outputs.http import login_name
from tests.outputs_support import MEASURED, Recorder, problem_count, tracker_on
from tests.polling import eventually
from tests.servers import GARBAGE, status

pytestmark = pytest.mark.usefixtures("exit_hooks_run_at_teardown")  # (tests/outputs_support.py)


def test_totals_are_posted_as_json_on_flush_and_stop(server):
    tracker = EmissionsTracker(emissions_endpoint=server.url + "/carbon", project_name="p", **MEASURED)
    tracker.start()
    time.sleep(0.05)
    tracker.flush()
    assert tracker._sink.wait(5)  # (a stop() while the flush's post still waits would replace it)
    tracker.stop()
    posts = server.to("/carbon")
    assert [r.method for r in posts] == ["POST", "POST"]
    assert posts[0].headers["content-type"] == "application/json"
    final = tracker.final_emissions_data
    assert list(posts[1].json) == [*CSV_COLUMNS, "user"]
    assert posts[1].json == {**final.as_dict(), "user": login_name()}
    assert posts[0].json["run_id"] == final.run_id and posts[0].json["duration"] < final.duration


def test_500_and_garbage_are_retried_until_the_totals_arrive(server):
    server.then("/carbon", status(500), GARBAGE)
    recorder = Recorder()
    tracker = tracker_on(HTTPOutput(server.url + "/carbon", retry_delays_s=(0.05, 0.05)), recorder)
    tracker.start()
    tracker.stop(wait=False)
    assert server.wait_for(lambda requests: len(requests) == 3)
    assert server.requests[-1].json == {**tracker.final_emissions_data.as_dict(), "user": login_name()}
    assert problem_count("output http", "DeliveryError") == 2
    time.sleep(0.1)
    assert len(server.requests) == 3  # delivered once: no more posts


def test_totals_still_refused_after_the_retries_are_dropped_and_counted(server):
    server.then("/carbon", *[status(503)] * 3)
    tracker = tracker_on(HTTPOutput(server.url + "/carbon", retry_delays_s=(0.02, 0.02)))
    tracker.start()
    tracker.stop(wait=False)
    assert eventually(lambda: problem_count("output http", "TotalDropped") == 1)
    assert len(server.requests) == 3 and problem_count("output http", "DeliveryError") == 3


def test_a_newer_total_replaces_one_still_waiting(server):
    server.then("/carbon", status(500))
    recorder = Recorder()
    tracker = tracker_on(HTTPOutput(server.url + "/carbon", retry_delays_s=(0.3,)), recorder)
    tracker.start()
    tracker.flush()
    assert server.wait_for(lambda requests: len(requests) == 1)
    tracker.stop()  # arrives while the retry waits: the retry carries the stop's totals
    assert server.wait_for(lambda requests: len(requests) == 2)
    time.sleep(0.4)
    assert len(server.requests) == 2
    assert server.requests[1].json["duration"] == tracker.final_emissions_data.duration
