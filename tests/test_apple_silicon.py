"""Apple silicon energy on Linux: the IOReport binding against fake IOReport and CoreFoundation
libraries (tests/fakes/fake_ioreport.py: the C calls answered as macOS does), powermetrics
against a fake executable (tests/platforms/bin/powermetrics), and the meters in a sampler."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from carbon_magic import OfflineEmissionsTracker
from carbon_magic.core import meters as discovery
from carbon_magic.core.guest import GuestFacts
from carbon_magic.core.ledger import Window
from carbon_magic.core.load import LoadSample
from carbon_magic.core.machine import machine_facts
from carbon_magic.core.meters import HardwareSpec, apple, discover
from carbon_magic.core.meters.apple_ioreport import IOReportBinding
from carbon_magic.core.meters.apple_powermetrics import PowermetricsBinding, powermetrics_command
from carbon_magic.core.meters.apple_soc import SocUnavailable, soc_part
from carbon_magic.core.problems import problems
from carbon_magic.core.sampler import Sampler
from carbon_magic.ipython.display import hardware_phrase
from tests.fakes.fake_ioreport import FakeIOReport

BIN = Path(__file__).resolve().parent / "platforms" / "bin"
POWERMETRICS = str(BIN / "powermetrics")
SPEC = HardwareSpec(powercap_root="/nonexistent")


pytestmark = pytest.mark.usefixtures("patient_powermetrics")  # tests/apple_support.py


class Clock:
    """The sampler's and the fake counters' seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pretend_apple_silicon(monkeypatch, fake: FakeIOReport, powermetrics=None) -> None:
    """Discovery on this machine as on a Mac with Apple silicon whose IOReport is ``fake`` (and
    powermetrics, after it, ``powermetrics``: an opener, or none): not a guest, no NVIDIA GPU."""
    monkeypatch.setattr(discovery, "is_apple_silicon", lambda facts: True)
    monkeypatch.setattr(discovery, "detect_guest", lambda root: GuestFacts())
    monkeypatch.setattr(discovery, "load_nvml", lambda: (_ for _ in ()).throw(discovery.NvmlUnavailable("no NVML")))

    def no_powermetrics():
        raise SocUnavailable("no powermetrics command")

    monkeypatch.setattr(apple, "SOURCES", (("IOReport", lambda: IOReportBinding(fake.load)),
                                           ("powermetrics", powermetrics or no_powermetrics)))


def apple_sampler(monkeypatch, fake: FakeIOReport, clock: Clock, spec: HardwareSpec = SPEC,
                  powermetrics=None) -> Sampler:
    """A sampler of an Apple M2 Pro (``pretend_apple_silicon``) on ``clock``."""
    facts = dataclasses.replace(machine_facts(), cpu_model="Apple M2 Pro", cpu_architecture="arm64")
    pretend_apple_silicon(monkeypatch, fake, powermetrics)
    return Sampler(discover(spec, facts, clock()), facts, clock=clock)


def energy_by_component(sampler: Sampler, clock: Clock, seconds: float) -> dict[str, float]:
    start = sampler.read()
    clock.now += seconds
    end = sampler.read()
    return Window(start, end, sampler.components, False).energy_j()


@pytest.mark.parametrize("channel, part", [
    ("CPU Energy", "cpu"), ("DIE_1_CPU Energy", "cpu"), ("GPU Energy", "gpu"), ("ANE", "ane"), ("ANE0", "ane"),
    ("ANE0_1", "ane"), ("DRAM", "dram"), ("DRAM0", "dram"),
    ("ECPU", None), ("PCPU", None), ("PACC0_CPU1", None), ("GPU SRAM", None), ("GPU", None), ("ANE0_SRAM", None),
    ("DRAMX", None), ("DISP", None),
])
def test_only_the_channels_that_total_a_part_count(channel, part):
    """Clusters, cores and SRAM are inside the totals: adding them would count them twice."""
    assert soc_part(channel) == part


def test_counters_become_joules_per_part_in_each_channels_unit():
    clock = Clock()
    fake = FakeIOReport(clock=clock)
    binding = IOReportBinding(fake.load)
    assert binding.channels() == {"cpu": ("CPU Energy",), "gpu": ("GPU Energy",), "ane": ("ANE",), "dram": ("DRAM",)}
    clock.now += 2.0
    first = binding.sample()
    clock.now += 8.0
    second = binding.sample()
    # CPU 4 W in mJ, GPU 2 W in nJ, ANE 0.5 W, DRAM 1 W; ECPU, PCPU, GPU SRAM and DISP not added
    assert first == pytest.approx({"cpu": 8.0, "gpu": 4.0, "ane": 1.0, "dram": 2.0})
    assert second == pytest.approx({"cpu": 40.0, "gpu": 20.0, "ane": 5.0, "dram": 10.0})


@pytest.mark.parametrize("unit, per_joule", [("mJ", 1e3), ("uJ", 1e6), ("\u00b5J", 1e6), ("nJ", 1e9)])
def test_each_unit_label_is_converted(unit, per_joule):
    clock = Clock()
    binding = IOReportBinding(FakeIOReport([("CPU Energy", unit, 3.0)], clock=clock).load)
    clock.now += 10.0
    assert binding.sample()["cpu"] == pytest.approx(30.0, rel=1e-6)


def test_a_channel_of_unknown_unit_is_left_out():
    clock = Clock()
    binding = IOReportBinding(FakeIOReport([("CPU Energy", "mJ", 3.0), ("GPU Energy", "W", 2.0)], clock=clock).load)
    assert binding.channels() == {"cpu": ("CPU Energy",)}
    clock.now += 1.0
    assert binding.sample() == pytest.approx({"cpu": 3.0})


def test_every_corefoundation_object_is_released():
    fake = FakeIOReport()
    binding = IOReportBinding(fake.load)
    held = fake.live  # the subscription, its channels, the key string and the last sample
    for _ in range(50):
        binding.sample()
    assert fake.live == held <= 4


def test_without_the_library_there_is_no_binding():
    """The real ctypes.CDLL on a machine without macOS's library (this one)."""
    with pytest.raises(SocUnavailable, match=r"^no IOReport library \(.*libIOReport"):
        IOReportBinding()


@pytest.mark.parametrize("channels, reason", [
    ([], 'IOReport has no "Energy Model" channel group here'),
    ([("ECPU", "mJ", 1.0), ("DISP", "mJ", 1.0)], "has no CPU, GPU, ANE or DRAM energy channel here"),
])
def test_a_chip_without_energy_channels_has_no_binding(channels, reason):
    with pytest.raises(SocUnavailable, match=reason):
        IOReportBinding(FakeIOReport(channels).load)


def test_an_m2_pro_measures_cpu_ane_gpu_and_dram(monkeypatch):
    clock = Clock()
    sampler = apple_sampler(monkeypatch, FakeIOReport(clock=clock), clock)
    assert sampler.components == ("cpu", "ram", "platform", "gpu:0", "cpu:ane")
    methods = sampler.methods()
    assert methods["cpu"] == "measured: IOReport Energy Model counters (CPU Energy)"
    assert methods["ram"] == "measured: IOReport Energy Model counters (DRAM)"
    assert methods["gpu:0"] == "measured: IOReport Energy Model counters (GPU Energy)"
    assert methods["cpu:ane"] == "measured: IOReport Energy Model counters (ANE)"
    assert methods["platform"].startswith("modelled: SPECpower machine model")
    assert sampler.measured == {"cpu", "ram", "gpu:0", "cpu:ane"}
    assert [(g.index, g.name) for g in sampler.gpus] == [(0, "Apple M2 Pro GPU")]
    energy = energy_by_component(sampler, clock, 10.0)
    assert {c: energy[c] for c in ("cpu", "ram", "gpu:0", "cpu:ane")} == pytest.approx(
        {"cpu": 40.0, "ram": 10.0, "gpu:0": 20.0, "cpu:ane": 5.0})
    assert energy["platform"] > 0
    assert sampler.power_now_w()["cpu:ane"] == pytest.approx(0.5)
    # the line said when the extension loads
    assert hardware_phrase(methods) == (
        "CPU by IOReport Energy Model counters (measured), RAM by IOReport Energy Model counters (measured), "
        "PLATFORM by SPECpower machine model (modelled), 1 GPU by IOReport Energy Model counters (measured)")


def test_a_tracked_runs_record_has_the_counters_energy_with_the_ane_as_cpu(monkeypatch):
    """Through the public tracker: CodeCarbon's columns, the ANE's energy in the CPU's."""
    pretend_apple_silicon(monkeypatch, FakeIOReport())  # counters on the real clock
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", save_to_file=False, powercap_root="/nonexistent")
    tracker.start()
    time.sleep(0.5)
    tracker.stop()
    data = tracker.final_emissions_data
    assert data.cpu_power == pytest.approx(4.5, rel=0.02)  # CPU 4 W + ANE 0.5 W
    assert data.gpu_power == pytest.approx(2.0, rel=0.02) and data.ram_power == pytest.approx(1.0, rel=0.02)
    assert data.gpu_count == 1


def test_in_process_mode_dram_is_shared_by_resident_memory_and_the_rest_by_cpu_time(monkeypatch):
    clock = Clock()
    sampler = apple_sampler(monkeypatch, FakeIOReport(clock=clock), clock)
    load = LoadSample(0.0, 1.0, 0.5, 0.0, 0.0, 0.25, 8.0, 0.5)  # rss_share 0.25
    fractions = {c: s.meter.process_fraction(load) for c, s in sampler.keeper.slots.items()}
    assert fractions["ram"] == 0.25 and fractions["cpu"] is None and fractions["cpu:ane"] is None


def test_parts_a_chip_does_not_report_are_modelled_or_absent(monkeypatch):
    clock = Clock()
    fake = FakeIOReport([("CPU Energy", "mJ", 4.0), ("GPU Energy", "nJ", 2.0)], clock=clock)
    sampler = apple_sampler(monkeypatch, fake, clock)
    assert sampler.components == ("cpu", "ram", "platform", "gpu:0")
    ram = sampler.methods()["ram"]
    assert ram.startswith("modelled: ") and ram.endswith(
        "IOReport Energy Model counters: no DRAM energy channel here")
    assert sampler.measured == {"cpu", "gpu:0"}


def test_force_parameters_give_cpu_and_ram_to_the_model(monkeypatch):
    clock = Clock()
    spec = dataclasses.replace(SPEC, force_mode_cpu_load=True, force_ram_power=3.0)
    sampler = apple_sampler(monkeypatch, FakeIOReport(clock=clock), clock, spec)
    methods = sampler.methods()
    assert methods["cpu"].endswith("force_mode_cpu_load is set") and methods["ram"] == "force_ram_power = 3 W"
    assert sampler.measured == {"gpu:0", "cpu:ane"}


def test_a_failing_call_switches_cpu_and_ram_to_the_model_and_says_so(monkeypatch):
    clock = Clock()
    fake = FakeIOReport(clock=clock)
    sampler = apple_sampler(monkeypatch, fake, clock)
    clock.now += 1.0
    before = sampler.read()
    fake.fail = True
    clock.now += 1.0
    failed = sampler.read()
    clock.now += 1.0
    after = sampler.read()
    methods = sampler.methods()
    for component in ("cpu", "ram"):
        assert methods[component].startswith("modelled: ")
        assert methods[component].endswith("IOReport Energy Model counters failed at run time")
        assert failed.energy_j[component] == before.energy_j[component]  # the failed read counts nothing
        assert after.energy_j[component] > failed.energy_j[component]  # the model counts on
    assert after.measured == {"gpu:0", "cpu:ane"}
    assert after.energy_j["gpu:0"] == before.energy_j["gpu:0"]  # no model for the GPU: it stops counting
    assert "cpu: switched to modelled: " in " ".join(sampler.notes)
    where = {p.where: p.message for p in problems.all()}
    assert where["cpu meter"] == "IOReport Energy Model counters failed: OSError: IOReportCreateSamples returned NULL"
    assert "gpu:0 meter" in where and "cpu:ane meter" in where


def test_without_ioreport_powermetrics_measures_cpu_gpu_and_ane(monkeypatch):
    clock = Clock()
    sampler = apple_sampler(monkeypatch, FakeIOReport([]), clock,
                            powermetrics=lambda: PowermetricsBinding(powermetrics_command(0, lambda name: POWERMETRICS)))
    methods = sampler.methods()
    assert methods["cpu"] == ("measured: powermetrics energy per 100 ms sample (a reading lags by up to one sample) "
                              "(cpu_energy (mJ))")
    assert methods["gpu:0"].endswith("(gpu_energy (mJ))") and methods["cpu:ane"].endswith("(ane_energy (mJ))")
    assert methods["ram"].endswith("no DRAM energy channel here")  # powermetrics has none
    assert sampler.measured == {"cpu", "gpu:0", "cpu:ane"}


def test_powermetrics_samples_add_up_to_the_energy_they_report():
    binding = PowermetricsBinding(powermetrics_command(0, lambda name: POWERMETRICS))
    try:
        started = binding.sample()
        deadline = time.monotonic() + 60
        while binding.sample()["cpu"] - started["cpu"] < 2.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        totals = {part: joules - started[part] for part, joules in binding.sample().items()}
    finally:
        binding.close()
    # the fake's 4, 2 and 0.5 W over whatever time its samples covered
    assert totals["gpu"] == pytest.approx(totals["cpu"] / 2, rel=0.02)
    assert totals["ane"] == pytest.approx(totals["cpu"] / 8, rel=0.02)
    assert totals["cpu"] >= 2.0
    with pytest.raises(OSError, match=r"powermetrics ended \(exit status -9"):
        binding.sample()  # once it has ended, the meters fall back to the model


def test_powermetrics_that_refuses_to_run_is_not_used(monkeypatch):
    monkeypatch.setenv("SIMULATED_POWERMETRICS", "refuses")
    with pytest.raises(SocUnavailable, match=r"gave no sample \(exit status 1: powermetrics must be invoked as the superuser\)"):
        PowermetricsBinding(powermetrics_command(0, lambda name: POWERMETRICS))


def completed(status: int):
    return lambda command, **options: type("Completed", (), {"returncode": status, "args": command})()


def test_powermetrics_runs_as_root_or_through_sudo_without_a_password():
    which = {"powermetrics": "/usr/bin/powermetrics", "sudo": "/usr/bin/sudo"}.get
    assert powermetrics_command(0, which)[0] == "/usr/bin/powermetrics"
    assert powermetrics_command(501, which, completed(0))[:3] == ["/usr/bin/sudo", "-n", "/usr/bin/powermetrics"]
    assert powermetrics_command(501, which, completed(0))[-6:] == ["--samplers", "cpu_power,gpu_power", "-f", "plist", "-i", "100"]
    with pytest.raises(SocUnavailable, match="`sudo -n` would ask for a password"):
        powermetrics_command(501, which, completed(1))
    with pytest.raises(SocUnavailable, match="^no powermetrics command$"):
        powermetrics_command(0, lambda name: None)


def test_without_any_source_the_model_is_used_and_said(monkeypatch):
    clock = Clock()
    sampler = apple_sampler(monkeypatch, FakeIOReport([]), clock)
    assert sampler.components == ("cpu", "ram", "platform")
    assert sampler.measured == frozenset()
    assert ('No Apple silicon energy counter usable (IOReport: IOReport has no "Energy Model" channel group here; '
            "powermetrics: no powermetrics command): using the machine model.") in sampler.notes
