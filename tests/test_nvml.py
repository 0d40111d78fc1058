"""NVIDIA GPUs through a fake NVML: counter and no-counter GPUs, selection, absence."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from carbon_magic.core.meters import HardwareSpec, discover, nvml
from carbon_magic.core.meters.gpu import GpuInfo, select_gpus
from carbon_magic.core.machine import machine_facts
from tests.fakes.fake_pynvml import NVML_ERROR_LIBRARY_NOT_FOUND, FakeGpu, install
from tests.fakes.profiles import Constant

SPEC = HardwareSpec(powercap_root="/nonexistent", force_cpu_power=50.0)


def settled_window(sampler, seconds: float, warm_up_s: float = 1.0):
    """A window with fast GPU polling, its two readings settled (as a tracker does)."""
    lease = sampler.request_interval(15.0, watch_gpus=True)
    time.sleep(warm_up_s)  # the poller learns the counter's rhythm
    start = sampler.read()
    time.sleep(seconds)
    end = sampler.read()
    done, settled = threading.Event(), []
    sampler.when_settled((start, end), lambda readings: (settled.extend(readings), done.set()))
    lease.release()
    assert done.wait(3.0)
    return settled


def test_counter_gpu_window_energy_once_settled(monkeypatch, samplers):
    profile = Constant(300.0)
    install(monkeypatch, [FakeGpu(profile, update_s=0.1)])
    sampler = samplers.get(SPEC)
    assert sampler.components == ("cpu", "ram", "platform", "gpu:0")  # platform: the modelled rest of the machine
    assert sampler.methods()["gpu:0"] == "measured: NVML energy counter (NVIDIA H100 80GB HBM3)"
    assert sampler.exact()["gpu:0"]
    start, end = settled_window(sampler, 0.5)
    assert not start.provisional and not end.provisional
    measured = end.energy_j["gpu:0"] - start.energy_j["gpu:0"]
    assert measured == pytest.approx(300.0 * (end.t_mono - start.t_mono), rel=0.01)


def test_gpu_without_counter_integrates_power_never_zero(monkeypatch, samplers):
    install(monkeypatch, [FakeGpu(Constant(120.0), has_counter=False, name="Tesla K80")])
    sampler = samplers.get(SPEC)
    assert "no energy counter" in sampler.methods()["gpu:0"]
    assert any("no energy counter" in note for note in sampler.notes)
    start = sampler.read()
    time.sleep(0.3)
    end = sampler.read()
    measured = end.energy_j["gpu:0"] - start.energy_j["gpu:0"]
    assert measured == pytest.approx(120.0 * (end.t_mono - start.t_mono), rel=0.01)


def test_short_window_between_counter_updates_is_provisional_then_settled(monkeypatch, samplers):
    install(monkeypatch, [FakeGpu(Constant(500.0), update_s=0.1)])
    sampler = samplers.get(SPEC)
    lease = sampler.request_interval(15.0, watch_gpus=True)
    time.sleep(1.0)
    start = sampler.read()
    time.sleep(0.01)
    end = sampler.read()
    lease.release()
    assert "gpu:0" in end.provisional
    assert end.energy_j["gpu:0"] > start.energy_j["gpu:0"]  # a raw read would often say 0 J
    done, settled = threading.Event(), []
    sampler.when_settled((start, end), lambda readings: (settled.extend(readings), done.set()))
    assert done.wait(1.0)  # within about one counter update, not the timeout
    measured = settled[1].energy_j["gpu:0"] - settled[0].energy_j["gpu:0"]
    assert measured == pytest.approx(500.0 * (end.t_mono - start.t_mono), rel=0.01)


def test_no_nvml_means_no_gpu_components_said_once(monkeypatch):
    install(monkeypatch, [], init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # amdsmi not installed either
    discovery = discover(SPEC, machine_facts(), time.monotonic())
    assert [m.component for m in discovery.meters] == ["cpu", "ram", "platform"]
    assert discovery.notes == ["No NVIDIA GPU measured: NVML did not start (NVML Shared Library Not Found).",
                               "No AMD GPU measured: amdsmi is not installed."]


def test_without_nvidias_driver_pynvml_is_not_even_imported(monkeypatch, tmp_path):
    """A Linux machine without /dev/nvidiactl (or WSL's /dev/dxg) has no GPU NVML could start on."""
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(nvml, "LINUX_DRIVER_FILES", (str(tmp_path / "nvidiactl"), str(tmp_path / "dxg")))
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    discovery = discover(SPEC, machine_facts(), time.monotonic())
    assert "pynvml" not in sys.modules
    assert [m.component for m in discovery.meters] == ["cpu", "ram", "platform"]
    assert discovery.notes == [f"No NVIDIA GPU measured: no NVIDIA driver ({tmp_path}/nvidiactl and {tmp_path}/dxg "
                               "absent).", "No AMD GPU measured: amdsmi is not installed."]


def test_with_a_driver_file_nvml_is_imported_and_asked(monkeypatch, tmp_path):
    (tmp_path / "nvidiactl").touch()
    (tmp_path / "pynvml.py").write_text("def nvmlInit():\n    raise RuntimeError('the driver says no')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(nvml, "LINUX_DRIVER_FILES", (str(tmp_path / "nvidiactl"),))
    with pytest.raises(nvml.NvmlUnavailable, match=r"^NVML did not start \(the driver says no\)$"):
        nvml.load_nvml()
    assert sys.modules["pynvml"].__file__ == str(tmp_path / "pynvml.py")


def test_gpu_lost_mid_run_keeps_the_rest_counting(monkeypatch, samplers):
    fake = install(monkeypatch, [FakeGpu(Constant(200.0), update_s=0.01)])
    sampler = samplers.get(SPEC)
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
