"""The sidebar shows a cell's cluster part (issue 21): each Dask or Ray host's energy and CO2,
and the hosts missing with why, in the cell entries and, so far, in the running windows'.

First the entry itself, from a record with a cluster part (bounded, in the sidebar's units),
then a real kernel driven as the labextension drives it, with a Dask worker started as a
separate process under its own host id: a tracked cell that computes on it names that host
live while it runs and in its finished entry, with the energy ``carbon_cells.csv`` has."""

from __future__ import annotations

import json
import math
from pathlib import Path

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

REPO = Path(__file__).resolve().parents[1]


def test_the_entry_names_each_host_in_wh_and_g_and_the_missing_ones_bounded(samplers):
    tracker = Tracker(resolve_config({"country_iso_code": "SWE"}), samplers=samplers,
                      location=current_runtime().location)
    end = {f"host-{i:02d}": reading(f"host-{i:02d}", {"cpu": J_PER_KWH / 1000}) for i in range(10)}
    end.update({f"gone-{i}": HostMissing(f"gone-{i}", "worker died " + "x" * 80) for i in range(3)})
    part = ClusterPart(cluster_window({}, end, kernel_host="k", start_time_s=0.0))
    sampler = tracker.sampler
    data = tracker.record(tracker.window(sampler.read(), sampler.read()), "run", part)

    detail = protocol.ClusterDetail()
    entry = protocol.cluster_entry(data.cluster_hosts, data.cluster_missing, detail)
    assert entry is not None
    hosts = json.loads(data.cluster_hosts)
    assert [h["host"] for h in entry["hosts"]] == sorted(hosts)[:protocol.CLUSTER_HOSTS_SHOWN]  # equal energies
    assert entry["energy_wh"] == pytest.approx(10.0)  # 1 Wh a host, PUE 1
    first = entry["hosts"][0]
    assert first["energy_wh"] == pytest.approx(1.0)
    assert first["co2_g"] == pytest.approx(hosts["host-00"]["emissions_kg"] * 1000, rel=1e-4) and first["co2_g"] > 0
    assert [m["host"] for m in entry["missing"]] == ["gone-0", "gone-1"]
    assert entry["missing"][0]["why"].startswith("worker died") and len(entry["missing"][0]["why"]) == protocol.WHY_CHARS
    assert (entry["more"], entry["more_missing"]) == (6 + 1, 1)  # 10 hosts measured, 4 listed; 3 missing, 2 listed
    assert len(json.dumps(entry)) < 700  # a bounded part of a message under 5 KB
    # the message's next window with a cluster part counts its hosts only
    assert protocol.cluster_entry(data.cluster_hosts, data.cluster_missing, detail) == {
        "energy_wh": entry["energy_wh"], "hosts": [], "missing": [], "more": 13, "more_missing": 3}

    without = tracker.record(tracker.window(sampler.read(), sampler.read()), "run")
    assert protocol.cluster_entry(without.cluster_hosts, without.cluster_missing, protocol.ClusterDetail()) is None
    only_kernel = ClusterPart(cluster_window({}, {"k": reading("k", {"cpu": 1.0})}, kernel_host="k", start_time_s=0.0))
    beside = tracker.record(tracker.window(sampler.read(), sampler.read()), "run", only_kernel)
    assert protocol.cluster_entry(beside.cluster_hosts, beside.cluster_missing, protocol.ClusterDetail()) is None


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



# The most the cluster parts add to one message: one part listing its hosts (4 hosts and 2
# missing, the longest ids and reasons: 650 bytes) and 8 counting them (84 bytes each; 5 cells
# and 4 running windows at most): 1,322 bytes, computed as tests/test_sidebar_cluster.py's first
# test builds them; it was ~18 KB (12 parts of 8 hosts and 8 missing each).
CLUSTER_MESSAGE_BYTES = 1_600


def wire_bytes(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def test_a_large_failing_cluster_adds_at_most_1_6_kb_to_a_message(sidebar: SidebarClient, isolated):
    """64 hosts (more than this machine can start: tests/many_hosts.py stands for them in the
    kernel's real cluster monitor), 40 of them failing with long error texts, under 8 finished
    cells and a running one: the cluster parts of every message the kernel sends add at most
    CLUSTER_MESSAGE_BYTES (MAX_CELLS cells and MAX_RUNNING windows at most). The newest window's part lists the largest hosts and the first missing
    ones; every part counts its hosts; `%carbon report hosts` keeps the full detail."""
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    sidebar.output(f"import sys\nsys.path.insert(0, {str(REPO)!r})\nfrom tests.many_hosts import install\n"
                   "from carbon_magic.runtime import current_runtime\n"
                   "_cluster = install(current_runtime().cluster, hosts=64, failing=40)")
    cell = "%%carbon --quiet\ntotal = sum(range(1000))\n"
    for _ in range(8):
        sidebar.execute(cell)
    msg_id = sidebar.submit(cell + "import time\ntime.sleep(4)")
    sidebar.wait_idle(msg_id, 60)
    sidebar.wait_quiet(1.5)

    messages = sidebar.comm_messages(comm_id)
    running = [r.data["kernel"]["running"] for r in messages if r.data["kernel"]["running"]]
    assert running and running[-1][0]["cluster"] is not None  # the running window's part was sent too
    last = messages[-1].data["kernel"]
    assert len(last["cells"]) == protocol.MAX_CELLS and all(c["cluster"] for c in last["cells"])
    for entry in [c["cluster"] for c in last["cells"]] + [w[0]["cluster"] for w in running]:
        measured = len(entry["hosts"]) + entry["more"] - entry["more_missing"]
        missing = len(entry["missing"]) + entry["more_missing"]
        assert (measured, missing) == (24, 40), entry
        assert entry["energy_wh"] > 0
    newest = last["cells"][0]["cluster"]
    assert len(newest["hosts"]) == protocol.CLUSTER_HOSTS_SHOWN and len(newest["missing"]) == protocol.CLUSTER_MISSING_SHOWN
    energies = [h["energy_wh"] for h in newest["hosts"]]
    assert energies == sorted(energies, reverse=True)  # the largest first
    assert all(len(m["why"]) <= protocol.WHY_CHARS and len(m["host"]) <= protocol.LABEL_CHARS for m in newest["missing"])
    older = last["cells"][-1]["cluster"]
    assert older["hosts"] == [] and older["missing"] == [] and older["more"] == 64  # counts only
    for received in messages:
        state = received.data["kernel"]
        parts = [w["cluster"] for w in state["running"] + state["cells"] if w["cluster"]]
        assert sum(wire_bytes(part) for part in parts) <= CLUSTER_MESSAGE_BYTES, received.size_bytes

    report = json.loads(sidebar.output(
        "_h = %carbon report hosts\nprint(_h[_h['execution_count'] == _h['execution_count'].max()].to_json(orient='records'))"))
    assert len(report) == 1 + 64  # the kernel's machine, then every host, with the whole error text
    notes = [row["note"] for row in report if row["note"]]
    assert len(notes) == 40 and all(len(note) > 200 for note in notes)
