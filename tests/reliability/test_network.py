"""Every online feature against a server that refuses, answers in 10 s, answers 500, answers
garbage (bytes that are not HTTP) or streams a huge body.

The "server" is the one local test server (tests/servers.py) on 127.0.0.1, or a closed
loopback port for "refused". Cells run in a real IPython shell with the extension loaded and
the feature pointed at that address by its ``CODECARBON_*`` variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from tests.servers import GARBAGE, LocalServer, Reply, closed_port, delay, huge, status
from tests.polling import eventually


# A tracked cell must not wait for the network: this is far above a cell's own 50 ms, far
# below the 10 s a slow server takes.
CELL_BUDGET_S = 1.5
CELLS = 3
# The clients' own time limits (connect 2 s + read 3 s, location 2 s) end a slow answer before
# the server's 10 s: the failure shows in status within this.
SHOWN_WITHIN_S = 8.0


@dataclass(frozen=True)
class Feature:
    """An online feature: how a notebook turns it on against ``url`` and what status calls it."""

    name: str
    environment: Callable[[str], dict[str, str]]
    shown: str  # what %carbon status says once the feature has failed (or given up)
    offline: bool = True  # run with OFFLINE_ENV (France, no geolocation)
    unread_body: bool = False  # only the status is read: a huge 200 answer is a success


def _host(url: str) -> str:
    return url.removeprefix("http://")


FEATURES = [
    Feature("codecarbon api", lambda url: {"CODECARBON_SAVE_TO_API": "true", "CODECARBON_API_ENDPOINT": url,
                                           "CODECARBON_EXPERIMENT_ID": "exp-1", "CODECARBON_OFFLINE": "false"},
            "output api: DeliveryError"),
    Feature("emissions endpoint", lambda url: {"CODECARBON_EMISSIONS_ENDPOINT": url + "/emissions"}, "output http: DeliveryError"),
    Feature("prometheus push gateway", lambda url: {"CODECARBON_SAVE_TO_PROMETHEUS": "true",
                                                    "CODECARBON_PROMETHEUS_URL": _host(url)},
            "output prometheus: DeliveryError", unread_body=True),
    Feature("electricity maps", lambda url: {"CODECARBON_COUNTRY_2LETTER_ISO_CODE": "FR",
                                             "CODECARBON_ELECTRICITYMAPS_API_TOKEN": "token-1",
                                             "CODECARBON_ELECTRICITYMAPS_ENDPOINT": url + "/em"},
            "live intensity request failed", offline=False),
    Feature("ip geolocation", lambda url: {"CODECARBON_GEOLOCATION_ENDPOINT": url + "/geo"},
            "IP geolocation failed", offline=False),
    # Not finding a cloud is no failure: what shows is that detection finished, not hanging on.
    Feature("cloud metadata", lambda url: {"CODECARBON_CLOUD_METADATA_URL": url}, "location (done)", offline=False),
    Feature("telemetry", lambda url: {"CODECARBON_TELEMETRY": "extensive",
                                      "CODECARBON_TELEMETRY_ENDPOINT": url + "/telemetry"},
            "telemetry (first tracked cell): DeliveryError"),
]

MISBEHAVIOURS: dict[str, Reply | None] = {
    "refused": None,
    "slow 10 s": delay(10.0),
    "500": status(500, "internal error"),
    "garbage": GARBAGE,
    "huge 256 MiB": huge(256 << 20),
}


@pytest.mark.parametrize("misbehaviour", list(MISBEHAVIOURS))
@pytest.mark.parametrize("feature", FEATURES, ids=[f.name for f in FEATURES])
def test_online_feature_against_a_failing_server(feature, misbehaviour, open_notebook, figures, fresh_telemetry):
    """An online feature whose server refuses, takes 10 s, answers 500, garbage or a huge body:
    no tracked cell waits for it, every record is whole in the CSV files, and %carbon status
    shows the failure within 8 s (before the slow server would have answered)."""
    reply = MISBEHAVIOURS[misbehaviour]
    figures.fault(f"{feature.name}: {misbehaviour}")
    server = LocalServer(default=reply) if reply is not None else None
    url = server.url if server else f"http://127.0.0.1:{closed_port()}"
    try:
        notebook = open_notebook(offline=feature.offline, **feature.environment(url))
        for index in range(CELLS):
            notebook.run(f"%%carbon --quiet\nimport time\ntime.sleep(0.05)\n{index} + 1", expect=index + 1)
        slowest_s = max(notebook.timings_s)
        assert slowest_s < CELL_BUDGET_S, f"a tracked cell waited {slowest_s:.2f} s for {feature.name}"
        notebook.rows_are_whole()
        if misbehaviour.startswith("huge") and feature.unread_body:
            assert server.wait_for(lambda requests: len(requests) >= 1, SHOWN_WITHIN_S)
            return
        assert eventually(lambda: feature.shown in notebook.status(), SHOWN_WITHIN_S, step_s=0.1), notebook.status()
    finally:
        if server:
            server.close()
