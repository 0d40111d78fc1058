"""A real kernel using a Dask cluster of separate processes (a scheduler, workers with their own
host ids): tracked cells measure the hosts with no extra line, ``%carbon status`` lists them,
and the faults (a worker killed in a cell, the cluster closed in a cell) leave partial rows
naming the missing hosts, with nothing else lost."""

from __future__ import annotations

import json

from tests.ipython_helpers import execute_like_jupyterlab, read_csv, texts
from tests.polling import eventually


def cell(client, code: str) -> str:
    _, messages = execute_like_jupyterlab(client, code)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    return texts(messages)


def rows(folder) -> list[dict[str, str]]:
    path = folder / "carbon_cells.csv"
    return read_csv(path)[1] if path.exists() else []


def test_cells_on_a_cluster_of_processes_and_its_faults(process_cluster, kernel, isolated, kernel_host):
    process_cluster.add_worker("a", "host-a")
    doomed = process_cluster.add_worker("b", "host-b")
    process_cluster.add_worker("beside", kernel_host)
    _, client = kernel
    cell(client, "%load_ext carbon_magic")
    cell(client, f"from dask.distributed import Client\nclient = Client({process_cluster.address!r}, timeout=60)\n"
                 "client.wait_for_workers(3, timeout=120)")
    cell(client, "%%carbon --quiet --name spread\nsum(client.gather(client.map(lambda i: sum(range(10**6)), range(6))))")
    assert eventually(lambda: len(rows(isolated)) == 1, 30)
    status = cell(client, "%carbon status")
    assert "host-a (" in status and "host-b (" in status and f"{kernel_host}: the kernel's own machine" in status

    # a bound that leaves host-a's call time to be asked again: the worker dying can close the
    # connection another worker's call was using (the 1 s bound itself is tested in test_cluster_dask)
    # the hosts' start readings are asked in the background as the cell starts: the worker dies
    # once they are in (one killed before it answers them is neither counted nor named: a known gap)
    cell(client, f"%%carbon --quiet --name killed --cluster-timeout-secs 5\nimport os, signal, time\n"
                 f"time.sleep(2)\nos.kill({doomed.pid}, signal.SIGKILL)\nclient.submit(sum, range(10**6), workers=['a']).result()\n"
                 "while len(client.scheduler_info()['workers']) > 2:  # the scheduler notices\n    time.sleep(0.05)")
    # the killed cell's end reading may still be asking host-a again: closing the client now would
    # leave host-a missing ("the Dask client closed before it answered"), which is not the case here
    assert eventually(lambda: len(rows(isolated)) == 2, 30)
    cell(client, "%%carbon --quiet --name closed --cluster-timeout-secs 1\nclient.close()")
    cell(client, "%%carbon --quiet --name after\nx = 1")
    assert eventually(lambda: len(rows(isolated)) == 4, 30)
    by_label = {row["label"]: row for row in rows(isolated)}  # in the order they became final
    spread, killed, closed, after = (by_label[label] for label in ("spread", "killed", "closed", "after"))
    assert sorted(json.loads(spread["cluster_hosts"])) == ["host-a", "host-b"]  # not the kernel's own host
    assert spread["cluster_missing"] == "" and float(spread["cluster_energy"]) > 0
    assert list(json.loads(killed["cluster_hosts"])) == ["host-a"], killed["cluster_missing"]
    assert killed["cluster_missing"].startswith("host-b: ")
    assert closed["cluster_missing"] and float(closed["energy_consumed"]) > 0  # the kernel's part is kept
    assert after["cluster_hosts"] == "" and after["status"] == "ok"  # no client: no cluster part
    report = cell(client, "hosts = %carbon report hosts\nprint(hosts.to_string())")
    assert "host-a" in report and "kernel" in report and "missing" in report
