"""Dask clusters measured into windows, with real dask.distributed processes on 127.0.0.1: a
LocalCluster of worker processes, and a scheduler with workers started as separate processes,
each with its own host id (``CARBON_MAGIC_HOST_ID``), for the per-host accounting and the
faults (a host that does not answer, a worker killed in a window, the cluster closed)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from carbon_magic.cluster.dask_backend import DaskBackend
from carbon_magic.cluster.monitor import ClusterMonitor
from carbon_magic.cluster.reading import HostMissing, HostReading
from carbon_magic.core.config import resolve_config
from carbon_magic.core.record import EmissionsData
from carbon_magic.core.tracker import Tracker
from carbon_magic.outputs.base import BaseOutput
from carbon_magic.runtime import current_runtime
from carbon_magic.trackers import EmissionsTracker
from tests.cluster_support import connect
from tests.polling import eventually


def busy(seconds: float) -> int:
    """A task that keeps one worker's CPU busy."""
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        count += 1
    return count


def tracked(**arguments: object) -> Tracker:
    runtime = current_runtime()
    config = resolve_config({"country_iso_code": "SWE", **arguments})
    return Tracker(config, samplers=runtime.samplers, location=runtime.location, remote=runtime.cluster)


def final_record(tracker: Tracker) -> tuple[EmissionsData, float]:
    """Stop ``tracker`` as a cell does (never waiting); its final record and how long stop() took."""
    finals: list[EmissionsData] = []
    arrived = threading.Event()

    def on_final(record: EmissionsData) -> None:
        finals.append(record)
        arrived.set()

    began = time.perf_counter()
    tracker.stop(wait=False, on_final=on_final)
    stop_s = time.perf_counter() - began
    assert arrived.wait(30)
    return finals[0], stop_s


def test_two_worker_processes_of_one_host_are_one_sampler(local_cluster):
    backend = DaskBackend()
    assert backend.active()
    backend.ensure_agents()
    answers = backend.read_hosts(5.0)
    assert list(answers) == ["cluster-a"]
    reading = answers["cluster-a"]
    assert isinstance(reading, HostReading)
    assert len(reading.worker_cpu_s) == 2  # both workers' processes, one reading


def test_a_cell_on_a_local_cluster_gets_its_hosts_energy(local_cluster):
    tracker = tracked()
    tracker.start()
    local_cluster.submit(busy, 0.5, pure=False).result()
    record, _stop_s = final_record(tracker)
    hosts = json.loads(record.cluster_hosts)
    assert list(hosts) == ["cluster-a"] and record.cluster_missing == ""
    assert record.cluster_energy > 0 and hosts["cluster-a"]["energy_kwh"] == pytest.approx(record.cluster_energy)
    assert record.energy_consumed > record.cluster_energy  # the kernel's machine counts too
    _backends, latest = current_runtime().cluster.latest()
    assert set(latest) == {"cluster-a"}


class TaskRecords(BaseOutput):
    """A user's output handler: the task records a run hands over at stop()."""

    def __init__(self) -> None:
        self.tasks: list[EmissionsData] = []
        self.arrived = threading.Event()

    def task_out(self, data: list[EmissionsData], experiment_name: str) -> None:
        self.tasks += data
        self.arrived.set()


def assert_cluster_part(record: EmissionsData) -> None:
    """``record`` has the cluster fields a cell on local_cluster gets: host cluster-a's energy, none missing."""
    hosts = json.loads(record.cluster_hosts)
    assert list(hosts) == ["cluster-a"] and record.cluster_missing == "", (record.cluster_hosts, record.cluster_missing)
    assert record.cluster_energy > 0 and hosts["cluster-a"]["energy_kwh"] == pytest.approx(record.cluster_energy)
    assert 0 < record.cluster_emissions < record.emissions
    assert record.energy_consumed > record.cluster_energy  # the kernel's machine counts too


def test_tasks_on_a_local_cluster_get_the_cluster_fields_of_a_cell(local_cluster):
    """EmissionsTracker.start_task/stop_task with measure_cluster on (the default): a task
    stopped by stop_task and one still running at stop() both carry the hosts' part, as a cell."""
    handler = TaskRecords()
    tracker = EmissionsTracker(country_iso_code="SWE", save_to_file=False, output_handlers=[handler])
    tracker.start()
    tracker.start_task("first")
    local_cluster.submit(busy, 0.5, pure=False).result()
    first = tracker.stop_task()
    assert_cluster_part(first)
    tracker.start_task("second")
    local_cluster.submit(busy, 0.5, pure=False).result()
    tracker.stop()  # "second" ends with the run
    assert handler.arrived.wait(30)
    assert [task.extra["task_name"] for task in handler.tasks] == ["first", "second"]
    for task in handler.tasks:
        assert_cluster_part(task)
    assert tracker.final_emissions_data.cluster_energy > handler.tasks[0].cluster_energy


def test_a_task_with_measure_cluster_off_has_no_cluster_part(local_cluster):
    tracker = EmissionsTracker(country_iso_code="SWE", save_to_file=False, measure_cluster=False)
    tracker.start()
    tracker.start_task()
    local_cluster.submit(busy, 0.2, pure=False).result()
    task = tracker.stop_task()
    tracker.stop()
    assert (task.cluster_energy, task.cluster_hosts, task.cluster_missing) == (0.0, "", "")


def test_the_kernels_host_is_excluded_and_workers_that_join_later_are_measured(process_cluster, kernel_host):
    process_cluster.add_worker("a", "host-a")
    client = connect(process_cluster, 1)
    try:
        tracker = tracked()
        tracker.start()  # registers the plugin: worker "a" runs it from now on
        client.submit(busy, 0.3, pure=False).result()
        record, _ = final_record(tracker)
        assert list(json.loads(record.cluster_hosts)) == ["host-a"]
        process_cluster.add_worker("b", "host-b")
        process_cluster.add_worker("beside-kernel", kernel_host)
        client.wait_for_workers(3, timeout=120)
        backend = DaskBackend()
        assert eventually(lambda: set(backend.read_hosts(5.0)) == {"host-a", "host-b", kernel_host}, 60)
        tracker.start()
        client.submit(busy, 0.3, pure=False).result()
        record, _ = final_record(tracker)
        assert sorted(json.loads(record.cluster_hosts)) == ["host-a", "host-b"]  # the kernel's host: its own sampler
        assert record.cluster_missing == ""
    finally:
        client.close()


def window_on_two_hosts(process_cluster, timeout_s: float) -> tuple[object, object, Tracker]:
    """Workers 'a' (host-a) and 'b' (host-b), the default client, and a tracker whose window has
    started with both hosts' readings: (client, worker b's process, tracker)."""
    process_cluster.add_worker("a", "host-a")
    worker_b = process_cluster.add_worker("b", "host-b")
    client = connect(process_cluster, 2)
    tracker = tracked(cluster_timeout_secs=timeout_s)
    tracker.start()
    assert eventually(lambda: set(current_runtime().cluster.latest()[1]) == {"host-a", "host-b"}, 60)
    return client, worker_b, tracker


def test_a_host_that_does_not_answer_costs_the_bound_and_is_named(process_cluster):
    client, stuck, tracker = window_on_two_hosts(process_cluster, 1.0)
    try:
        os.kill(stuck.pid, signal.SIGSTOP)
        try:
            began = time.perf_counter()
            record, stop_s = final_record(tracker)
            final_s = time.perf_counter() - began
        finally:
            os.kill(stuck.pid, signal.SIGCONT)
        assert stop_s < 0.5  # the cell never waits for the cluster
        assert final_s < 1.0 + 1.0  # the record is final within the bound (and the machine's slack)
        assert list(json.loads(record.cluster_hosts)) == ["host-a"]
        assert record.cluster_missing.startswith("host-b: ") and "no answer within" in record.cluster_missing
    finally:
        client.close()


def test_a_worker_killed_in_a_window_leaves_a_partial_record_naming_its_host(process_cluster):
    client, doomed, tracker = window_on_two_hosts(process_cluster, 2.0)
    try:
        doomed.kill()
        doomed.wait(10)
        client.submit(busy, 0.2, pure=False, workers=["a"]).result()
        record, stop_s = final_record(tracker)
        assert stop_s < 0.5
        assert list(json.loads(record.cluster_hosts)) == ["host-a"] and record.cluster_energy > 0
        assert record.cluster_missing.startswith("host-b: ")
    finally:
        client.close()


def test_a_worker_gone_before_a_windows_start_reading_is_named_in_that_window_only(process_cluster):
    """A host measured by the reading before a window and no longer listed when the window's start
    is read (killed before its cell's readings reached it) is named as missing in that window, with
    why, not dropped unseen; the next window, which it had no part in, does not name it again."""
    client, doomed, tracker = window_on_two_hosts(process_cluster, 2.0)
    try:
        final_record(tracker)  # the cell before: both hosts answered
        doomed.kill()
        doomed.wait(10)
        assert eventually(lambda: len(client.scheduler_info()["workers"]) == 1, 30)
        tracker.start()
        record, _ = final_record(tracker)
        assert list(json.loads(record.cluster_hosts)) == ["host-a"]
        assert record.cluster_missing.startswith("host-b: answered the reading before this one, not this one")
        tracker.start()
        record, _ = final_record(tracker)
        assert list(json.loads(record.cluster_hosts)) == ["host-a"] and record.cluster_missing == ""
    finally:
        client.close()


def test_a_cluster_closed_in_a_window_leaves_a_partial_record(process_cluster):
    process_cluster.add_worker("a", "host-a")
    client = connect(process_cluster, 1)
    tracker = tracked(cluster_timeout_secs=1.0)
    tracker.start()
    assert eventually(lambda: set(current_runtime().cluster.latest()[1]) == {"host-a"}, 60)
    client.close()
    process_cluster.close()
    record, stop_s = final_record(tracker)
    assert stop_s < 0.5
    assert record.cluster_energy == 0 and record.cluster_missing.startswith("host-a: ")
    assert record.energy_consumed > 0  # the kernel's own part is kept


def test_measure_cluster_off_measures_no_host(local_cluster):
    tracker = tracked(measure_cluster=False)
    tracker.start()
    record, _ = final_record(tracker)
    assert record.cluster_hosts == "" and record.cluster_energy == 0


def test_no_client_no_cluster_part():
    monitor = ClusterMonitor()
    try:
        assert monitor.begin(resolve_config()) is None
    finally:
        monitor.close()


def test_a_worker_without_the_plugin_is_named(local_cluster):
    answers = DaskBackend().read_hosts(5.0)  # nobody registered the plugin
    assert answers and all(isinstance(answer, HostMissing) for answer in answers.values())
    assert all("plugin" in answer.reason for answer in answers.values() if isinstance(answer, HostMissing))


def test_a_client_closed_while_a_host_is_asked_names_the_close(process_cluster):
    """The user closes the client while the window's end reading still waits for a host: that
    host is missing because the client closed, said so, and the record is final at once."""
    client, stuck, tracker = window_on_two_hosts(process_cluster, 20.0)
    os.kill(stuck.pid, signal.SIGSTOP)
    try:
        finals: list[EmissionsData] = []
        tracker.stop(wait=False, on_final=finals.append)
        time.sleep(0.5)  # the end reading is out, host-b's call waits
        assert not finals
        began = time.perf_counter()
        client.close()
        assert eventually(lambda: bool(finals), 10)
        assert time.perf_counter() - began < 10.0  # not the 20 s bound
    finally:
        os.kill(stuck.pid, signal.SIGCONT)
    [record] = finals
    assert "host-b: " in record.cluster_missing
    assert "the Dask client closed before it answered" in record.cluster_missing, record.cluster_missing
