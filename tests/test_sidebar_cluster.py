"""The sidebar shows a cell's cluster part (issue 21): each Dask or Ray host's energy and CO2,
and the hosts missing with why, in the cell entries and, so far, in the running windows'.

First the entry itself, from a record with a cluster part (bounded, in the sidebar's units),
then a real kernel driven as the labextension drives it, with a Dask worker started as a
separate process under its own host id: a tracked cell that computes on it names that host
live while it runs and in its finished entry, with the energy ``carbon_cells.csv`` has."""

from __future__ import annotations

import json
import math

import pytest

from carbon_magic.cluster.footprint import ClusterPart
from carbon_magic.cluster.reading import HostMissing
from carbon_magic.cluster.window import cluster_window
from carbon_magic.core.config import resolve_config
from carbon_magic.core.tracker import Tracker
from carbon_magic.core.units import J_PER_KWH
from carbon_magic.ipython.sidebar import protocol
from carbon_magic.runtime import current_runtime
from tests.cluster_support import ProcessCluster
from tests.ipython_helpers import read_csv
from tests.sidebar_client import SidebarClient
from tests.sidebar_support import load
from tests.test_cluster_core import reading


def test_the_entry_names_each_host_in_wh_and_g_and_the_missing_ones_bounded(samplers):
    tracker = Tracker(resolve_config({"country_iso_code": "SWE"}), samplers=samplers,
                      location=current_runtime().location)
    end = {f"host-{i:02d}": reading(f"host-{i:02d}", {"cpu": J_PER_KWH / 1000}) for i in range(10)}
    end.update({f"gone-{i}": HostMissing(f"gone-{i}", "worker died " + "x" * 80) for i in range(3)})
    part = ClusterPart(cluster_window({}, end, kernel_host="k", start_time_s=0.0))
    sampler = tracker.sampler
    data = tracker.record(tracker.window(sampler.read(), sampler.read()), "run", part)

    entry = protocol.cluster_entry(data.cluster_hosts, data.cluster_missing)
    assert entry is not None
    hosts = json.loads(data.cluster_hosts)
    assert [h["host"] for h in entry["hosts"]] == sorted(hosts)[:protocol.MAX_HOSTS]
    first = entry["hosts"][0]
    assert first["energy_wh"] == pytest.approx(1.0)  # 1 Wh, PUE 1
    assert first["co2_g"] == pytest.approx(hosts["host-00"]["emissions_kg"] * 1000, rel=1e-4) and first["co2_g"] > 0
    assert [m["host"] for m in entry["missing"]] == ["gone-0", "gone-1", "gone-2"]
    assert entry["missing"][0]["why"].startswith("worker died") and len(entry["missing"][0]["why"]) == protocol.LINE_CHARS
    assert entry["more"] == 2  # 10 hosts measured, 8 shown
    assert len(json.dumps(entry)) < 1200  # a bounded part of a message under 5 KB

    without = tracker.record(tracker.window(sampler.read(), sampler.read()), "run")
    assert protocol.cluster_entry(without.cluster_hosts, without.cluster_missing) is None
    only_kernel = ClusterPart(cluster_window({}, {"k": reading("k", {"cpu": 1.0})}, kernel_host="k", start_time_s=0.0))
    beside = tracker.record(tracker.window(sampler.read(), sampler.read()), "run", only_kernel)
    assert protocol.cluster_entry(beside.cluster_hosts, beside.cluster_missing) is None  # the kernel measures it


def test_a_cell_on_a_dask_worker_shows_its_host_live_and_when_it_is_done(process_cluster: ProcessCluster, sidebar:
                                                                          SidebarClient, isolated):
    process_cluster.add_worker("a", "host-a")
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    sidebar.output(f"from dask.distributed import Client\nclient = Client({process_cluster.address!r}, timeout=60)\n"
                   "client.wait_for_workers(1, timeout=120)")

    # a cell that keeps the worker busy until the test has seen its cluster part live
    stop = isolated / "stop"
    msg_id = sidebar.submit("%%carbon --quiet --name on-cluster\nimport pathlib, time\nt0 = time.time()\n"
                            "while not pathlib.Path('stop').exists() and time.time() - t0 < 120:\n"
                            "    client.submit(sum, range(10**6), pure=False).result()")

    def running_on_host_a(received) -> bool:
        if received.kind != "comm_msg" or received.content.get("comm_id") != comm_id:
            return False
        running = received.data["kernel"]["running"]
        return bool(running and running[0]["cluster"] and running[0]["cluster"]["hosts"])

    [running] = sidebar.pump(running_on_host_a, 120).data["kernel"]["running"]
    stop.touch()
    live = running["cluster"]
    assert running["label"] == "on-cluster"
    assert [h["host"] for h in live["hosts"]] == ["host-a"] and live["missing"] == [] and live["more"] == 0
    sidebar.wait_idle(msg_id, 120)

    def finished_on_host_a(received) -> bool:
        if received.kind != "comm_msg" or received.content.get("comm_id") != comm_id:
            return False
        cells = received.data["kernel"]["cells"]
        return bool(cells and not cells[0]["provisional"] and cells[0]["cluster"])

    cell = sidebar.pump(finished_on_host_a, 60).data["kernel"]["cells"][0]
    assert cell["label"] == "on-cluster" and cell["status"] == "ok"
    [host] = cell["cluster"]["hosts"]
    row = read_csv(isolated / "carbon_cells.csv")[1][-1]
    written = json.loads(row["cluster_hosts"])["host-a"]
    assert host["host"] == "host-a" and host["energy_wh"] > 0
    assert math.isclose(host["energy_wh"], written["energy_kwh"] * 1000, rel_tol=1e-4)
    assert math.isclose(host["co2_g"], written["emissions_kg"] * 1000, rel_tol=1e-4)
    assert host["energy_wh"] < cell["energy_wh"]  # inside the cell's figure, with the kernel's machine
    assert cell["cluster"]["missing"] == []
