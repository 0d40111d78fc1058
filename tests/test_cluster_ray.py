"""The Ray backend with real Ray: a head started by ``ray start --head`` on 127.0.0.1 (its own
host id), the test as the driver connected by ``ray.init(address=...)``, a second node that
joins later and then dies; and ``ray.init()`` local. One Ray session for the module (Ray is
slow to start on a small machine), kept small: one CPU per node, no dashboard, a small object
store; each node's processes are a process group of their own, ended by its id."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest
import ray

from carbon_magic.cluster.ray_backend import ACTOR_NAME, RayBackend
from carbon_magic.cluster.reading import HostMissing, HostReading
from carbon_magic.core.config import resolve_config
from carbon_magic.runtime import current_runtime
from tests.ipython_helpers import OFFLINE_ENV
from tests.polling import eventually
from tests.servers import closed_port

RAY = str(Path(sys.executable).with_name("ray"))
# Ray's agents start slowly on a loaded 2-core machine: let the raylet wait for them
SLOW_START = {"RAY_agent_register_timeout_ms": "300000", "RAY_USAGE_STATS_ENABLED": "0"}
SMALL = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--object-store-memory=80000000", "--disable-usage-stats"]
RUN = uuid.uuid4().hex[:8]  # host ids of this run (the agents' lock folders are per host id)
HEAD_HOST, JOINED_HOST, LOCAL_HOST = f"ray-head-{RUN}", f"ray-joined-{RUN}", f"ray-local-{RUN}"


class RayNode:
    """``ray start --block`` in a process group of its own (all its Ray processes), ended by that group's id."""

    def __init__(self, arguments: list[str], host_id: str, folder: Path):
        environment = {**os.environ, **OFFLINE_ENV, "CARBON_MAGIC_HOST_ID": host_id,
                       "XDG_RUNTIME_DIR": str(folder / "runtime"), **SLOW_START}
        self.log = open(folder / f"{host_id}.log", "wb")
        self.process = subprocess.Popen([RAY, "start", "--block", *SMALL, *arguments], env=environment,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, first: signal.Signals = signal.SIGTERM) -> None:
        for sig, wait_s in ((first, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # what the group's leader left behind
        except ProcessLookupError:
            pass
        self.log.close()


def alive_nodes() -> list[dict]:
    return [node for node in ray.nodes() if node["Alive"]]


def readings(backend: RayBackend, timeout_s: float = 5.0) -> dict:
    backend.ensure_agents()
    return backend.read_hosts(timeout_s)


def answered(backend: RayBackend, *hosts: str) -> bool:
    answers = readings(backend)
    return all(isinstance(answers.get(host), HostReading) for host in hosts)


@pytest.fixture(scope="module")
def head():
    """A Ray head on 127.0.0.1 (host HEAD_HOST) and this process connected to it as the driver."""
    folder = Path(tempfile.mkdtemp(prefix="cmray"))  # short: Ray's socket paths live under it
    port = closed_port()
    node = RayNode(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={folder / 'ray'}"],
                   HEAD_HOST, folder)
    try:
        address = f"127.0.0.1:{port}"
        assert eventually(lambda: _connect(address), timeout_s=120), (folder / f"{HEAD_HOST}.log").read_text()[-3000:]
        yield address, folder
    finally:
        ray.shutdown()
        node.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _connect(address: str) -> bool:
    try:
        ray.init(address=address, log_to_driver=False)
    except ConnectionError:
        return False
    return True


def test_without_ray_initialised_the_backend_is_not_active():
    assert not ray.is_initialized()
    assert RayBackend().active() is False


def test_each_node_gets_one_actor_that_answers_for_its_host_within_the_bound(head):
    backend = RayBackend()
    assert backend.active()
    assert eventually(lambda: answered(backend, HEAD_HOST), timeout_s=90), readings(backend)
    started = time.monotonic()
    answers = backend.read_hosts(5.0)
    assert time.monotonic() - started < 5.0
    reading = answers[HEAD_HOST]
    assert isinstance(reading, HostReading) and reading.energy_j["cpu"] > 0
    # tracking_mode="process": the node's workers are its Ray worker processes, not Ray's agents
    assert reading.worker_cpu_s and all(psutil.Process(pid).cmdline()[0].startswith("ray::")
                                        for pid in reading.worker_cpu_s), reading.worker_cpu_s
    [node] = alive_nodes()
    assert ray.util.list_named_actors() == [ACTOR_NAME.format(node_id=node["NodeID"])]


def test_a_second_backend_of_the_job_finds_the_same_actors(head):
    first, second = RayBackend(), RayBackend()
    assert eventually(lambda: answered(first, HEAD_HOST), timeout_s=90)
    generation = readings(first)[HEAD_HOST].generation
    again = readings(second)[HEAD_HOST]
    # a new actor on the node would be a second agent of the host, not its sampler (no reading)
    assert isinstance(again, HostReading) and again.generation == generation
    assert len(ray.util.list_named_actors()) == len(alive_nodes()) == 1


def test_an_actor_that_does_not_answer_is_missing_after_the_bound_then_answers_again(head):
    backend = RayBackend()
    assert eventually(lambda: answered(backend, HEAD_HOST), timeout_s=90)
    [actor_pid] = [pid for pid in readings(backend)[HEAD_HOST].worker_cpu_s
                   if psutil.Process(pid).cmdline()[0].startswith("ray::NodeAgent")]
    os.kill(actor_pid, signal.SIGSTOP)  # a hung node: its actor takes no call
    try:
        started = time.monotonic()
        answers = backend.read_hosts(1.0)
        assert time.monotonic() - started < 1.0 + 5.0  # the bound, plus a loaded machine's slack
        assert isinstance(answers[HEAD_HOST], HostMissing)
        assert answers[HEAD_HOST].reason == "its Ray actor gave no reading within 1 s"
    finally:
        os.kill(actor_pid, signal.SIGCONT)
    assert eventually(lambda: answered(backend, HEAD_HOST), timeout_s=60)  # the same actor, answering again


def test_a_node_that_joins_gets_an_actor_pinned_to_it_and_a_dead_node_is_missing(head):
    address, folder = head
    backend = RayBackend()
    assert eventually(lambda: answered(backend, HEAD_HOST), timeout_s=90)
    joined = RayNode([f"--address={address}"], JOINED_HOST, folder)
    try:
        assert eventually(lambda: len(alive_nodes()) == 2, timeout_s=120), (folder / f"{JOINED_HOST}.log").read_text()
        # the next cell's ensure_agents: each node's actor answers for its own host (pinned)
        assert eventually(lambda: answered(backend, HEAD_HOST, JOINED_HOST), timeout_s=90), readings(backend)
        assert len(ray.util.list_named_actors()) == 2
    finally:
        joined.stop(first=signal.SIGKILL)  # the node crashes (mid-cell: its end reading is asked)
    started = time.monotonic()
    answers = backend.read_hosts(2.0)
    assert time.monotonic() - started < 2.0 + 5.0  # the bound, plus a loaded machine's slack
    assert isinstance(answers[JOINED_HOST], HostMissing), answers[JOINED_HOST]
    assert "Ray actor" in answers[JOINED_HOST].reason
    assert isinstance(answers[HEAD_HOST], HostReading)
    # once Ray knows the node is gone, the next cells no longer ask it (nor call it missing)
    assert eventually(lambda: len(alive_nodes()) == 1, timeout_s=120)
    assert set(readings(backend)) == {HEAD_HOST}


def test_the_runtimes_cluster_monitor_finds_ray_and_a_window_counts_the_nodes_host(head):
    """No extra line: with Ray initialised, the runtime's cluster monitor (what a tracked cell's
    tracker asks) reads the nodes at the window's start and end; the part has the head's host."""
    monitor = current_runtime().cluster
    backends = monitor.active_backends()
    assert "ray" in [backend.name for backend in backends]

    def head_answers() -> bool:  # the actor's first answers (a new handle) can be slow here
        return isinstance(monitor.request(backends, 10.0, {}).result().get(HEAD_HOST), HostReading)

    assert eventually(head_answers, timeout_s=90)
    window = monitor.begin(resolve_config({"cluster_timeout_secs": 10.0}))
    assert window is not None
    ray.get(ray.remote(lambda: sum(range(10**6))).remote())
    parts: queue.Queue = queue.Queue()
    window.finish(parts.put)
    part = parts.get(timeout=30)
    hosts = {host.host_id: host for host in part.window.hosts}
    assert hosts[HEAD_HOST].total_energy_j > 0 and not part.window.partial, part.window
    assert monitor.begin(resolve_config({"measure_cluster": False})) is None  # the parameter turns it off


def test_ray_init_local_measures_the_local_node(head, monkeypatch, tmp_path):
    ray.shutdown()  # the module's connection to the head: a local Ray instead, in this process's session
    monkeypatch.setenv("CARBON_MAGIC_HOST_ID", LOCAL_HOST)  # inherited by the local node's workers
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for name, value in SLOW_START.items():
        monkeypatch.setenv(name, value)
    ray.init(num_cpus=1, include_dashboard=False, object_store_memory=80_000_000, log_to_driver=False)
    try:
        backend = RayBackend()
        assert backend.active()
        assert eventually(lambda: answered(backend, LOCAL_HOST), timeout_s=90), readings(backend)
    finally:
        ray.shutdown()
    assert not backend.active()
