"""Discovery's modelled meters: CPU, RAM and platform from the machine's SPECpower curve."""

from __future__ import annotations

import pytest

from carbon_magic.core.machine import MachineFacts
from carbon_magic.core.meters import HardwareSpec, discover
from carbon_magic.core.power_model import error_band, machine_power_model
from tests.fakes.guest import make_guest_tree
from tests.fakes.powercap import make_tree
from tests.test_guest import load_at

XEON = MachineFacts(cpu_model="Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", cpu_count=80, cpu_physical_count=40,
                    cpu_sockets=2, cpu_architecture="x86_64", ram_total_bytes=192 * 10**9, os="Linux",
                    python_version="3.11")


def meters_of(tmp_path, spec: HardwareSpec) -> dict:
    root = make_guest_tree(tmp_path / "machine")
    return {m.component: m for m in discover(spec, XEON, 0.0, guest_root=str(root)).meters}


def test_without_counters_cpu_ram_and_platform_follow_the_machine_curve(tmp_path):
    meters = meters_of(tmp_path, HardwareSpec(powercap_root=str(tmp_path / "none")))
    assert set(meters) == {"cpu", "ram", "platform"}
    curve = machine_power_model(cpu_model=XEON.cpu_model, sockets=2, cores=40, threads=80, ram_gb=192.0)
    band = error_band()
    for load in (0.0, 0.35, 1.0):
        for component, meter in meters.items():
            before = meter.read(0.0, load_at(load, 0.0))
            after = meter.read(2.0, load_at(load, 2.0))
            assert after - before == pytest.approx(2.0 * curve.power_w(load)[component], rel=1e-12)
            assert meter.power_w() == pytest.approx(curve.power_w(load)[component])
    for meter in meters.values():
        assert not meter.exact and meter.band == (band.measured_low_ratio, band.measured_high_ratio)
        assert meter.method.startswith("modelled: SPECpower machine model (cross-validated p5..p95 band "
                                       f"x{band.measured_low_ratio:.2f}..x{band.measured_high_ratio:.2f}")
    # not CodeCarbon's: 150 W TDP x 2 x (0.1 + 0.9 x 0.35^3) = 41.6 W at load 0.35, and 8 DIMMs x 5 W
    assert meters["cpu"].power_w() != pytest.approx(41.6, rel=0.05)


def test_unknown_load_is_the_curve_at_half_load(tmp_path):
    meters = meters_of(tmp_path, HardwareSpec(powercap_root=str(tmp_path / "none")))
    curve = machine_power_model(cpu_model=XEON.cpu_model, sockets=2, cores=40, threads=80, ram_gb=192.0)
    meters["cpu"].read(1.0, load_at(float("nan"), 1.0))
    assert meters["cpu"].power_w() == pytest.approx(curve.power_w(0.5)["cpu"])


def test_force_cpu_and_ram_power_keep_codecarbons_meaning(tmp_path):
    meters = meters_of(tmp_path, HardwareSpec(powercap_root=str(tmp_path / "none"), force_cpu_power=100.0,
                                              force_ram_power=7.0))
    assert meters["cpu"].read(1.0, load_at(1.0, 1.0)) == pytest.approx(100.0)  # TDP x (0.1 + 0.9 x 1^3)
    assert meters["ram"].read(1.0, load_at(1.0, 1.0)) == pytest.approx(7.0)
    assert meters["cpu"].band is None and meters["ram"].band is None
    assert meters["platform"].method.startswith("modelled: SPECpower machine model")


def test_count_platform_false_has_no_platform_meter(tmp_path):
    meters = meters_of(tmp_path, HardwareSpec(powercap_root=str(tmp_path / "none"), count_platform=False))
    assert set(meters) == {"cpu", "ram"}


def test_with_rapl_the_cpu_is_measured_and_the_model_covers_ram_and_platform(tmp_path):
    make_tree(tmp_path / "powercap")
    meters = meters_of(tmp_path, HardwareSpec(powercap_root=str(tmp_path / "powercap")))
    assert meters["cpu"].exact and meters["cpu"].band is None
    assert meters["cpu"].method == "measured: RAPL energy counters (package-0)"
    for component in ("ram", "platform"):
        assert not meters[component].exact and meters[component].band is not None
        assert meters[component].method.startswith("modelled: SPECpower machine model")
    assert "RAPL has no DRAM domain here" in meters["ram"].method


def test_rapl_psys_holds_the_platform(tmp_path):
    make_tree(tmp_path / "powercap", psys=True)
    meters = meters_of(tmp_path, HardwareSpec(powercap_root=str(tmp_path / "powercap"), rapl_prefer_psys=True))
    assert set(meters) == {"cpu", "ram"} and meters["cpu"].exact
