"""Trackers: windows over the shared ledger, turned into CodeCarbon-shaped records.

A tracker is two readings and its options; it never touches hardware. Starting and stopping
costs two ``sampler.read()`` calls and a record. Any number of trackers and tasks may be
active at once, and a stopped tracker can be started again (each start is a new run_id).
Outputs are reached through an OutputSink (built above core, in ``carbon_magic.outputs``).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import uuid
from collections import Counter
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Callable, Protocol

from .config import Config, ConfigError
from .footprint import EmbodiedBasis, Footprint, WaterBasis, embodied_basis, water_basis
from .ledger import Reading, Window, kind_of
from .forks import ForkGuard
from .location import Intensity, Location, LocationService
from .lock import MachineLock
from .logs import configure_logger
from .meters import HardwareSpec
from .meters.gpu import select_gpus
from .problems import problems
from .record import EmissionsData, RunInfo, build_record, delta
from .remote import RemoteMeter, RemotePart, RemoteWindow
from .sampler import Lease, Sampler, SamplerRegistry, Subscription
from .sampler import settler
from .sync import synchronize_frameworks

logger = logging.getLogger("carbon_magic")
# stop(wait=True) waits for a pending location this much longer than its requests may take.
LOCATION_WAIT_MARGIN_S = 0.5


# How trackers were started in this process: "direct", "context_manager", "decorator",
# "magic" (the IPython extension), and "task" for each start_task(). Local statistics that
# telemetry reports when the user opted in; a dict update per start.
starts_by_usage: Counter[str] = Counter()


class RunIds:
    """Random (version 4) UUIDs from a generator of their own, seeded from the system's entropy
    once (and again in a forked child, found by its process id: no fork hook): the user's
    ``random.seed()`` neither changes nor repeats them, and they never advance the user's random
    numbers. No system entropy call per id (os.urandom costs microseconds); run ids are labels,
    not secrets."""

    def __init__(self) -> None:
        self._random = random.Random()
        self._pid = os.getpid()

    def new(self) -> str:
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._random.seed()
        # str(uuid.UUID(int=bits, version=4)), written directly (a third of the cost)
        text = "%032x" % ((self._random.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET)
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# The variant (RFC 4122) and version (4) bits of a version 4 UUID, as uuid.UUID(version=4) sets them.
_UUID4_CLEAR = ~(0xC000 << 48) & ~(0xF000 << 64)
_UUID4_SET = (0x8000 << 48) | (4 << 76)


_run_ids = RunIds()


def new_run_id() -> str:
    """A fresh run id (see RunIds)."""
    return _run_ids.new()


class OutputSink(Protocol):
    """Where records go. All methods must return at once (outputs queue their work)."""

    def out(self, total: EmissionsData, delta: EmissionsData) -> None: ...
    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None: ...
    def task_out(self, tasks: list[EmissionsData], experiment_name: str) -> None: ...
    def cell_out(self, record: EmissionsData, label: str, experiment_name: str) -> None: ...
    def exit(self) -> None: ...
    wants_live: bool
    def wait(self, timeout_s: float) -> bool: ...


@dataclass
class _Run:
    run_id: str
    start: Reading
    lease: Lease
    last_out: EmissionsData | None = None
    live: Subscription | None = None
    last_live_t: float = 0.0
    remote: RemoteWindow | None = None  # the cluster's side of the window


@dataclass
class _Task:
    name: str
    start: Reading
    remote: RemoteWindow | None = None  # the cluster's side of the task, as a run's
    end: Reading | None = None
    part: "Future[RemotePart | None] | None" = None  # its cluster part, once asked for at its end

    def remote_part(self, wait_s: float = 0.0) -> RemotePart | None:
        """The task's cluster part when it has arrived within ``wait_s`` (None: no cluster, or not yet)."""
        if self.part is None:
            return None
        try:
            return self.part.result(timeout=wait_s)
        except FutureTimeout:
            return None


class _FinalJoin:
    """Calls ``finalise(settled readings, the run's remote part)`` once the readings are settled
    and the ``remotes`` remote parts awaited (the run's, its tasks') have all arrived, from
    whichever thread brings the last one."""

    def __init__(self, finalise: Callable[[tuple[Reading, ...], RemotePart | None], None], *, remotes: int):
        self._finalise = finalise
        self._lock = threading.Lock()
        self._settled: tuple[Reading, ...] | None = None
        self._remote: RemotePart | None = None
        self._waiting = remotes

    def settled(self, readings: tuple[Reading, ...]) -> None:
        with self._lock:
            self._settled = readings
            ready = self._waiting == 0
        if ready:
            self._finalise(readings, self._remote)

    def remote_done(self, part: RemotePart | None) -> None:
        """The run's remote part."""
        with self._lock:
            self._remote = part
        self.one_done()

    def one_done(self) -> None:
        """One awaited remote part arrived."""
        with self._lock:
            self._waiting -= 1
            settled = self._settled if self._waiting == 0 else None
        if settled is not None:
            self._finalise(settled, self._remote)


class _Finished:
    """Whether a run's final record is out; an Event to wait on only for a caller that waits
    (``stop(wait=True)``): the magics' cells, which never wait, make no Event per cell."""

    __slots__ = ("_done", "_event")

    def __init__(self, waitable: bool):
        self._done = False
        self._event = threading.Event() if waitable else None

    def set(self) -> None:
        self._done = True
        if self._event is not None:
            self._event.set()

    def is_set(self) -> bool:
        return self._done

    def wait(self, timeout_s: float) -> bool:
        assert self._event is not None, "made without an Event: stop(wait=False)"
        return self._event.wait(timeout_s)


@dataclass(frozen=True)
class Ending:
    """A window whose end is read (``Tracker.end``) and whose record is not yet made
    (``Tracker.finish``): its run, end reading, finished tasks and the cluster's part (asked
    for at the end; None without a cluster)."""

    run: _Run
    end: Reading
    tasks: list[_Task]
    remote_part: "Future[RemotePart | None] | None" = None


class Tracker:
    """Measures windows between ``start()`` and ``stop()`` (and tasks inside them)."""

    def __init__(self, config: Config, sink: OutputSink | None = None, *, samplers: SamplerRegistry,
                 location: LocationService, usage: str = "direct", forks: ForkGuard | None = None,
                 remote: RemoteMeter | None = None):
        """``samplers``: where the shared sampler of ``config``'s hardware options comes from;
        ``location``: the location service (both the runtime's). ``remote``: the other machines
        a window also measures (the runtime's cluster monitor; ``core.remote``). ``forks``: what releases the
        machine-wide lock (``allow_multiple_runs=False``) in a forked child;
        ``carbon_magic.trackers`` and the extension give the runtime's. Without one, a child
        forked while the lock is held keeps it until the child exits."""
        self.config = config
        self.usage = usage
        self._location_service = location
        configure_logger(config["log_level"], config["logger_preamble"])
        self._sink = sink
        self._remote = remote
        self._process_mode = config["tracking_mode"] == "process"  # asked at every boundary
        self._sampler: Sampler = samplers.get(HardwareSpec.from_config(config))
        self._components, self._gpu_names = self._select_components()
        self._location, self._intensity = self._locate()
        self._water: tuple[Location, WaterBasis] | None = None
        self._embodied: EmbodiedBasis | None = None
        self._footprint: Footprint | None = None  # of _water and _embodied (footprint())
        self._lock = threading.RLock()
        self._run: _Run | None = None
        self._tasks: dict[str, _Task] = {}
        self._finished_tasks: list[_Task] = []
        self.sync_s = 0.0  # time spent waiting for GPU frameworks: the cells' own time
        self._machine_lock = None if config["allow_multiple_runs"] else MachineLock(forks or ForkGuard())
        self.final_emissions_data: EmissionsData | None = None
        self.final_emissions: float | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _select_components(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        gpus = self._sampler.gpus
        try:
            chosen, _source = select_gpus(self.config["gpu_ids"], gpus)
        except ValueError as error:
            if not gpus:  # nothing to validate against: say so, track CPU and RAM
                logger.warning("carbon_magic: %s Tracking without GPUs.", error)
                chosen = []
            else:
                raise ConfigError(f"{error} (from {self.config.source('gpu_ids')})", name="gpu_ids") from None
        components = self._sampler.non_gpu_components() + tuple(g.component for g in chosen)
        return components, tuple(g.name for g in chosen)

    def _locate(self) -> tuple[Location, Intensity]:
        """The best location and intensity known now (microseconds; see core.location)."""
        location, intensity = self._location_service.current(self.config)
        if intensity.signal is not None:
            self._sampler.weigh_by(intensity.signal)
        return location, intensity

    def footprint(self) -> Footprint:
        """Water per kWh at the current location (resolved once per location) and embodied rates
        (once per tracker; None when the ``embodied`` parameter is off or the machine cannot be described).
        The same Footprint while neither changes: a record asks at every cell."""
        location, water = self._location, self._water
        if water is None or (water[0] is not location and water[0] != location):
            water = self._water = (location, water_basis(location, self.config, self.config.source("wue") != "default"))
            self._footprint = None
        if self._embodied is None and self.config["embodied"]:
            gpus = dict(zip((c for c in self._components if kind_of(c) == "gpu"), self._gpu_names))
            try:
                self._embodied = embodied_basis(self._sampler.facts, self._sampler.guest, gpus,
                                                self.config["embodied_lifetime_years"], self._sampler.disks)
                self._footprint = None
            except ValueError as error:  # facts a machine reported oddly: no embodied figure, tracking goes on
                problems.note("embodied emissions", error)
        if self._footprint is None:
            self._footprint = Footprint(water[1], self._embodied if self.config["embodied"] else None)
        return self._footprint

    @property
    def sampler(self) -> Sampler:
        return self._sampler

    @property
    def sink(self) -> OutputSink | None:
        """Where this tracker's records go (None: nowhere)."""
        return self._sink

    @property
    def components(self) -> tuple[str, ...]:
        return self._components

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def run_id(self) -> str | None:
        run = self._run
        return run.run_id if run else None

    @property
    def start_reading(self) -> Reading | None:
        """The reading the running run started from (None when not running): live views
        measure ``window(start_reading, reading)`` with the record's own arithmetic."""
        run = self._run
        return run.start if run else None

    # -- runs -----------------------------------------------------------------------------
    def start(self) -> None:
        """Begin a run. Starting a running tracker does nothing (with a warning)."""
        with self._lock:
            if self._run is not None:
                logger.warning("carbon_magic: tracker already started; ignoring start().")
                return
            if self._machine_lock is not None and not self._machine_lock.acquire():
                logger.error(
                    "carbon_magic: another tracker holds %s (allow_multiple_runs=False); "
                    "this one will not track.", self._machine_lock.path,
                )
                return
            lease = self._sampler.request_interval(
                self.config["measure_power_secs"], process_tree=self._process_mode, watch_gpus=self._has_gpus
            )
            self._synchronise()
            self._run = _Run(run_id=new_run_id(), start=self._read(), lease=lease, remote=self._begin_remote())
            starts_by_usage[self.usage] += 1
            if self._sink is not None and getattr(self._sink, "wants_live", True):
                self._run.live = self._sampler.subscribe(self._on_tick)

    def _begin_remote(self) -> RemoteWindow | None:
        """The cluster's side of a window starting now (None: no cluster); never raises."""
        if self._remote is None:
            return None
        try:
            return self._remote.begin(self.config)
        except Exception as error:  # tracking the cluster must never stop tracking the cell
            problems.note("cluster measurement start", error)
            return None

    @property
    def _has_gpus(self) -> bool:
        return bool(self._gpu_names)

    def _synchronise(self) -> None:
        """Let queued GPU work finish before a boundary (its energy belongs to this side)."""
        if self._has_gpus and self.config["sync_frameworks"]:
            _names, seconds = synchronize_frameworks()
            self.sync_s += seconds

    def _read(self) -> Reading:
        """A boundary reading; in process mode the tree's live children are re-read first."""
        return self._sampler.read(refresh_tree=self._process_mode)

    def window(self, start: Reading, end: Reading) -> Window:
        return Window(start, end, self._components, self._process_mode)

    def record(self, window: Window, run_id: str, remote: RemotePart | None = None) -> EmissionsData:
        """The record of ``window`` with this tracker's location, intensity and options, plus
        the other machines' ``remote`` part when given."""
        self._location, self._intensity = self._locate()
        config = self.config
        run = RunInfo(config["project_name"], run_id, config["experiment_id"], config["tracking_mode"], config["pue"],
                      config["wue"], self._location, self._intensity, self._sampler.facts, self._gpu_names,
                      self._sampler.bands(), self.footprint())
        record = build_record(window, run)
        return record if remote is None else remote.apply(record, run)

    def current(self) -> EmissionsData | None:
        """The running total so far (None when not running)."""
        run = self._run
        if run is None:
            return None
        return self.record(self.window(run.start, self._read()), run.run_id, self.remote_so_far())

    def remote_so_far(self) -> RemotePart | None:
        """The running window's remote part up to the latest answers (live views; never waits)."""
        run = self._run
        return run.remote.so_far() if run is not None and run.remote is not None else None

    def flush(self) -> float | None:
        """Send the totals so far to the outputs without stopping; returns kg CO2eq."""
        with self._lock:
            run = self._run
            if run is None:
                logger.warning("carbon_magic: flush() on a tracker that is not running.")
                return None
            total = self.record(self.window(run.start, self._read()), run.run_id)
            self._emit_out(run, total)
            return total.emissions

    def stop(self, wait: bool = True, on_final: Callable[[EmissionsData], None] | None = None) -> float | None:
        """End the run; returns kg CO2eq (None if it was not running).

        GPU counters change only every ~100 ms: a record is final once the counters have been
        seen to change after both boundaries (about one update later). Until then
        ``final_emissions_data`` is provisional; the outputs get the final record only, and
        ``on_final(record)`` is called with it. ``wait`` (the default) blocks until the record
        is final and the outputs have written it (bounded), and first, once the window's end
        is read, for a location still being resolved (at most ``location_timeout_secs`` +
        LOCATION_WAIT_MARGIN_S; a record built without it says the location was pending);
        the magics pass False so a cell never waits.

        ``stop`` is ``end`` (the window's end reading) then ``finish`` (its record and outputs):
        the extension calls the two itself, so that in a kernel what can wait for the kernel's
        reply does (``carbon_magic.ipython.tail``).
        """
        ending = self.end()
        if ending is None:
            return None
        return self.finish(ending, wait, on_final)

    def end(self) -> "Ending | None":
        """The window's end: read it and end the run (the tracker can start again at once);
        None (with a warning) if it was not running. ``finish`` makes its record."""
        with self._lock:
            run = self._run
            if run is None:
                logger.warning("carbon_magic: stop() on a tracker that is not running.")
                return None
            self._synchronise()
            end = self._read()
            for name in list(self._tasks):
                self._finish_task(name, end)
            self._run = None
            run.lease.release()
            if run.live is not None:
                run.live.close()
            tasks, self._finished_tasks = self._finished_tasks, []
            if self._machine_lock is not None:
                self._machine_lock.release()
            remote_part: Future[RemotePart | None] | None = None
            if run.remote is not None:  # the cluster's end readings are asked for now, at the end
                remote_part = Future()
                self._finish_remote(run.remote, remote_part.set_result)
            return Ending(run, end, tasks, remote_part)

    def finish(self, ending: "Ending", wait: bool = True, on_final: Callable[[EmissionsData], None] | None = None,
               later: Callable[[Callable[[], None]], None] | None = None) -> float | None:
        """The record of an ended window (``end``) and its outputs; ``wait`` and ``on_final`` as
        for ``stop``. ``later``: where the outputs' calls of a record final at once go (called
        with one function, to run soon on this thread: the extension's tail), so the record is
        ready now and its rows are written when the caller chooses; a record finalised later,
        on another thread, goes to the outputs from there as always."""
        run, end, tasks = ending.run, ending.end, ending.tasks
        if not (wait or tasks or run.remote is not None or run.start.provisional or end.provisional):
            # a cell's window on this machine alone, final at once: no join to wait on (the path below
            # comes to this same call when nothing is provisional and nothing remote is awaited)
            self._finalise(run, tasks, (run.start, end), on_final, None, later)
            return self.final_emissions
        with self._lock:
            if wait:  # a script: build the record on the location, not on one still pending
                wait_s = self.config["location_timeout_secs"] + LOCATION_WAIT_MARGIN_S
                self._location_service.wait_for(self.config, wait_s)
            finished = _Finished(wait)
            caller = threading.get_ident()

            def finalise(settled: tuple[Reading, ...], remote: RemotePart | None) -> None:
                defer = later if threading.get_ident() == caller else None  # final at once, inside when_settled
                self._finalise(run, tasks, settled, on_final, remote, defer)
                finished.set()

            task_parts = [task.part for task in tasks if task.part is not None]
            join = _FinalJoin(finalise, remotes=(run.remote is not None) + len(task_parts))
            if ending.remote_part is not None:  # at once for a part already there
                ending.remote_part.add_done_callback(lambda part: join.remote_done(part.result()))
            for part in task_parts:  # at once for a part already there
                part.add_done_callback(lambda _part: join.one_done())
            readings = [run.start, end]
            for task in tasks:
                assert task.end is not None  # _finish_task sets it before it lists the task as finished
                readings += (task.start, task.end)
            self._sampler.when_settled(tuple(readings), join.settled)  # at once when nothing is provisional
            later = None  # from here on, a record finalised on this thread is a later one: outputs at once
            if not finished.is_set():  # provisional until the GPUs settle and the cluster answers
                record = self.record(self.window(run.start, end), run.run_id)
                self.final_emissions_data = record.replace(provisional=True) if run.remote is not None else record
                self.final_emissions = self.final_emissions_data.emissions
        if wait:
            remote_s = max([r.timeout_s for r in (run.remote, *(t.remote for t in tasks)) if r is not None], default=0.0)
            finished.wait(max(settler.SETTLE_TIMEOUT_S, remote_s) + 1.0)
            if self._sink is not None:
                self._sink.wait(timeout_s=10.0)
        return self.final_emissions

    @staticmethod
    def _finish_remote(remote: RemoteWindow, done: Callable[[RemotePart | None], None]) -> None:
        """Ask for the cluster's end readings; a failure finishes the window without them."""
        try:
            remote.finish(done)
        except Exception as error:
            problems.note("cluster measurement end", error)
            done(None)

    def _finalise(
        self, run: _Run, tasks: list[_Task], settled: tuple[Reading, ...],
        on_final: Callable[[EmissionsData], None] | None, remote: RemotePart | None = None,
        later: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        """The final records of a run and its tasks, from settled readings (and the cluster's
        part of the run), to the outputs (through ``later`` when given: see ``finish``)."""
        total = self.record(self.window(settled[0], settled[1]), run.run_id, remote)
        with self._lock:  # stop() may be setting the provisional record right now
            self.final_emissions_data = total
            self.final_emissions = total.emissions
        task_records = None
        if tasks and self._sink is not None:
            task_readings = settled[2:]
            task_records = [  # the join waited for every task's cluster part
                self._task_record(task, task_readings[2 * i], task_readings[2 * i + 1], run.run_id)
                for i, task in enumerate(tasks)
            ]
        if later is None:
            self._send_final(run, total, task_records)
        else:
            later(functools.partial(self._send_final, run, total, task_records))
        if on_final is not None:
            on_final(total)

    def _send_final(self, run: _Run, total: EmissionsData, task_records: list[EmissionsData] | None) -> None:
        """A run's final record, and its tasks', to the outputs."""
        self._emit_out(run, total)
        if task_records and self._sink is not None:
            self._sink.task_out(task_records, self.config["experiment_name"] or self.config["project_name"])

    def _emit_out(self, run: _Run, total: EmissionsData) -> None:
        if self._sink is not None:
            self._sink.out(total, delta(total, run.last_out))
        run.last_out = total

    def _on_tick(self, reading: Reading) -> None:
        """Sampler listener: live_out at this tracker's own measure_power_secs."""
        run, sink = self._run, self._sink
        # start() subscribes this listener only when there is a sink
        if run is None or sink is None or reading.t_mono - run.last_live_t < self.config["measure_power_secs"]:
            return
        run.last_live_t = reading.t_mono
        total = self.record(self.window(run.start, reading), run.run_id)
        sink.live_out(total, delta(total, run.last_out))

    # -- tasks ----------------------------------------------------------------------------
    def start_task(self, task_name: str | None = None) -> str:
        """Start a named task inside the run (starting the run if needed); returns its name."""
        with self._lock:
            if self._run is None:
                self.start()
            name = task_name or f"task_{uuid.uuid4().hex[:8]}"
            if name in self._tasks:
                raise ValueError(f"task {name!r} is already running; give another name")
            self._tasks[name] = _Task(name, self._read(), self._begin_remote())
            starts_by_usage["task"] += 1
            return name

    def stop_task(self, task_name: str | None = None) -> EmissionsData:
        """Stop a task (the latest started if no name); returns its record, with the cluster's
        part when a cluster is measured (waiting for its hosts at most ``cluster_timeout_secs``)."""
        with self._lock:
            if not self._tasks:
                raise ValueError("no task is running")
            name = task_name if task_name is not None else next(reversed(self._tasks))
            if name not in self._tasks:
                raise ValueError(f"no running task named {name!r}; running: {', '.join(self._tasks)}")
            task = self._finish_task(name, self._read())
            run_id = self._run.run_id if self._run else new_run_id()
        assert task.end is not None  # _finish_task sets it
        wait_s = task.remote.timeout_s + 1.0 if task.remote is not None else 0.0  # its finish calls back within timeout_s
        task.remote_part(wait_s)
        return self._task_record(task, task.start, task.end, run_id)

    def _finish_task(self, name: str, end: Reading) -> _Task:
        """End a task at ``end`` and ask for its cluster part (which arrives in the background)."""
        task = self._tasks.pop(name)
        task.end = end
        if task.remote is not None:
            task.part = Future()
            self._finish_remote(task.remote, task.part.set_result)
        self._finished_tasks.append(task)
        return task

    def _task_record(self, task: _Task, start: Reading, end: Reading, run_id: str) -> EmissionsData:
        record = self.record(self.window(start, end), run_id, task.remote_part())
        return record.replace(extra={"task_name": task.name})

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> "Tracker":
        if self.usage == "direct":
            self.usage = "context_manager"
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running run_id={self._run.run_id}" if self._run else "stopped"
        return f"<{type(self).__name__} {state} {self.config!r}>"
