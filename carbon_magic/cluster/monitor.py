"""The kernel's end: the runtime's ``core.remote.RemoteMeter`` over every cluster backend in use.

At a tracked window's start, ``begin`` (on the cell's thread: a few checks, no round trip)
finds the backends whose cluster the kernel uses and asks for the hosts' readings on a
background thread; at its end, ``ClusterRun.finish`` asks again and hands the window's
``ClusterPart`` to the tracker within ``cluster_timeout_secs`` of the end, whatever the
cluster does (a host that has not answered by then is named as missing, and so is a host that
answered the request before and is no longer listed: ``GONE_WHY``). The first reading of
a new cluster also starts its host agents (``ClusterBackend.ensure_agents``).
Live views call ``so_far``: the part up to the latest answers, with a new request sent when
none is in flight, so the hosts are polled at the views' pace and the cell never waits.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Mapping

from ..core.config import Config
from ..core.problems import problems
from ..core.remote import RemotePart
from .backend import ClusterBackend, present_backends
from .footprint import ClusterPart
from .host_agent import host_id
from .reading import HostAnswer, HostMissing, HostReading, unknown_host
from .window import cluster_window

Answers = Mapping[str, HostAnswer]
# Why a host that answered the request before is missing from this one: its cluster no longer
# lists it (a worker killed or retired). Its part since then, if any, cannot be counted; it is
# named in the window it went missing in (at the start of the next cell when it left between cells).
GONE_WHY = ("answered the reading before this one, not this one: it left the cluster or died "
            "(its part since is not counted)")
# Background requests at once: the start, the end and a live poll of one window, plus one.
REQUEST_THREADS = 4
# The share of cluster_timeout_secs a backend may wait for its hosts; the rest is left for the
# request's own overhead (threads, the client's event loop), so that a slow host is named as
# such and the others' answers are used.
ASK_SHARE = 0.75


class ClusterMonitor:
    """Backends made on first use, the requests' threads and the latest answers (``%carbon status``)."""

    def __init__(self, kernel_host: str | None = None) -> None:
        self.kernel_host = kernel_host or host_id()
        self._made: dict[str, ClusterBackend] = {}
        self._executor = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="carbon_magic-cluster")
        self._lock = threading.Lock()
        self._latest: dict[str, HostAnswer] = {}
        self._latest_backends: tuple[str, ...] = ()

    def active_backends(self) -> list[ClusterBackend]:
        """The backends whose cluster the kernel uses now (a failing check counts as not in use)."""
        active = []
        for backend in present_backends(self._made):
            try:
                if backend.active():
                    active.append(backend)
            except Exception as error:
                problems.note(f"cluster {backend.name} check", error)
        return active

    def begin(self, config: Config) -> ClusterRun | None:
        """A ``RemoteWindow`` starting now, or None (no cluster in use, ``measure_cluster`` off)."""
        if not config["measure_cluster"]:
            return None
        backends = self.active_backends()
        if not backends:
            return None
        return ClusterRun(self, backends, config)

    def request(self, backends: list[ClusterBackend], timeout_s: float, known: Answers) -> Future[dict[str, HostAnswer]]:
        """The hosts' answers, read on a background thread (each backend bounded by ``timeout_s``)."""
        return self._executor.submit(self._read, backends, timeout_s, known)

    def _read(self, backends: list[ClusterBackend], timeout_s: float, known: Answers) -> dict[str, HostAnswer]:
        answers: dict[str, HostAnswer] = {}
        for backend in backends:
            try:
                backend.ensure_agents()
                answers.update(backend.read_hosts(timeout_s))
            except Exception as error:  # a cluster closed or unreachable: its hosts are missing
                problems.note(f"cluster {backend.name} reading", error)
                why = f"{backend.name} cluster unreachable ({type(error).__name__}: {error})"
                gone = {host: HostMissing(host, why) for host in known if host not in answers}
                cluster = unknown_host(f"{backend.name} cluster")  # hosts never heard of: the cluster stands for them
                answers.update(gone or {cluster: HostMissing(cluster, why)})
        for host, answer in known.items():  # measured then, not listed now: named once, not dropped unseen
            if host not in answers and isinstance(answer, HostReading):
                answers[host] = HostMissing(host, GONE_WHY)
        with self._lock:
            self._latest = answers
            self._latest_backends = tuple(backend.name for backend in backends)
        return answers

    def latest(self) -> tuple[tuple[str, ...], dict[str, HostAnswer]]:
        """The backends and hosts of the latest request (what ``%carbon status`` lists)."""
        with self._lock:
            return self._latest_backends, dict(self._latest)

    def status(self, timeout_s: float) -> list[str]:
        """``%carbon status``'s lines: each host of the clusters in use, read now (at most
        ``timeout_s``): measured, or missing and why; the kernel's own host says who measures it."""
        backends = self.active_backends()
        if not backends:
            return ["no Dask client or Ray cluster in use (every tracked cell measures one when there is)"]
        _names, known = self.latest()
        try:
            answers = self.request(backends, timeout_s * ASK_SHARE, known).result(timeout=timeout_s)
        except (FutureTimeout, CancelledError):
            answers = {host: HostMissing(host, f"no answer within {timeout_s:g} s") for host in known}
        lines = [f"{', '.join(backend.name for backend in backends)}: {len(answers)} host(s)"]
        for host, answer in sorted(answers.items()):
            if host == self.kernel_host:
                lines.append(f"{host}: the kernel's own machine (measured by the kernel's sampler, not twice)")
            elif isinstance(answer, HostMissing):
                lines.append(f"{host}: missing ({answer.reason})")
            else:
                where = answer.location.country_name or answer.location.country_iso_code or "location unknown"
                lines.append(f"{host} ({answer.hostname}, {where}): measured, {len(answer.worker_cpu_s)} worker "
                             f"process(es), sampler generation {answer.generation}")
        return lines

    def close(self) -> None:
        """No more requests (threads end once the running ones return); backends forget their cluster."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        for backend in self._made.values():
            try:
                backend.close()
            except Exception as error:
                problems.note(f"cluster {backend.name} close", error)


class ClusterRun:
    """One window's cluster side (a ``core.remote.RemoteWindow``)."""

    def __init__(self, monitor: ClusterMonitor, backends: list[ClusterBackend], config: Config):
        self.timeout_s: float = config["cluster_timeout_secs"]
        self._ask_s = self.timeout_s * ASK_SHARE
        self._monitor = monitor
        self._backends = backends
        self._process_mode = config["tracking_mode"] == "process"
        self._forced = config["force_carbon_intensity_g_co2e_kwh"]
        self._forced_from = config.source("force_carbon_intensity_g_co2e_kwh")
        self._start_time_s = time.time()
        _names, known = monitor.latest()
        self._start = monitor.request(backends, self._ask_s, known)
        self._live: Future[dict[str, HostAnswer]] | None = None
        self._live_part: ClusterPart | None = None

    def _part(self, start: Answers, end: Answers) -> ClusterPart:
        window = cluster_window(start, end, kernel_host=self._monitor.kernel_host, start_time_s=self._start_time_s,
                                process_mode=self._process_mode)
        return ClusterPart(window, self._forced, self._forced_from)

    def so_far(self) -> RemotePart | None:
        """The part up to the latest live answers (None before the first); asks for newer ones."""
        live = self._live
        if self._start.done() and (live is None or live.done()):
            if live is not None:
                self._live_part = self._part(self._start_answers(0.0), self._answers(live, 0.0))
            self._live = self._monitor.request(self._backends, self._ask_s, self._start_answers(0.0))
        return self._live_part

    def finish(self, done: Callable[[RemotePart | None], None]) -> None:
        """The end answers now; ``done(part)`` on a thread of its own within ``timeout_s``."""
        deadline = time.monotonic() + self.timeout_s
        known = self._start_answers(0.0) or self._monitor.latest()[1]  # hosts to name if the cluster is gone
        end = self._monitor.request(self._backends, self._ask_s, known)
        waiter = threading.Thread(target=self._complete, args=(end, deadline, done), name="carbon_magic-cluster-end",
                                  daemon=True)
        waiter.start()

    def _complete(self, end: Future[dict[str, HostAnswer]], deadline: float,
                  done: Callable[[RemotePart | None], None]) -> None:
        start = self._start_answers(max(deadline - time.monotonic(), 0.0))
        if end.done() or _finished_by(end, deadline):
            end_answers = self._answers(end, 0.0)
        else:  # the cluster did not answer in time: every host seen at the start is missing
            why = f"no answer within cluster_timeout_secs={self.timeout_s:g} s"
            end_answers = {host: HostMissing(host, why) for host in start}
        done(self._part(start, end_answers))

    def _start_answers(self, wait_s: float) -> dict[str, HostAnswer]:
        return self._answers(self._start, wait_s)

    def _answers(self, request: Future[dict[str, HostAnswer]], wait_s: float) -> dict[str, HostAnswer]:
        """A request's answers, or {} when it has none within ``wait_s`` (its hosts then count
        as missing: a window's rules name every host of the other side)."""
        try:
            return request.result(timeout=wait_s)
        except (FutureTimeout, CancelledError):
            return {}
        except Exception as error:  # _read catches the backends' errors; this is the executor's
            problems.note("cluster reading", error)
            return {}


def _finished_by(request: Future[dict[str, HostAnswer]], deadline: float) -> bool:
    """Whether ``request`` completes before ``deadline`` (time.monotonic)."""
    try:
        request.exception(timeout=max(deadline - time.monotonic(), 0.0))
    except (FutureTimeout, CancelledError):
        return False
    return True
