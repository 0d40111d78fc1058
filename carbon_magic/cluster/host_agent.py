"""What runs on a cluster worker: one sampler per host, whatever the number of worker processes.

Every worker process of a host makes a ``HostAgent``. The host is named by
``CARBON_MAGIC_HOST_ID`` when set (tests give processes of one machine distinct hosts that
way), else by the machine's id (``/etc/machine-id``), else its host name. The agents of one
host elect a leader through an exclusive ``flock`` on a file in a per-user, per-host folder:
the leader runs carbon_magic's normal sampler (``core.sampler``, machine mode, the worker's
own ``CODECARBON_*`` settings and location) and answers ``reading()``; the others answer
None and try the lock again every ``TAKEOVER_POLL_S``. The OS drops the lock when the leader
dies, so another agent takes over, with a new ``generation`` (its totals start again at 0,
and readers see the reset).

Each agent also leaves its process id in the folder, so the leader can give each worker's
CPU seconds (``tracking_mode="process"``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

from ..core.config import Config, resolve_config
from ..core.file_lock import lock, unlock
from ..core.location import LocationService
from ..core.meters import HardwareSpec
from ..core.sampler import Lease, Sampler, SamplerRegistry
from .reading import HostMissing, HostReading

logger = logging.getLogger("carbon_magic")

HOST_ID_ENV = "CARBON_MAGIC_HOST_ID"
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
# How often an agent that is not the leader tries to take the lock over (a dead leader's
# host is unmeasured at most this long).
TAKEOVER_POLL_S = 0.5
# The default background interval of a host's sampler: CodeCarbon's measure_power_secs.
DEFAULT_INTERVAL_S = 15.0
_UNSAFE = re.compile(r"[^\w.\-]+")


def host_id() -> str:
    """This process's host: ``CARBON_MAGIC_HOST_ID``, else the machine id, else the host name."""
    given = os.environ.get(HOST_ID_ENV, "").strip()
    if given:
        return given
    for path in MACHINE_ID_FILES:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return socket.gethostname()


def host_folder(host: str) -> Path:
    """The per-user folder of ``host``'s agents (made private to the user on first use)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(), f"carbon_magic-{os.getuid()}")
    folder = Path(base) / "carbon_magic-hosts" / _UNSAFE.sub("_", host)[:100]
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / "workers").mkdir(exist_ok=True, mode=0o700)
    return folder


class _Leadership:
    """The leader's sampler, its interval lease and its location service."""

    def __init__(self, generation: str, interval_s: float, config: Config):
        self.generation = generation
        self.config = config
        self.samplers = SamplerRegistry()
        self.sampler: Sampler = self.samplers.get(HardwareSpec.from_config(config))
        self.started_s = self.sampler.started_wall
        self.lease: Lease = self.sampler.request_interval(interval_s)
        self.location = LocationService(self.samplers.any_running)
        self.location.current(config)  # starts resolving this host's location in the background

    def close(self) -> None:
        self.lease.release()
        self.samplers.close()
        self.location.close()


class HostAgent:
    """One worker process's part in measuring its host (see the module docstring)."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S, host: str | None = None):
        self.host_id = host or host_id()
        self.hostname = socket.gethostname()
        self.interval_s = interval_s
        self.folder = host_folder(self.host_id)
        self._pid = os.getpid()
        self._pid_file = self.folder / "workers" / str(self._pid)
        self._pid_file.write_text(str(time.time()))
        self._lock_fd = os.open(self.folder / "leader.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._state_lock = threading.Lock()
        self._leader: _Leadership | None = None
        self._closed = threading.Event()
        self._processes: dict[int, object] = {}  # pid -> psutil.Process (its CPU times)
        if not self._try_lead():
            self._watcher = threading.Thread(target=self._watch, name="carbon_magic-host-agent", daemon=True)
            self._watcher.start()

    @property
    def is_leader(self) -> bool:
        return self._leader is not None

    @property
    def generation(self) -> str | None:
        leader = self._leader
        return leader.generation if leader else None

    def _try_lead(self) -> bool:
        try:
            lock(self._lock_fd, wait=False)
        except OSError:
            return False
        with self._state_lock:
            if self._closed.is_set():
                unlock(self._lock_fd)
                return True
            generation = self._next_generation()
            try:
                self._leader = _Leadership(generation, self.interval_s, resolve_config())
            except Exception:
                unlock(self._lock_fd)  # another agent may do better; this one stays a follower
                raise
        logger.debug("carbon_magic: host %s measured by process %d (generation %s)", self.host_id, self._pid, generation)
        return True

    def _next_generation(self) -> str:
        """A new generation for this host (called with the leader's lock held)."""
        path = self.folder / "generation"
        try:
            number = int(path.read_text().split()[0]) + 1
        except (OSError, ValueError, IndexError):
            number = 1
        path.write_text(f"{number}\n")
        return f"{number}.{self._pid}"

    def _watch(self) -> None:
        """A follower: take over when the leader's lock is free."""
        while not self._closed.wait(TAKEOVER_POLL_S):
            try:
                if self._try_lead():
                    return
            except Exception as error:  # a sampler that cannot start: keep following
                logger.warning("carbon_magic: host agent could not take over measuring %s: %s", self.host_id, error)

    def answer(self) -> HostReading | HostMissing:
        """The host's reading if this process leads it, else why it has none."""
        reading = self.reading()
        if reading is None:
            return HostMissing(self.host_id, f"worker process {self._pid} is not this host's sampler")
        return reading

    def reading(self) -> HostReading | None:
        """The host's cumulative totals now (None unless this process is the host's leader)."""
        leader = self._leader
        if leader is None:
            return None
        reading = leader.sampler.read()
        location, _intensity = leader.location.current(leader.config)
        return HostReading(
            host_id=self.host_id,
            hostname=self.hostname,
            generation=leader.generation,
            time_s=reading.t_wall,
            started_s=leader.started_s,
            energy_j=dict(reading.energy_j),
            measured=reading.measured,
            bands=leader.sampler.bands(),
            machine_busy_s=reading.machine_busy_s - leader.sampler.first_reading.machine_busy_s,
            worker_cpu_s=self._worker_cpu_s(),
            location=location,
        )

    def _worker_cpu_s(self) -> dict[int, float]:
        """Cumulative CPU seconds of each live worker process of this host (dead ones forgotten)."""
        import psutil

        result = {}
        for path in (self.folder / "workers").iterdir():
            try:
                pid = int(path.name)
            except ValueError:
                continue
            process = self._processes.get(pid)
            try:
                if process is None:
                    process = self._processes[pid] = psutil.Process(pid)
                times = process.cpu_times()  # type: ignore[attr-defined]
            except psutil.Error:
                self._processes.pop(pid, None)
                path.unlink(missing_ok=True)
                continue
            result[pid] = times.user + times.system
        return result

    def close(self) -> None:
        """Stop measuring (a worker closing): the lock goes to another agent of the host."""
        with self._state_lock:
            self._closed.set()
            leader, self._leader = self._leader, None
        if leader is not None:
            leader.close()
        self._pid_file.unlink(missing_ok=True)
        os.close(self._lock_fd)  # closing the descriptor drops the lock
