"""The real Prometheus push gateway for tests (Debian's prometheus-pushgateway, installed by
``make test``): the ``gateway`` fixture starts one on a free loopback port; ``series`` and
``all_codecarbon_jobs`` read what it holds. Registered in tests/conftest.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request

import pytest

from carbon_magic.outputs.prometheus import GROUPING_LABELS
from carbon_magic.runtime import current_runtime
from tests.polling import eventually
from tests.servers import closed_port

BINARY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"


def _missing_gateway() -> None:
    message = "prometheus-pushgateway is not installed: `make test` installs it (Debian package)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def gateway(tmp_path):
    """A push gateway on 127.0.0.1:<free port>; yields its 'host:port'."""
    if not os.path.exists(BINARY):
        _missing_gateway()
    port = closed_port()
    process = subprocess.Popen(
        [BINARY, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={tmp_path / 'gateway.db'}",
         "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    address = f"127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://{address}/-/ready", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    try:
        assert eventually(ready, timeout_s=15), process.stderr.read1(4000) if process.poll() is not None else "silent"
        yield address
        current_runtime().lanes.flush_at_exit(5)  # what interpreter exit does: each job pushed is deleted
        assert all_codecarbon_jobs(address) == set()
    finally:
        process.terminate()
        process.wait(10)


def samples(address: str) -> list:
    """Every codecarbon_* sample on the gateway (prometheus_client's Sample tuples)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name.startswith("codecarbon_")]


def series(address: str, job: str) -> dict[str, tuple[dict[str, str], float]]:
    """Every sample of ``job`` on the gateway: name -> (labels without the group's, value)."""
    group = ("job", "instance", *GROUPING_LABELS)
    return {sample.name: ({k: v for k, v in sample.labels.items() if k not in group}, sample.value)
            for sample in samples(address) if sample.labels.get("job") == job}


def all_codecarbon_jobs(address: str) -> set[str]:
    return {sample.labels["job"] for sample in samples(address)}
