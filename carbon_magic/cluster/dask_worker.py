"""What Dask runs on its workers: the worker plugin that starts a ``HostAgent``, and the
function the kernel runs on each worker to get its host's reading.

This module is imported on the workers (the plugin is pickled by reference to it): it imports
``distributed`` and the host agent only.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .host_agent import DEFAULT_INTERVAL_S, HostAgent
from .reading import HostMissing, HostReading, unknown_host

PLUGIN_NAME = "carbon_magic-host-agent"


class HostAgentPlugin(WorkerPlugin):
    """Registered through the client, so workers that join later run it too."""

    name = PLUGIN_NAME
    idempotent = True  # a second kernel using the cluster keeps the agents that run

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S):
        self.interval_s = interval_s
        self.agent: HostAgent | None = None

    def setup(self, worker: Any) -> None:
        self.agent = HostAgent(self.interval_s)

    def teardown(self, worker: Any) -> None:
        agent, self.agent = self.agent, None
        if agent is not None:
            agent.close()


def host_answer(dask_worker: Any) -> HostReading | HostMissing:
    """Run on a worker by ``Client.run``: its host's reading, or why it has none."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    agent = getattr(plugin, "agent", None)
    if agent is None:
        return HostMissing(unknown_host(dask_worker.address), "carbon_magic's worker plugin is not running there")
    return agent.answer()
