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
import concurrent.futures
import threading
import time
from concurrent.futures import Future as ConcurrentFuture
from typing import Any

from .host_agent import DEFAULT_INTERVAL_S
from .reading import UNKNOWN_HOST_PREFIX, HostAnswer, HostMissing, HostReading, by_host, unknown_host


# A worker's failed call is asked again after this pause, while this much time is left.
RETRY_PAUSE_S = 0.02
RETRY_MIN_S = 0.05


class DaskBackend:
    """A ``ClusterBackend`` for dask.distributed."""

    name = "dask"

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S):
        self.interval_s = interval_s
        self._registered: set[str] = set()  # scheduler addresses whose workers run the plugin
        self._host_of: dict[str, str] = {}  # worker address -> host id, from earlier answers
        self._registering = threading.Lock()  # a window's start and end may both ask at first

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

        with self._registering:
            if scheduler in self._registered:
                return
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
        results = _ask_all(client, workers, timeout_s)
        problems: list[HostAnswer] = []  # first: a host's reason to be missing beats "not its sampler"
        answers: list[HostAnswer] = []
        for address, result in zip(workers, results):
            known = self._host_of.get(address, unknown_host(address))
            if isinstance(result, (HostReading, HostMissing)) and not result.host_id.startswith(UNKNOWN_HOST_PREFIX):
                self._host_of[address] = result.host_id
                answers.append(result)
            elif isinstance(result, HostMissing):  # the plugin does not run on that worker
                problems.append(HostMissing(known, result.reason))
            elif isinstance(result, asyncio.TimeoutError):
                problems.append(HostMissing(known, f"worker {address}: no answer within {timeout_s:g} s"))
            elif client.status != "running":  # closed by the user while this call was out
                problems.append(HostMissing(known, f"worker {address}: the Dask client closed before it answered"))
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


def _ask_all(client: Any, workers: list[str], timeout_s: float) -> list[object]:
    """Each worker's answer (or the exception or timeout in its place), all asked at once on the
    client's event loop, each call a task of its own: distributed cancels a call whose
    connection closes (a worker dying), and that must cost only that call. A failed call is
    asked again while time is left: the scheduler's connections are shared, and a worker dying
    in the same instant can close the one another worker's call was using."""
    from .dask_worker import host_answer

    loop = client.loop.asyncio_loop
    deadline = time.monotonic() + timeout_s

    def submit(address: str) -> ConcurrentFuture:
        call = client._run(host_answer, workers=[address], on_error="return")
        try:
            return asyncio.run_coroutine_threadsafe(call, loop)
        except RuntimeError as error:  # the client closed meanwhile (its event loop too)
            call.close()  # never to run
            failed: ConcurrentFuture = ConcurrentFuture()
            failed.set_exception(error)
            return failed

    calls = {address: submit(address) for address in workers}
    answers: dict[str, object] = {}
    while calls:
        done, _pending = concurrent.futures.wait(calls.values(), timeout=max(deadline - time.monotonic(), 0.0),
                                                 return_when=concurrent.futures.FIRST_COMPLETED)
        if not done:
            break
        for address, call in list(calls.items()):
            if not call.done():
                continue
            del calls[address]
            answer = _answer_of(call, address)
            if isinstance(answer, BaseException) and deadline - time.monotonic() > RETRY_MIN_S and not loop.is_closed():
                time.sleep(RETRY_PAUSE_S)
                calls[address] = submit(address)
            else:
                answers[address] = answer
    for address, call in calls.items():
        call.cancel()
        answers[address] = asyncio.TimeoutError()
    return [answers[address] for address in workers]


def _answer_of(call: ConcurrentFuture, address: str) -> object:
    """A finished call's answer for ``address``, or the exception (or cancellation) in its place."""
    if call.cancelled():
        return asyncio.CancelledError()
    error = call.exception()
    if error is not None:
        return error
    return call.result().get(address, KeyError(address))
