"""NVIDIA GPUs through a fake NVML: counter and no-counter GPUs, selection, absence."""

from __future__ import annotations

import os
import time

import pytest

from carbon_magic.core.meters import HardwareSpec, discover
from carbon_magic.core.meters.nvml import GpuInfo, select_gpus
from carbon_magic.core.machine import machine_facts
from carbon_magic.core.sampler import get_sampler
from tests.fakes.fake_pynvml import NVML_ERROR_LIBRARY_NOT_FOUND, FakeGpu, install
from tests.fakes.profiles import Constant

SPEC = HardwareSpec(powercap_root="/nonexistent", force_cpu_power=50.0)


def test_counter_gpu_window_energy(monkeypatch):
    profile = Constant(300.0)
    install(monkeypatch, [FakeGpu(profile, update_s=0.02)])
    sampler = get_sampler(SPEC)
    assert sampler.components == ("cpu", "ram", "gpu:0")
    assert sampler.methods()["gpu:0"] == "NVML energy counter (NVIDIA H100 80GB HBM3)"
    assert sampler.exact()["gpu:0"]
    start = sampler.read()
    time.sleep(1.0)
    end = sampler.read()
    measured = end.energy_j["gpu:0"] - start.energy_j["gpu:0"]
    # a raw counter read is off by at most one 20 ms update at each end: 6 J each
    assert measured == pytest.approx(300.0 * (end.t_mono - start.t_mono), abs=12.5)


def test_gpu_without_counter_integrates_power_never_zero(monkeypatch):
    install(monkeypatch, [FakeGpu(Constant(120.0), has_counter=False, name="Tesla K80")])
    sampler = get_sampler(SPEC)
    assert "no energy counter" in sampler.methods()["gpu:0"]
    assert any("no energy counter" in note for note in sampler.notes)
    start = sampler.read()
    time.sleep(0.3)
    end = sampler.read()
    measured = end.energy_j["gpu:0"] - start.energy_j["gpu:0"]
    assert measured == pytest.approx(120.0 * (end.t_mono - start.t_mono), rel=0.01)


def test_short_window_between_counter_updates_is_approximated_and_marked(monkeypatch):
    install(monkeypatch, [FakeGpu(Constant(500.0), update_s=0.1)])
    sampler = get_sampler(SPEC)
    time.sleep(0.25)
    sampler.read()
    start = sampler.read()
    time.sleep(0.01)
    end = sampler.read()
    measured = end.energy_j["gpu:0"] - start.energy_j["gpu:0"]
    assert measured > 0  # a raw read would often say 0 J
    assert "gpu:0" in end.provisional
    settled = None
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        sampler.read()
        settled = sampler.settle(end)
        if not settled.provisional:
            break
        time.sleep(0.02)
    assert settled is not None and not settled.provisional


def test_no_nvml_means_no_gpu_components_said_once(monkeypatch):
    install(monkeypatch, [], init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
    discovery = discover(SPEC, machine_facts(), time.monotonic())
    assert [m.component for m in discovery.meters] == ["cpu", "ram"]
    assert discovery.notes == ["No NVIDIA GPU measured: NVML did not start (NVML Shared Library Not Found)."]


def test_gpu_lost_mid_run_keeps_the_rest_counting(monkeypatch):
    fake = install(monkeypatch, [FakeGpu(Constant(200.0), update_s=0.01)])
    sampler = get_sampler(SPEC)
    before = sampler.read()
    fake.gpus[0].lost = True
    time.sleep(0.05)
    after = sampler.read()
    assert after.energy_j["gpu:0"] >= before.energy_j["gpu:0"]
    assert after.energy_j["cpu"] > before.energy_j["cpu"]


GPUS = [
    GpuInfo(0, "A100", "GPU-aaaa1111-0000", True, 40.0),
    GpuInfo(1, "A100", "GPU-bbbb2222-0000", True, 40.0),
    GpuInfo(2, "H100", "GPU-cccc3333-0000", True, 80.0),
]


def test_select_gpus_by_index_uuid_prefix_and_env():
    assert [g.index for g in select_gpus(None, GPUS, {})[0]] == [0, 1, 2]
    assert [g.index for g in select_gpus((2, 0), GPUS, {})[0]] == [2, 0]
    assert [g.index for g in select_gpus(("GPU-bbbb",), GPUS, {})[0]] == [1]
    chosen, source = select_gpus(None, GPUS, {"CUDA_VISIBLE_DEVICES": "1,GPU-cccc"})
    assert [g.index for g in chosen] == [1, 2] and source == "CUDA_VISIBLE_DEVICES"
    assert select_gpus((0,), GPUS, {"CUDA_VISIBLE_DEVICES": "2"})[0][0].index == 0  # gpu_ids wins


def test_select_unknown_gpu_lists_the_gpus_there_are():
    with pytest.raises(ValueError, match=r"no GPU matches 7.*0 \(GPU-aaaa1111-0000, A100\)"):
        select_gpus((7,), GPUS, {})


def test_process_mode_counts_a_gpu_only_where_the_tree_holds_a_context(monkeypatch):
    install(
        monkeypatch,
        [FakeGpu(Constant(100.0), update_s=0.01, pids=(os.getpid(),)), FakeGpu(Constant(100.0), update_s=0.01, uuid="GPU-1")],
    )
    sampler = get_sampler(SPEC)
    lease = sampler.request_interval(0.05, process_tree=True)
    start = sampler.read(tick=True)
    time.sleep(0.4)
    end = sampler.read(tick=True)
    lease.release()
    mine = end.process_energy_j["gpu:0"] - start.process_energy_j["gpu:0"]
    other = end.process_energy_j["gpu:1"] - start.process_energy_j["gpu:1"]
    assert mine > 20 and other == 0.0
