"""AMD GPUs through a fake amdsmi (tests/fakes/fake_amdsmi.py): counters fast and slow, wraps
and resets, no counter, selection by the visible-devices variables, processes, absence, and a
machine with NVIDIA and AMD GPUs together."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import NamedTuple

import pytest

from carbon_magic import EmissionsTracker
from carbon_magic.core.config import ConfigError
from carbon_magic.core.machine import machine_facts
from carbon_magic.core.meters import HardwareSpec, discover
from carbon_magic.core.meters.counter_timeline import FINAL_WITHIN_S, measure_update_period, median
from carbon_magic.core.meters.gpu import GpuInfo, select_gpus
from carbon_magic.core.problems import problems
from carbon_magic.core.sampler import settler
from tests.fakes import fake_amdsmi, fake_pynvml, fake_torch
from tests.fakes.fake_amdsmi import AMDSMI_STATUS_DRIVER_NOT_LOADED, FakeAmdGpu
from tests.fakes.profiles import Constant
from tests.polling import eventually

SPEC = HardwareSpec(powercap_root="/nonexistent", force_cpu_power=50.0)
BASE = {"powercap_root": "/nonexistent", "force_cpu_power": 50.0, "force_ram_power": 10.0,
        "force_carbon_intensity_g_co2e_kwh": 400.0, "save_to_file": False}
MI250X = {"market_name": "AMD Instinct MI250X", "update_s": 0.1, "power_keys": ("average_socket_power",)}


@pytest.fixture
def no_nvidia(monkeypatch):
    """NVML starts and sees no GPU (an AMD machine with nvidia-ml-py installed)."""
    return fake_pynvml.install(monkeypatch, [])


def amd(monkeypatch, *gpus: FakeAmdGpu, **kwargs) -> fake_amdsmi.FakeAmdSmi:
    return fake_amdsmi.install(monkeypatch, list(gpus), **kwargs)


class Window(NamedTuple):
    """A window over one component: its joules, duration (the readings' clocks), whether the end
    reading was provisional when read, and the shortest and longest the window can have been
    (clock reads just around each reading: a descheduled thread widens them, never the truth)."""

    energy_j: float
    duration_s: float
    provisional: bool
    shortest_s: float
    longest_s: float


def window_j(sampler, seconds: float, component: str = "gpu:0") -> Window:
    """A window of ``seconds`` over ``component``, settled as a tracker does."""
    lease = sampler.request_interval(15.0, watch_gpus=True)
    before_start = time.monotonic()
    start = sampler.read()
    after_start = time.monotonic()
    time.sleep(seconds)
    before_end = time.monotonic()
    end = sampler.read()
    after_end = time.monotonic()
    provisional = bool(end.provisional)
    done, settled = threading.Event(), []
    sampler.when_settled((start, end), lambda readings: (settled.extend(readings), done.set()))
    lease.release()
    assert done.wait(3.0)
    assert not settled[1].provisional
    return Window(settled[1].energy_j[component] - settled[0].energy_j[component], end.t_mono - start.t_mono,
                  provisional, before_end - after_start, after_end - before_start)


# -- the counter -------------------------------------------------------------------------------


def test_mi300_counter_measures_and_is_final_at_once(monkeypatch, samplers, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(700.0), update_s=0.001))
    sampler = samplers.get(SPEC)
    assert sampler.components == ("cpu", "ram", "platform", "gpu:0")
    assert sampler.methods()["gpu:0"] == "measured: amdsmi energy counter (AMD Instinct MI300X)"
    assert sampler.exact()["gpu:0"] and sampler.gpus[0].vendor == "AMD"
    assert not sampler.notes
    # each boundary is off by at most half an update (0.35 J at 700 W) from the counter at the
    # moment it was read, which lies between the clock reads around the reading
    for seconds in (0.05, 0.5):
        window = window_j(sampler, seconds)
        assert not window.provisional  # a 1 ms counter needs no settling
        assert 700.0 * window.shortest_s - 0.7 <= window.energy_j <= 700.0 * window.longest_s + 0.7


def test_slow_counter_is_settled_like_nvmls(monkeypatch, samplers, no_nvidia):
    """An older card's counter (100 ms here): a boundary is provisional, then interpolated."""
    amd(monkeypatch, FakeAmdGpu(Constant(500.0), **MI250X))
    sampler = samplers.get(SPEC)
    time.sleep(settler.GPU_LEARN_S)
    energy_j, duration_s, provisional, _, _ = window_j(sampler, 0.03)
    assert provisional
    assert energy_j == pytest.approx(500.0 * duration_s, rel=0.01)


def test_the_settle_rule_follows_the_measured_period_not_the_vendor(monkeypatch, samplers):
    """A fast counter is final at once whoever makes it; a slow one is settled, AMD's too."""
    amd(monkeypatch, FakeAmdGpu(Constant(300.0), **MI250X))
    fake_pynvml.install(monkeypatch, [fake_pynvml.FakeGpu(Constant(300.0), update_s=0.001)])
    sampler = samplers.get(SPEC)
    nvidia, amd_gpu = (sampler.keeper.slots[c].meter for c in ("gpu:0", "gpu:1"))
    assert nvidia.timeline.final_at_once and nvidia.timeline.update_period_s <= FINAL_WITHIN_S
    assert not nvidia.settles and amd_gpu.settles and not amd_gpu.timeline.final_at_once
    reading = sampler.read()
    assert reading.provisional == {"gpu:1"}


class SteppingCounter:
    """A counter stepping every ``period_s`` of a simulated clock that each read advances by
    ``read_s`` (``pause_s`` more on every ``pause_every``-th read: a thread descheduled)."""

    def __init__(self, period_s: float, read_s: float = 1e-4, pause_s: float = 0.0, pause_every: int = 0):
        self.t, self.reads = 0.0, 0
        self.period_s, self.read_s, self.pause_s, self.pause_every = period_s, read_s, pause_s, pause_every

    def read(self) -> float:
        self.reads += 1
        self.t += self.read_s + (self.pause_s if self.pause_every and self.reads % self.pause_every == 0 else 0.0)
        return float(int(self.t / self.period_s))

    def clock(self) -> float:
        return self.t


def test_a_counters_period_is_measured_by_reading_it_back_to_back():
    fast = SteppingCounter(0.001)
    assert measure_update_period(fast.read, fast.clock, cpu_clock=fast.clock) == pytest.approx(0.001, abs=1.5e-4)
    # a busy machine (a 3 ms pause every 3 ms of reads) touches some gaps, not the median
    busy = SteppingCounter(0.001, pause_s=0.003, pause_every=30)
    assert measure_update_period(busy.read, busy.clock, cpu_clock=lambda: busy.reads * 1e-4) == pytest.approx(
        0.001, abs=1.5e-4)
    slow = SteppingCounter(0.1)  # NVML's: not within the budget, left to the polls
    assert measure_update_period(slow.read, slow.clock, cpu_clock=slow.clock) is None
    assert slow.t == pytest.approx(0.02, abs=2e-4)  # it stopped at its budget


def test_old_amdsmi_energy_key_is_read(monkeypatch, samplers, no_nvidia):
    """Before amdsmi 6.2.1 the accumulator was under 'power' only."""
    amd(monkeypatch, FakeAmdGpu(Constant(400.0)), old_api=True)
    sampler = samplers.get(SPEC)
    energy_j, duration_s, *_ = window_j(sampler, 0.5)
    assert energy_j == pytest.approx(400.0 * duration_s, rel=0.01)


def test_a_32_bit_counter_that_wraps_keeps_counting(monkeypatch, samplers, no_nvidia):
    # 400 W in 15.3 µJ counts: the 32-bit accumulator wraps 0.1 s after start
    gpu = FakeAmdGpu(Constant(400.0), counter_bits=32, start_counts=2**32 - int(40.0 * 1e6 / 15.3))
    amd(monkeypatch, gpu)
    sampler = samplers.get(SPEC)
    energy_j, duration_s, *_ = window_j(sampler, 0.3)
    assert gpu.counts(time.monotonic()) < 2**31  # it did wrap
    assert energy_j == pytest.approx(400.0 * duration_s, rel=0.01)
    assert not [p for p in problems.all() if p.where == "gpu:0 meter"]


def test_a_counter_reset_counts_on_from_the_new_value_and_is_noted(monkeypatch, samplers, no_nvidia):
    gpu = FakeAmdGpu(Constant(400.0), update_s=0.001)
    amd(monkeypatch, gpu)
    sampler = samplers.get(SPEC)
    start = sampler.read()
    time.sleep(0.15)
    gpu.restart_counter(time.monotonic())
    time.sleep(0.15)
    end = sampler.read()
    energy_j = end.energy_j["gpu:0"] - start.energy_j["gpu:0"]
    # at most the energy since the read before the reset is lost (0 J for that interval)
    assert 400.0 * (end.t_mono - start.t_mono) - 400.0 * 0.16 <= energy_j <= 400.0 * (end.t_mono - start.t_mono) * 1.01
    [problem] = [p for p in problems.all() if p.where == "gpu:0 meter"]
    assert problem.error_type == "CounterWentBackwards" and "amdsmi energy counter of GPU 0" in problem.message


def test_a_counter_that_stands_still_under_load_gives_way_to_power(monkeypatch, samplers, no_nvidia):
    """amdsmi before ROCm 6.1 on an MI100 returned the same accumulator for ever: its GPU is
    then measured by power x time, said so, never as 0 J measured."""
    monkeypatch.setattr("carbon_magic.core.meters.vendor_gpu.STUCK_MIN_S", 0.3)
    monkeypatch.setattr("carbon_magic.core.meters.vendor_gpu.STUCK_UPDATES", 3)
    amd(monkeypatch, FakeAmdGpu(Constant(250.0), market_name="AMD Instinct MI100", stuck=True, update_s=0.01,
                                power_keys=("average_socket_power",)))
    sampler = samplers.get(SPEC)
    lease = sampler.request_interval(0.05)
    try:
        eventually(lambda: not sampler.exact()["gpu:0"], timeout_s=3)  # at a slow refresh (1 s)
        start = sampler.read()
        time.sleep(0.4)
        end = sampler.read()
    finally:
        lease.release()
    assert sampler.methods()["gpu:0"] == ("modelled: amdsmi power x time "
                                          "(AMD Instinct MI100: its energy counter stood still)")
    assert not sampler.exact()["gpu:0"] and "gpu:0" not in end.measured
    assert end.energy_j["gpu:0"] - start.energy_j["gpu:0"] == pytest.approx(250.0 * (end.t_mono - start.t_mono), rel=0.02)
    assert any(p.error_type == "CounterStuck" for p in problems.all())


# -- GPUs without counter, and no GPUs ------------------------------------------------------------


def test_a_gpu_without_counter_integrates_its_power_and_says_so(monkeypatch, samplers, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(120.0), has_counter=False, market_name="AMD Radeon PRO W7900",
                                power_keys=("average_socket_power",)))
    sampler = samplers.get(SPEC)
    assert sampler.methods()["gpu:0"] == ("modelled: amdsmi power x time "
                                          "(AMD Radeon PRO W7900: this GPU has no energy counter)")
    assert not sampler.exact()["gpu:0"]
    assert sampler.notes == ["GPU 0 (AMD Radeon PRO W7900) has no energy counter in amdsmi: integrating its power."]
    start = sampler.read()
    time.sleep(0.3)
    end = sampler.read()
    assert end.energy_j["gpu:0"] - start.energy_j["gpu:0"] == pytest.approx(120.0 * (end.t_mono - start.t_mono), rel=0.01)


def test_a_gpu_with_neither_counter_nor_power_is_left_out_and_said(monkeypatch, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(100.0)), FakeAmdGpu(Constant(100.0), has_counter=False, power_keys=()))
    discovery = discover(SPEC, machine_facts(), time.monotonic())
    assert [g.component for g in discovery.gpus] == ["gpu:0"]
    assert discovery.notes == ["AMD GPU 1 (AMD Instinct MI300X) not measured: amdsmi gives neither its energy "
                               "counter nor its power."]


def test_amdsmi_absent_means_no_gpu_component_and_the_note_says_why(monkeypatch, no_nvidia):
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    discovery = discover(SPEC, machine_facts(), time.monotonic())
    assert [m.component for m in discovery.meters] == ["cpu", "ram", "platform"]
    assert discovery.notes == ["No AMD GPU measured: amdsmi is not installed."]


def test_amdsmi_init_failing_means_no_gpu_component_and_the_note_says_why(monkeypatch, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(100.0)), init_error=AMDSMI_STATUS_DRIVER_NOT_LOADED)
    discovery = discover(SPEC, machine_facts(), time.monotonic())
    assert [m.component for m in discovery.meters] == ["cpu", "ram", "platform"]
    assert discovery.notes == ["No AMD GPU measured: amdsmi did not start "
                               "(Error code: 34 | AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded)."]


def test_status_says_how_the_amd_gpu_is_measured_and_why_another_is_not(monkeypatch, no_nvidia, capsys):
    pytest.importorskip("IPython")
    from tests.ipython_helpers import loaded_shell

    amd(monkeypatch, FakeAmdGpu(Constant(300.0)), FakeAmdGpu(Constant(100.0), has_counter=False, power_keys=()))
    shell = loaded_shell(monkeypatch)
    try:
        load_line = capsys.readouterr().out
        shell.run_cell("%carbon status")
        status = capsys.readouterr().out
    finally:
        shell.extension_manager.unload_extension("carbon_magic")
    assert "1 GPU by amdsmi energy counter (measured)" in load_line
    assert "gpu:0: measured: amdsmi energy counter (AMD Instinct MI300X)" in status
    assert "note: AMD GPU 1 (AMD Instinct MI300X) not measured: amdsmi gives neither" in status


# -- which GPUs count ------------------------------------------------------------------------------


NVIDIA_0 = GpuInfo(0, "NVIDIA H100 80GB HBM3", "GPU-aaaa1111", True, 80.0, "NVIDIA", 0)
AMD_GPUS = [GpuInfo(1 + i, "AMD Instinct MI300X", f"{i}cff74a1-0000-1000-80{i}0-000000000000", True, 192.0, "AMD", i)
            for i in range(4)]


@pytest.mark.parametrize(("environ", "chosen", "source"), [
    ({}, [1, 2, 3, 4], "all GPUs"),
    ({"HIP_VISIBLE_DEVICES": "2,0"}, [3, 1], "HIP_VISIBLE_DEVICES"),
    ({"CUDA_VISIBLE_DEVICES": "1"}, [2], "CUDA_VISIBLE_DEVICES"),  # HIP honours it
    ({"HIP_VISIBLE_DEVICES": "3", "CUDA_VISIBLE_DEVICES": "1"}, [4], "HIP_VISIBLE_DEVICES"),
    ({"ROCR_VISIBLE_DEVICES": "1,3"}, [2, 4], "ROCR_VISIBLE_DEVICES"),
    # HIP counts within what ROCr left visible
    ({"ROCR_VISIBLE_DEVICES": "1,3", "HIP_VISIBLE_DEVICES": "1"}, [4], "ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES"),
    ({"ROCR_VISIBLE_DEVICES": "GPU-2cff74a1"}, [3], "ROCR_VISIBLE_DEVICES"),  # a UUID prefix
    ({"HIP_VISIBLE_DEVICES": ""}, [], "HIP_VISIBLE_DEVICES"),
])
def test_amd_visible_devices_variables_choose_as_rocm_does(environ, chosen, source):
    gpus, said = select_gpus(None, AMD_GPUS, environ)
    assert [g.index for g in gpus] == chosen and said == source


def test_a_visible_device_that_is_not_there_lists_the_gpus_there_are():
    with pytest.raises(ValueError, match=r"HIP_VISIBLE_DEVICES: no GPU matches 7\. GPUs here: 0 \(0cff74a1"):
        select_gpus(None, AMD_GPUS, {"HIP_VISIBLE_DEVICES": "7"})


def test_nvidia_and_amd_together_each_runtime_its_own_variables():
    gpus = [NVIDIA_0, *AMD_GPUS]
    assert [g.index for g in select_gpus(None, gpus, {"CUDA_VISIBLE_DEVICES": "0"})[0]] == [0, 1]
    chosen, source = select_gpus(None, gpus, {"CUDA_VISIBLE_DEVICES": "0", "HIP_VISIBLE_DEVICES": "3"})
    assert [g.index for g in chosen] == [0, 4] and source == "CUDA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES"
    assert [g.index for g in select_gpus((4, 0), gpus, {"HIP_VISIBLE_DEVICES": "0"})[0]] == [4, 0]  # gpu_ids win


def test_two_amd_gpus_one_chosen_by_hip_visible_devices_in_the_record(monkeypatch, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(600.0)), FakeAmdGpu(Constant(200.0), uuid="1cff74a1-0000-1000-8041-000000000001"))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    tracker = EmissionsTracker(**BASE)
    tracker.start()
    time.sleep(0.3)
    tracker.stop()
    data = tracker.final_emissions_data
    assert data.gpu_count == 1 and data.gpu_model == "1 x AMD Instinct MI300X"
    assert data.gpu_energy * 3.6e6 == pytest.approx(200.0 * data.duration, rel=0.05)  # GPU 1 alone (GPU 0 draws 3x)


def test_a_visible_devices_variable_naming_no_gpu_stops_the_tracker_with_what_there_is(monkeypatch, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(600.0)), FakeAmdGpu(Constant(200.0), uuid="1cff74a1"))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "5")
    with pytest.raises(ConfigError, match=r"HIP_VISIBLE_DEVICES: no GPU matches 5\. GPUs here: 0 \(9cff74a1.*1 \(1cff74a1"):
        EmissionsTracker(**BASE)


def test_a_machine_with_nvidia_and_amd_gpus_measures_both(monkeypatch, samplers):
    fake_pynvml.install(monkeypatch, [fake_pynvml.FakeGpu(Constant(700.0), update_s=0.1)])
    amd(monkeypatch, FakeAmdGpu(Constant(300.0)))
    sampler = samplers.get(SPEC)
    assert sampler.components == ("cpu", "ram", "platform", "gpu:0", "gpu:1")
    assert [(g.vendor, g.vendor_index) for g in sampler.gpus] == [("NVIDIA", 0), ("AMD", 0)]
    assert sampler.methods()["gpu:1"] == "measured: amdsmi energy counter (AMD Instinct MI300X)"
    time.sleep(settler.GPU_LEARN_S)
    nvidia_j, duration_s, *_ = window_j(sampler, 0.5, "gpu:0")
    assert nvidia_j == pytest.approx(700.0 * duration_s, rel=0.01)
    amd_j, duration_s, *_ = window_j(sampler, 0.5, "gpu:1")
    assert amd_j == pytest.approx(300.0 * duration_s, rel=0.01)
    tracker = EmissionsTracker(**BASE)
    tracker.start()
    tracker.stop()
    assert tracker.final_emissions_data.gpu_model == "1 x NVIDIA H100 80GB HBM3, 1 x AMD Instinct MI300X"


# -- processes and frameworks ----------------------------------------------------------------------


def install_two_gpus(monkeypatch, library: str, mine: int, other: int) -> None:
    """Two GPUs at 100 W, the first used by process ``mine``, the second by ``other``."""
    if library == "nvml":
        fake_pynvml.install(monkeypatch, [fake_pynvml.FakeGpu(Constant(100.0), update_s=0.01, pids=(mine,)),
                                          fake_pynvml.FakeGpu(Constant(100.0), update_s=0.01, uuid="GPU-1", pids=(other,))])
        monkeypatch.setitem(sys.modules, "amdsmi", None)
        return
    fake_pynvml.install(monkeypatch, [])
    amd(monkeypatch, FakeAmdGpu(Constant(100.0), pids=(mine,)), FakeAmdGpu(Constant(100.0), uuid="1cff74a1", pids=(other,)),
        process_handles=library == "older amdsmi")


@pytest.mark.parametrize("library", ["nvml", "amdsmi 6.1+", "older amdsmi"])
def test_process_mode_counts_a_gpu_only_where_the_tree_uses_it(monkeypatch, samplers, library):
    """Whatever the vendor: NVML's compute processes, amdsmi's process list (dicts since 6.1,
    process handles to ask about before)."""
    install_two_gpus(monkeypatch, library, mine=os.getpid(), other=os.getpid() + 100_000)
    sampler = samplers.get(SPEC)
    lease = sampler.request_interval(0.05, process_tree=True)
    start = sampler.read(tick=True)
    time.sleep(0.4)
    end = sampler.read(tick=True)
    lease.release()
    mine = end.process_energy_j["gpu:0"] - start.process_energy_j["gpu:0"]
    other = end.process_energy_j["gpu:1"] - start.process_energy_j["gpu:1"]
    assert mine > 20 and other == 0.0


def test_torch_on_rocm_is_synchronised_at_the_boundaries_of_an_amd_gpu_window(monkeypatch, no_nvidia):
    amd(monkeypatch, FakeAmdGpu(Constant(300.0)))
    cuda = fake_torch.install(monkeypatch, delay_s=0.0, hip="6.2.41133")
    tracker = EmissionsTracker(**BASE)
    tracker.start()
    tracker.stop()
    assert cuda.synchronised == [0, 0]


def test_the_median_is_statistics_median():
    import random
    import statistics

    generator = random.Random(7)
    for size in (1, 2, 3, 8, 47):
        values = [generator.uniform(0.0, 0.2) for _ in range(size)]
        assert median(values) == statistics.median(values)
