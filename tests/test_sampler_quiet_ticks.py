"""Quiet ticks (no listener) of a machine whose meters are all load models: a tick only notes
the load counters; the next reading makes the meters' reads in order, so the ledger is the same
as if every tick had read them (issue 17 point 11: the idle sampler's cost)."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest

from carbon_magic.core import load
from carbon_magic.core.ledger import Window
from carbon_magic.core.machine import machine_facts
from carbon_magic.core.meters import Discovery, Meter
from carbon_magic.core.sampler import Sampler

TICK_S = 0.1
# The machine's load over successive ticks: steps across the whole range, so that a convex
# model gives a different energy if any tick's load were lost or merged with another's.
LOADS = (0.0, 0.9, 0.1, 1.0, 0.5, 0.25, 0.75, 0.05, 0.6, 0.95, 0.3, 0.0, 0.8, 0.4)


class ScriptedStat(load._ProcStat):
    """/proc/stat's first line from a script: each read, one more tick interval at the next
    load (2 CPUs at 100 ticks a second), as the kernel writes it; parsed by the real parser."""

    def __init__(self) -> None:
        self._fd = None
        self._loads = itertools.cycle(LOADS)
        self._busy = self._idle = 0

    def snapshot(self) -> bytes:
        ticks = round(2 * 100 * TICK_S)
        busy = round(ticks * next(self._loads))
        self._busy += busy
        self._idle += ticks - busy
        return f"cpu  {self._busy} 0 0 {self._idle} 0 0 0 0 0 0\ncpu0 1 2 3\n".encode()


class ConvexModel(Meter):
    """A load model (``replayable``), convex in the load, that counts its reads."""

    exact = False
    replayable = True

    def __init__(self, component: str):
        self.component = component
        self.reads = 0
        self.total_j = 0.0
        self._power_w = 0.0

    def read(self, now: float, load: load.LoadSample) -> float:
        self.reads += 1
        self._power_w = 10.0 + 90.0 * load.cpu_load**2
        self.total_j += self._power_w * load.dt_s
        return self.total_j

    def power_w(self) -> float:
        return self._power_w


@pytest.fixture(autouse=True)
def steady_memory(monkeypatch):
    """Memory read from /proc/meminfo moves with the machine: hold it still for the comparison."""
    monkeypatch.setattr(load, "read_memory", lambda: (4.0, 0.25))


def modelled_sampler(clock: list[float]) -> tuple[Sampler, list[ConvexModel]]:
    meters = [ConvexModel("cpu"), ConvexModel("ram")]
    probe = load.LoadProbe(8 * 2**30, stat=ScriptedStat())
    sampler = Sampler(Discovery(meters=list(meters), gpus=[]), machine_facts(), clock=lambda: clock[0], probe=probe)
    return sampler, meters


def test_a_quiet_tick_reads_no_meter_and_the_next_reading_makes_its_reads():
    clock = [time.monotonic() + 100.0]  # after the probe's own start
    sampler, meters = modelled_sampler(clock)
    before = [meter.reads for meter in meters]
    for _ in range(5):
        clock[0] += TICK_S
        sampler.keeper.keep_up()
    assert [meter.reads for meter in meters] == before  # the ticks only noted the load
    sampler.read()
    assert [meter.reads for meter in meters] == [reads + 6 for reads in before]  # 5 ticks, then now


def test_quiet_ticks_give_the_ledger_of_ticks_that_read_every_meter():
    """One sampler ticks quietly, the other with a listener (every tick a full reading), on the
    same load script and clock, across a slow refresh: the same energy, utilisation and power."""
    clock = [time.monotonic() + 100.0]  # after the probe's own start
    quiet, _ = modelled_sampler(clock)
    listened, _ = modelled_sampler(clock)
    starts = quiet.read(), listened.read()
    for _ in range(int(2.5 / TICK_S)):
        clock[0] += TICK_S
        quiet.keeper.keep_up()  # the thread's tick without listeners
        listened.read(tick=True)  # with listeners
    clock[0] += TICK_S / 3
    ends = quiet.read(), listened.read()
    (quiet_window, listened_window) = (Window(start, end, ("cpu", "ram")) for start, end in zip(starts, ends))
    assert quiet_window.energy_j() == pytest.approx(listened_window.energy_j(), rel=1e-12, abs=1e-9)
    assert quiet_window.energy_j()["cpu"] > 10.0 * quiet_window.duration_s * 1.5  # the loads counted
    assert ends[0].cpu_util_s - starts[0].cpu_util_s == pytest.approx(ends[1].cpu_util_s - starts[1].cpu_util_s, rel=1e-12)
    assert ends[0].ram_util_s - starts[0].ram_util_s == pytest.approx(ends[1].ram_util_s - starts[1].ram_util_s, rel=1e-12)
    assert dict(ends[0].power_w) == pytest.approx(dict(ends[1].power_w), rel=1e-12)  # as of the last tick


def test_a_meter_that_must_be_read_at_its_instant_is_read_on_quiet_ticks():
    """A hardware counter (not ``replayable``) beside a model: every tick reads the meters."""

    class Counter(ConvexModel):
        replayable = False

    clock = [time.monotonic() + 100.0]  # after the probe's own start
    counter, model = Counter("cpu"), ConvexModel("ram")
    sampler = Sampler(Discovery(meters=[counter, model], gpus=[]), machine_facts(), clock=lambda: clock[0],
                      probe=load.LoadProbe(8 * 2**30, stat=ScriptedStat()))
    before = counter.reads
    for _ in range(3):
        clock[0] += TICK_S
        sampler.keeper.keep_up()
    assert counter.reads == before + 3


def test_the_energy_of_quiet_ticks_is_weighed_by_the_live_signal_at_the_next_reading():
    clock = [time.monotonic() + 100.0]  # after the probe's own start
    sampler, _ = modelled_sampler(clock)
    signal = SimpleNamespace(key="live grid", g_per_kwh=300.0)
    sampler.weigh_by(signal)  # what Weighing reads of an IntensitySignal: its key and value
    start = sampler.read()
    for _ in range(5):
        clock[0] += TICK_S
        sampler.keeper.keep_up()
    end = sampler.read()
    used_j = {c: end.energy_j[c] - start.energy_j[c] for c in end.energy_j}
    before, after = start.weighed["live grid"], end.weighed["live grid"]
    for component, joules in used_j.items():
        assert after.known_j[component] - before.known_j[component] == pytest.approx(joules, rel=1e-12)
        assert after.known_j_g[component] - before.known_j_g[component] == pytest.approx(joules * 300.0, rel=1e-12)
