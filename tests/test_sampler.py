"""The shared sampler: readings, leases, listeners, its thread, fork."""

from __future__ import annotations

import os
import threading
import time

import pytest

from carbon_magic.core.ledger import Reading, Window
from carbon_magic.core.load import LoadSample
from carbon_magic.core.machine import machine_facts
from carbon_magic.core.meters import Discovery, HardwareSpec, Meter
from carbon_magic.core.problems import problems
from carbon_magic.core.sampler import Sampler
from carbon_magic.core.sampler.ledger_keeper import SLOW_REFRESH_S
from carbon_magic.runtime import reset_runtime

from .polling import eventually

SPEC = HardwareSpec(powercap_root="/nonexistent", force_cpu_power=80.0, force_ram_power=6.0)


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "carbon_magic-sampler"]


def test_one_sampler_per_hardware_spec(samplers):
    assert samplers.get(SPEC) is samplers.get(HardwareSpec(powercap_root="/nonexistent", force_cpu_power=80.0, force_ram_power=6.0))
    assert samplers.get(SPEC) is not samplers.get(HardwareSpec(powercap_root="/nonexistent", force_cpu_power=81.0))


def test_readings_are_immutable_and_cumulative(samplers):
    sampler = samplers.get(SPEC)
    first = sampler.read()
    with pytest.raises(TypeError):
        first.energy_j["cpu"] = 0.0  # type: ignore[index]
    time.sleep(0.02)
    second = sampler.read()
    assert second.t_mono > first.t_mono
    for component in sampler.components:
        assert second.energy_j[component] >= first.energy_j[component]
    # RAM at a forced 6 W: the window's energy is exactly power x time, whatever the interval
    window = Window(first, second, ("ram",))
    assert window.energy_j()["ram"] == pytest.approx(6.0 * window.duration_s, rel=1e-9)


def test_a_full_loads_average_stays_a_fraction_whatever_the_rounding():
    # The integral and the clock are summed apart: 0.1 + 0.2 s at full load gives an integral of
    # 0.30000000000000004 over 0.3 s, which CI once wrote as 100.00000000000004 %.
    start = Reading(1, 0.0, 0.0, {}, {}, {}, 0.0, {"gpu:0": 0.0}, 0.0, 0.0, 0.0, 0.0)
    end = Reading(1, 0.3, 0.3, {}, {}, {}, 0.1 + 0.2, {"gpu:0": 0.1 + 0.2}, 0.1 + 0.2, 0.0, 0.0, 0.0)
    window = Window(start, end, ("gpu:0",))
    assert 0.1 + 0.2 > 0.3
    assert window.cpu_utilisation == window.ram_utilisation == window.gpu_utilisation == 1.0


def test_nested_and_overlapping_windows_add_up(samplers):
    sampler = samplers.get(SPEC)
    a = sampler.read()
    time.sleep(0.01)
    b = sampler.read()
    time.sleep(0.01)
    c = sampler.read()
    outer = Window(a, c, sampler.components).energy_j()
    first = Window(a, b, sampler.components).energy_j()
    second = Window(b, c, sampler.components).energy_j()
    for component in sampler.components:
        assert outer[component] == pytest.approx(first[component] + second[component], rel=1e-12)


def test_thread_starts_with_first_lease_and_stops_with_the_last(samplers):
    sampler = samplers.get(SPEC)
    assert not sampler.running
    slow = sampler.request_interval(5.0)
    fast = sampler.request_interval(0.02)
    assert sampler.running and sampler.interval_s == pytest.approx(0.02)
    time.sleep(0.2)
    assert sampler.ticks >= 3
    fast.release()
    assert sampler.interval_s == pytest.approx(5.0)
    slow.release()
    slow.release()  # idempotent
    assert eventually(lambda: not sampler.running, timeout_s=2)


def test_listeners_get_readings_and_a_raising_listener_is_counted_not_fatal(samplers):
    sampler = samplers.get(SPEC)
    seen = []
    good = sampler.subscribe(seen.append)

    def broken(reading):
        raise RuntimeError("widget gone")

    bad = sampler.subscribe(broken)
    lease = sampler.request_interval(0.02)
    time.sleep(0.2)
    lease.release()
    good.close()
    bad.close()
    assert len(seen) >= 3
    assert all(b.t_mono > a.t_mono for a, b in zip(seen, seen[1:]))
    assert any(p.error_type == "RuntimeError" and p.count >= 2 for p in problems.all())


def test_meter_raising_on_every_call_is_counted_and_others_go_on(samplers):
    sampler = samplers.get(SPEC)

    class Broken(Exception):
        pass

    def explode(now, load):
        raise Broken("sensor unplugged")

    sampler.keeper.slots["ram"].meter.read = explode  # a meter with no fallback
    before = sampler.read()
    time.sleep(0.01)
    after = sampler.read()
    assert after.energy_j["ram"] == before.energy_j["ram"]
    assert after.energy_j["cpu"] > before.energy_j["cpu"]
    [problem] = [p for p in problems.all() if p.where == "ram meter"]
    assert problem.error_type == "Broken" and problem.count >= 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_fork_child_keeps_the_ledger_and_restarts_its_thread(samplers):
    sampler = samplers.get(SPEC)
    lease = sampler.request_interval(0.02)
    before = sampler.read()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            time.sleep(0.1)
            reading = samplers.get(SPEC).read()
            ok = (
                reading.energy_j["ram"] > before.energy_j["ram"]
                and samplers.get(SPEC) is sampler
                and sampler.running
            )
            os.write(write_fd, b"ok" if ok else b"bad")
        finally:
            os._exit(0)
    os.close(write_fd)
    answer = os.read(read_fd, 10)
    os.waitpid(pid, 0)
    lease.release()
    assert answer == b"ok"


def test_sampler_thread_cost_is_tracked(samplers):
    sampler = samplers.get(SPEC)
    lease = sampler.request_interval(0.01)
    time.sleep(0.2)
    lease.release()
    assert sampler.thread_cpu_s > 0.0


def test_ticks_without_listeners_leave_readings_whole(samplers):
    """The thread's quiet ticks build no Reading (a modelled machine's only note the load); a
    reading between them still integrates the whole interval (tests/test_sampler_quiet_ticks.py
    checks that the ledger is the one of ticks that read every meter)."""
    sampler = samplers.get(HardwareSpec(powercap_root="/nonexistent", force_cpu_power=80.0, force_ram_power=7.0))
    lease = sampler.request_interval(0.02)
    try:
        assert eventually(lambda: sampler.ticks >= 2)
        before = sampler.read()
        ticks = sampler.ticks
        assert eventually(lambda: sampler.ticks >= ticks + 3)
        after = sampler.read()
    finally:
        lease.release()
    window = Window(before, after, ("cpu", "ram"))
    assert window.energy_j()["ram"] == pytest.approx(7.0 * window.duration_s, rel=1e-9)
    assert window.energy_j()["cpu"] >= 80.0 * 0.1 * window.duration_s * (1 - 1e-9)  # at least idle power


def test_wake_signal_coalesces_and_times_out():
    from carbon_magic.core.sampler.scheduler import WakeSignal

    wake = WakeSignal()
    started = time.monotonic()
    wake.wait(0.05)
    assert time.monotonic() - started >= 0.04  # nothing pending: the full timeout
    wake.set()
    wake.set()  # a second wake-up before anyone waited: still one
    started = time.monotonic()
    wake.wait(5.0)
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    wake.wait(0.05)
    assert time.monotonic() - started >= 0.04


def test_a_new_runtime_has_fresh_samplers_and_the_old_ones_stop(samplers):
    sampler = samplers.get(SPEC)
    lease = sampler.request_interval(0.02)
    assert sampler.running
    fresh = reset_runtime().samplers
    assert fresh is not samplers and fresh.existing(SPEC) is None and fresh.all() == []
    assert not sampler.running  # closing the old runtime stopped its thread
    assert fresh.get(SPEC) is not sampler
    lease.release()


class SlowFigures(Meter):
    """A meter declaring slow figures (as GPUs do): counts its refreshes."""

    component = "ram"
    refreshes = True

    def __init__(self) -> None:
        self.refreshed: list[frozenset[int]] = []
        self.total_j = 0.0

    def read(self, now: float, load: LoadSample) -> float:
        self.total_j += load.dt_s
        return self.total_j

    def power_w(self) -> float:
        return 1.0

    def refresh(self, tree_pids: frozenset[int]) -> None:
        self.refreshed.append(tree_pids)


def test_meters_declaring_slow_figures_are_refreshed_on_ticks_at_most_once_a_period():
    clock = [1000.0]
    meter = SlowFigures()
    sampler = Sampler(Discovery(meters=[meter], gpus=[]), machine_facts(), clock=lambda: clock[0])
    assert meter.refreshed == [frozenset()]  # the first reading is a tick; no process tree
    clock[0] += SLOW_REFRESH_S / 2
    sampler.read(tick=True)
    sampler.read()  # a boundary read reuses the slow figures
    assert len(meter.refreshed) == 1
    lease = sampler.request_interval(15.0, process_tree=True)
    sampler.read(tick=True)  # attributing to the tree: refreshed at the next tick, with its pids
    lease.release()
    assert len(meter.refreshed) == 2 and os.getpid() in meter.refreshed[1]
