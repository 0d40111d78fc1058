"""The Dask backend: the default ``distributed.Client`` of the kernel, its workers' hosts.

``ensure_agents`` registers ``dask_worker.HostAgentPlugin`` through the client once per
scheduler (``Client.register_plugin``, or ``register_worker_plugin`` before distributed
2023.9): the scheduler keeps it and gives it to workers that join later. ``read_hosts`` runs
``dask_worker.host_answer`` on every worker at once, each call bounded by the timeout, so a
worker that hangs or died costs only its own host; the answers are merged per host (one
leader per host answers, the other workers say they are not its sampler).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .host_agent import DEFAULT_INTERVAL_S
from .reading import HostAnswer, HostMissing, HostReading, by_host


class DaskBackend:
    """A ``ClusterBackend`` for dask.distributed."""

    name = "dask"

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S):
        self.interval_s = interval_s
        self._registered: set[str] = set()  # scheduler addresses whose workers run the plugin
        self._host_of: dict[str, str] = {}  # worker address -> host id, from earlier answers

    @staticmethod
    def _client() -> Any:
        """The kernel's default client (ValueError when there is none)."""
        from distributed import default_client

        return default_client()

    def active(self) -> bool:
        try:
            client = self._client()
        except ValueError:
            return False
        return client.status == "running"

    def ensure_agents(self) -> None:
        client = self._client()
        scheduler = client.scheduler.address
        if scheduler in self._registered:
            return
        from .dask_worker import PLUGIN_NAME, HostAgentPlugin

        plugin = HostAgentPlugin(self.interval_s)
        register = getattr(client, "register_plugin", None)
        if register is not None:
            register(plugin, name=PLUGIN_NAME)
        else:  # distributed before 2023.9
            client.register_worker_plugin(plugin, name=PLUGIN_NAME)
        self._registered.add(scheduler)

    def read_hosts(self, timeout_s: float) -> dict[str, HostAnswer]:
        client = self._client()
        workers = list(_workers(client))
        if not workers:
            return {}
        results = client.sync(_ask_all, client, workers, timeout_s, callback_timeout=timeout_s + 1.0)
        problems: list[HostAnswer] = []  # first: a host's reason to be missing beats "not its sampler"
        answers: list[HostAnswer] = []
        for address, result in zip(workers, results):
            known = self._host_of.get(address, f"worker {address}")
            if isinstance(result, (HostReading, HostMissing)) and not result.host_id.startswith("worker "):
                self._host_of[address] = result.host_id
                answers.append(result)
            elif isinstance(result, HostMissing):  # the plugin does not run on that worker
                problems.append(HostMissing(known, result.reason))
            elif isinstance(result, asyncio.TimeoutError):
                problems.append(HostMissing(known, f"worker {address}: no answer within {timeout_s:g} s"))
            else:
                problems.append(HostMissing(known, f"worker {address} failed ({type(result).__name__}: {result})"))
        return by_host(problems + answers)

    def close(self) -> None:
        self._registered.clear()
        self._host_of.clear()


def _workers(client: Any) -> list[str]:
    """The addresses of the client's workers, as the client last heard them from the scheduler."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # distributed before 2025.4 lists every worker without the argument
        info = client.scheduler_info()
    return list(info.get("workers", {}))


async def _ask_all(client: Any, workers: list[str], timeout_s: float) -> list[object]:
    """Each worker's answer (or the exception or timeout in its place), all asked at once."""
    from .dask_worker import host_answer

    async def ask(address: str) -> object:
        try:
            result = await asyncio.wait_for(
                client._run(host_answer, workers=[address], on_error="return"), timeout_s
            )
        except BaseException as error:  # noqa: BLE001 - timeouts and a worker gone are answers here
            if isinstance(error, asyncio.CancelledError):
                raise
            return error
        return result.get(address, KeyError(address))

    return list(await asyncio.gather(*(ask(address) for address in workers)))
