"""The cluster package's core, without an engine: host agents electing one sampler per host
(real processes), a window's cluster part from two sets of readings, and a record with each
host at its own intensity."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys

import pytest

from carbon_magic.cluster.footprint import ClusterPart
from carbon_magic.cluster.host_agent import HostAgent, host_id
from carbon_magic.cluster.monitor import GONE_WHY, ClusterMonitor
from carbon_magic.cluster.reading import HostAnswer, HostMissing, HostReading, by_host
from carbon_magic.cluster.window import cluster_window
from carbon_magic.core.config import resolve_config
from carbon_magic.core.location import Location
from carbon_magic.core.location.intensity import choose_intensity
from carbon_magic.core.tracker import Tracker
from carbon_magic.core.units import J_PER_KWH
from carbon_magic.runtime import current_runtime
from tests.polling import eventually

FRANCE = Location(country_iso_code="FRA", country_name="France", found_by="parameter")
POLAND = Location(country_iso_code="POL", country_name="Poland", found_by="parameter")


def reading(host: str, energy_j: dict[str, float], *, generation: str = "1.1", started_s: float = 0.0,
            busy_s: float = 0.0, workers: dict[int, float] | None = None, location: Location = FRANCE) -> HostReading:
    return HostReading(host_id=host, hostname=f"{host}.local", generation=generation, time_s=100.0,
                       started_s=started_s, energy_j=energy_j, bands={"cpu": (0.5, 2.0)}, machine_busy_s=busy_s,
                       worker_cpu_s=workers or {}, location=location)


# -- host agents ---------------------------------------------------------------------------------

def test_host_id_is_the_environment_variable_else_the_machine_id(monkeypatch):
    monkeypatch.setenv("CARBON_MAGIC_HOST_ID", "node-7")
    assert host_id() == "node-7"
    monkeypatch.delenv("CARBON_MAGIC_HOST_ID")
    assert host_id() and host_id() != "node-7"


def test_agents_of_one_host_run_one_sampler_and_another_takes_over_with_a_new_generation(host_folders):
    first, second = HostAgent(host="h1"), HostAgent(host="h1")
    try:
        assert first.is_leader and not second.is_leader
        assert isinstance(first.answer(), HostReading) and isinstance(second.answer(), HostMissing)
        generation = first.generation
        first.close()
        assert eventually(lambda: second.is_leader, 10)
        assert second.generation != generation
        answer = second.answer()
        assert isinstance(answer, HostReading) and answer.host_id == "h1"
    finally:
        first.close()
        second.close()


def test_agents_of_two_hosts_each_lead(host_folders):
    agents = [HostAgent(host="h1"), HostAgent(host="h2")]
    try:
        assert all(agent.is_leader for agent in agents)
    finally:
        for agent in agents:
            agent.close()


LEADER = """
import sys, time
from carbon_magic.cluster.host_agent import HostAgent
agent = HostAgent(host="h1")
print("leader" if agent.is_leader else "follower", flush=True)
time.sleep(600)
"""


def test_a_killed_leader_process_is_replaced_and_its_workers_cpu_is_reported(host_folders):
    """The OS drops a dead leader's lock: the agent of another process takes over."""
    leader = subprocess.Popen([sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True)
    follower = None
    try:
        assert leader.stdout is not None and leader.stdout.readline().strip() == "leader"
        follower = HostAgent(host="h1")
        assert not follower.is_leader
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(10)
        assert eventually(lambda: follower.is_leader, 10)
        answer = follower.answer()
        assert isinstance(answer, HostReading)
        assert answer.generation.startswith("2.")  # the dead leader's was the first
        assert set(answer.worker_cpu_s) == {os.getpid()}  # the dead worker's pid is forgotten
    finally:
        if leader.poll() is None:
            leader.kill()
        if follower is not None:
            follower.close()


def test_host_reading_is_small_and_picklable(host_folders):
    agent = HostAgent(host="h1")
    try:
        answer = agent.answer()
        data = pickle.dumps(answer)
        assert pickle.loads(data) == answer and len(data) < 4000
        assert set(answer.energy_j) >= {"cpu", "ram"} and answer.started_s <= answer.time_s
    finally:
        agent.close()


def test_by_host_keeps_the_leaders_reading():
    leader = reading("h1", {"cpu": 1.0})
    answers = by_host([HostMissing("h1", "not the sampler"), leader, HostMissing("h2", "timed out")])
    assert answers == {"h1": leader, "h2": HostMissing("h2", "timed out")}


# -- a window's cluster part -----------------------------------------------------------------------

def test_the_kernels_own_host_is_not_counted_twice():
    start = {"kernel": reading("kernel", {"cpu": 10.0}), "h1": reading("h1", {"cpu": 10.0})}
    end = {"kernel": reading("kernel", {"cpu": 50.0}), "h1": reading("h1", {"cpu": 30.0})}
    window = cluster_window(start, end, kernel_host="kernel", start_time_s=50.0)
    assert [host.host_id for host in window.hosts] == ["h1"]
    assert window.total_energy_j == pytest.approx(20.0) and not window.partial


def test_a_host_missing_at_the_end_makes_the_part_partial_and_is_named():
    start = {"h1": reading("h1", {"cpu": 1.0}), "h2": reading("h2", {"cpu": 1.0})}
    end = {"h1": reading("h1", {"cpu": 4.0}), "h2": HostMissing("h2", "no answer within 2 s")}
    window = cluster_window(start, end, kernel_host="k", start_time_s=50.0)
    assert window.total_energy_j == pytest.approx(3.0)
    assert window.missing == {"h2": "no answer within 2 s"}


def test_a_host_gone_before_the_windows_start_and_absent_at_its_end_is_named_with_why():
    start = {"h1": reading("h1", {"cpu": 1.0}), "h2": HostMissing("h2", GONE_WHY)}
    window = cluster_window(start, {"h1": reading("h1", {"cpu": 4.0})}, kernel_host="k", start_time_s=50.0)
    assert window.total_energy_j == pytest.approx(3.0) and window.missing == {"h2": GONE_WHY}


class _ListedHosts:
    """A cluster backend that lists the hosts it is given (no engine)."""

    name = "fake"

    def __init__(self, answers: dict[str, HostAnswer]):
        self.answers = answers

    def active(self) -> bool:
        return True

    def ensure_agents(self) -> None:
        pass

    def read_hosts(self, timeout_s: float) -> dict[str, HostAnswer]:
        return dict(self.answers)

    def close(self) -> None:
        pass


def test_a_host_measured_by_the_reading_before_and_not_listed_now_is_named_once():
    monitor = ClusterMonitor(kernel_host="k")
    try:
        backend = _ListedHosts({"h1": reading("h1", {"cpu": 1.0})})
        known = {"h1": reading("h1", {"cpu": 0.5}), "h2": reading("h2", {"cpu": 0.5}),
                 "h3": HostMissing("h3", "no answer within 2 s")}
        answers = monitor.request([backend], 1.0, known).result(5)
        assert answers == {"h1": backend.answers["h1"], "h2": HostMissing("h2", GONE_WHY)}  # h3: named before
        assert monitor.request([backend], 1.0, answers).result(5) == backend.answers  # named once, then gone
    finally:
        monitor.close()


def test_a_restarted_sampler_counts_since_the_restart_and_is_partial():
    start = {"h1": reading("h1", {"cpu": 100.0}, generation="1.10")}
    end = {"h1": reading("h1", {"cpu": 7.0}, generation="2.11", started_s=60.0)}
    window = cluster_window(start, end, kernel_host="k", start_time_s=50.0)
    assert window.total_energy_j == pytest.approx(7.0)
    assert "restarted" in window.missing["h1"]


def test_a_host_that_joined_in_the_window_counts_whole_and_one_without_a_start_is_partial():
    end = {"new": reading("new", {"cpu": 5.0}, started_s=60.0), "old": reading("old", {"cpu": 9.0}, started_s=10.0)}
    window = cluster_window({}, end, kernel_host="k", start_time_s=50.0)
    assert window.total_energy_j == pytest.approx(14.0)
    assert set(window.missing) == {"old"}


def test_process_mode_gives_the_workers_their_cpu_share():
    start = {"h1": reading("h1", {"cpu": 0.0, "ram": 0.0}, busy_s=10.0, workers={11: 1.0, 12: 1.0})}
    end = {"h1": reading("h1", {"cpu": 40.0, "ram": 8.0}, busy_s=20.0, workers={11: 3.0, 12: 2.0})}
    window = cluster_window(start, end, kernel_host="k", start_time_s=50.0, process_mode=True)
    assert window.hosts[0].energy_j == pytest.approx({"cpu": 12.0, "ram": 2.4})  # 3 of 10 busy seconds


# -- the record ----------------------------------------------------------------------------------

def test_each_host_weighs_by_its_own_intensity_and_the_codecarbon_columns_are_sums(samplers):
    config = resolve_config({"country_iso_code": "SWE", "pue": 1.5})
    tracker = Tracker(config, samplers=samplers, location=current_runtime().location)
    sampler = tracker.sampler
    local = tracker.record(tracker.window(sampler.read(), sampler.read()), "run")
    start = {"fr": reading("fr", {"cpu": 0.0, "ram": 0.0}), "pl": reading("pl", {"cpu": 0.0}, location=POLAND)}
    end = {"fr": reading("fr", {"cpu": J_PER_KWH, "ram": J_PER_KWH}),
           "pl": reading("pl", {"cpu": J_PER_KWH}, location=POLAND), "gone": HostMissing("gone", "worker died")}
    part = ClusterPart(cluster_window(start, end, kernel_host="k", start_time_s=50.0))
    record = tracker.record(tracker.window(sampler.read(), sampler.read()), "run", part)
    france = choose_intensity(FRANCE).kg_per_kwh
    poland = choose_intensity(POLAND).kg_per_kwh
    assert france < poland
    assert record.cluster_energy == pytest.approx(3 * 1.5)
    assert record.cluster_emissions == pytest.approx(2 * 1.5 * france + 1.5 * poland)
    assert record.cpu_energy == pytest.approx(local.cpu_energy + 2 * 1.5, rel=1e-3)
    assert record.ram_energy == pytest.approx(local.ram_energy + 1.5, rel=1e-3)
    assert record.energy_consumed == pytest.approx(local.energy_consumed + 4.5, rel=1e-3)
    assert record.emissions == pytest.approx(local.emissions + record.cluster_emissions, rel=1e-3)
    hosts = json.loads(record.cluster_hosts)
    assert set(hosts) == {"fr", "pl"}
    assert hosts["pl"]["emissions_kg"] == pytest.approx(1.5 * poland)
    assert hosts["fr"]["country_iso_code"] == "FRA"
    assert record.cluster_missing == "gone: worker died"
    assert record.energy_high - record.energy_low > local.energy_high - local.energy_low  # the hosts' bands


def test_a_forced_intensity_applies_to_every_host():
    end = {"pl": reading("pl", {"cpu": J_PER_KWH}, location=POLAND)}
    part = ClusterPart(cluster_window({}, end, kernel_host="k", start_time_s=0.0), forced_g_per_kwh=100.0)
    assert [footprint.emissions_kg for footprint in part.footprints(1.0)] == [pytest.approx(0.1)]


def test_the_panel_shows_each_hosts_part_and_the_missing_ones(samplers):
    from carbon_magic.ipython.panel.panel_view import Snapshot, header_html
    from carbon_magic.ipython.panel.series import PowerSeries

    tracker = Tracker(resolve_config({"country_iso_code": "SWE"}), samplers=samplers,
                      location=current_runtime().location)
    end = {"fr": reading("fr", {"cpu": J_PER_KWH / 1000}), "gone": HostMissing("gone", "worker died")}
    part = ClusterPart(cluster_window({}, end, kernel_host="k", start_time_s=0.0))
    sampler = tracker.sampler
    data = tracker.record(tracker.window(sampler.read(), sampler.read()), "run", part)
    snapshot = Snapshot("cell", "running", data, {"cpu": 1.0}, PowerSeries(["cpu"]), False, {"cpu": 1.0})
    shown = header_html(snapshot)
    assert "cluster (inside the figures): fr 1 Wh" in shown and "gone missing (worker died)" in shown
    without = tracker.record(tracker.window(sampler.read(), sampler.read()), "run")
    assert "cluster" not in header_html(Snapshot("cell", "running", without, {"cpu": 1.0}, PowerSeries(["cpu"]),
                                                 False, {"cpu": 1.0}))


def test_trackers_ask_for_a_cluster_only_once_the_user_imported_an_engine(monkeypatch):
    """Before dask.distributed or ray is imported no cluster monitor is made (a kernel that
    never uses a cluster loads none of its code); after, its windows are the monitor's."""
    import types

    from carbon_magic.cluster.backend import BACKENDS, WhenEngineImported

    config = resolve_config({}, environ={}, files=[])
    asked: list[object] = []

    class Monitor:
        def begin(self, given):
            asked.append(given)
            return "a window"

    remote = WhenEngineImported(Monitor)
    for entry in BACKENDS.values():
        monkeypatch.delitem(sys.modules, entry.engine_module, raising=False)
    assert remote.begin(config) is None and asked == []
    monkeypatch.setitem(sys.modules, BACKENDS["ray"].engine_module, types.ModuleType("ray"))
    assert remote.begin(config) == "a window" and asked == [config]
    assert isinstance(current_runtime().remote, WhenEngineImported)
