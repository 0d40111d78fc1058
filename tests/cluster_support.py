"""Fixtures of the cluster tests: a private folder for the host agents' locks, and real Dask
clusters on 127.0.0.1 (a LocalCluster of worker processes; a scheduler and workers started
as separate processes, each with its own ``CARBON_MAGIC_HOST_ID``). Small (1 thread per
worker) and always closed: the test machines have few cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.polling import eventually
from tests.servers import closed_port


@pytest.fixture
def host_folders(tmp_path, monkeypatch) -> Path:
    """The host agents' per-host folders under this test's temp folder (also for workers started
    from it: they inherit the environment)."""
    folder = tmp_path / "runtime"
    folder.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


@pytest.fixture
def kernel_host(monkeypatch) -> str:
    """The test process's host id (workers started with another id are other hosts)."""
    monkeypatch.setenv("CARBON_MAGIC_HOST_ID", "kernel-host")
    return "kernel-host"


@pytest.fixture
def local_cluster(host_folders, kernel_host, monkeypatch) -> Iterator[object]:
    """A LocalCluster of two worker processes (1 thread each) on one other host, 'cluster-a',
    and the default client on it."""
    import distributed

    monkeypatch.setenv("CARBON_MAGIC_HOST_ID", "cluster-a")  # the workers' host (inherited)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1")
    monkeypatch.setenv("CARBON_MAGIC_HOST_ID", kernel_host)
    client = distributed.Client(cluster, set_as_default=True)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


class ProcessCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, each worker with its host id."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.port = closed_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        self.scheduler = self._start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                                   "--port", str(self.port), "--dashboard-address", ":0",
                                                   "--no-show"], os.environ.copy())

    def _start(self, name: str, arguments: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", *arguments], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def add_worker(self, name: str, host_id: str, **env: str) -> subprocess.Popen:
        environment = {**os.environ, "CARBON_MAGIC_HOST_ID": host_id, **env}
        worker = self._start(f"worker-{name}", ["distributed.cli.dask_worker", self.address, "--nthreads", "1",
                                                "--no-nanny", "--name", name, "--host", "127.0.0.1",
                                                "--no-dashboard"], environment)
        self.workers[name] = worker
        return worker

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def process_cluster(tmp_path, host_folders, kernel_host) -> Iterator[ProcessCluster]:
    """A scheduler process and no workers yet (``add_worker``); everything stopped at the end."""
    cluster = ProcessCluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def connect(cluster: ProcessCluster, workers: int) -> object:
    """The default client of ``cluster`` once ``workers`` workers have joined."""
    import distributed

    client = distributed.Client(cluster.address, timeout=60, set_as_default=True)
    client.wait_for_workers(workers, timeout=120)
    assert eventually(lambda: len(client.scheduler_info()["workers"]) >= workers, 30)
    return client
