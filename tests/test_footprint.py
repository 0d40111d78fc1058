"""The footprint wired into trackers: its parameters, the water basis per location, the embodied
rates of this machine (its disks, its GPUs, a guest's share) and their shares in process mode."""

from __future__ import annotations

import time

import pytest

from carbon_magic import EmissionsTracker
from carbon_magic.core import footprint
from carbon_magic.core.config import ConfigError, resolve_config
from carbon_magic.core.embodied import Band, GuestShare, Hardware, embodied_g_per_s
from carbon_magic.core.guest import GuestFacts
from carbon_magic.core.location import Location
from carbon_magic.core.machine import MachineFacts
from carbon_magic.core.meters import HardwareSpec, discover

from .fakes.fake_pynvml import FakeGpu, install
from .fakes.guest import make_guest_tree
from .fakes.profiles import Constant

OFFLINE = {"offline": True, "powercap_root": "/nonexistent", "save_to_file": False}
SERVER = MachineFacts(cpu_model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", cpu_count=80, cpu_physical_count=40,
                      cpu_sockets=2, cpu_architecture="x86_64", ram_total_bytes=384 * 10**9, os="Linux",
                      python_version="3.11")


def record(**parameters):
    tracker = EmissionsTracker(**{**OFFLINE, **parameters})
    tracker.start()
    time.sleep(0.05)
    tracker.stop()
    return tracker, tracker.final_emissions_data


def make_disks(root, disks: dict[str, tuple[int, str]]):
    """sys/block/<name>/size (512-byte sectors) and queue/rotational, as Linux writes them."""
    for name, (sectors, rotational) in disks.items():
        device = root / "sys" / "block" / name
        (device / "queue").mkdir(parents=True)
        (device / "size").write_text(f"{sectors}\n")
        (device / "queue" / "rotational").write_text(f"{rotational}\n")
    return root


@pytest.mark.parametrize("name, value, source, accepted", [
    ("embodied_lifetime_years", "0", "CODECARBON_EMBODIED_LIFETIME_YEARS", "> 0"),
    ("offsite_water_l_per_kwh", "-1", "CODECARBON_OFFSITE_WATER_L_PER_KWH", ">= 0"),
    ("offsite_water", "sometimes", "CODECARBON_OFFSITE_WATER", "true or false"),
    ("embodied", "2", "CODECARBON_EMBODIED", "true or false"),
])
def test_bad_footprint_parameters_are_refused_when_set_naming_value_source_and_accepted(
        monkeypatch, name, value, source, accepted):
    monkeypatch.setenv(source, value)
    with pytest.raises(ConfigError) as raised:
        resolve_config()
    message = str(raised.value)
    assert f"'{name}'" in message and repr(value) in message and source in message and accepted in message
    monkeypatch.delenv(source)
    with pytest.raises(ConfigError, match=rf"'{name}'.*from argument"):
        resolve_config({name: float(value) if name != "offsite_water" else value})


def test_the_users_wue_fills_codecarbons_column_and_the_on_site_water_even_on_a_cloud():
    _, data = record(cloud_provider="aws", cloud_region="eu-west-3", wue=0.5)
    assert data.water_consumed == pytest.approx(data.energy_consumed * 0.5)
    assert data.water_onsite == data.water_consumed
    assert data.water_onsite_source == "wue parameter: 0.5 L/kWh (CodeCarbon's water_consumed)"
    assert data.water_offsite == pytest.approx(data.energy_consumed * 3.576)  # France's grid, by hand in test_water
    assert data.water_total == pytest.approx(data.water_onsite + data.water_offsite)


def test_an_off_site_factor_set_by_the_user_replaces_the_grid_mix():
    _, data = record(country_iso_code="DEU", offsite_water_l_per_kwh=2.5)
    assert data.water_offsite == pytest.approx(data.energy_consumed * 2.5)
    assert data.water_offsite_low == pytest.approx(data.energy_low * 2.5)
    assert data.water_offsite_source.startswith("set by the user (parameter): 2.5 L/kWh")


def test_the_grid_water_is_resolved_once_per_location_not_per_record(monkeypatch):
    calls = []
    lookup = footprint.offsite_water_intensity

    def counting(*place):
        calls.append(place)
        return lookup(*place)

    footprint._grid_water.cache_clear()
    monkeypatch.setattr(footprint, "offsite_water_intensity", counting)
    tracker = EmissionsTracker(**OFFLINE, country_iso_code="CAN", region="QC")
    tracker.start()
    for _ in range(20):
        assert tracker.flush() is not None
    tracker.stop()
    assert calls == [("CAN", "QC")]
    data = tracker.final_emissions_data
    assert data.water_offsite_source.startswith("Quebec, Canada (region): 15.7 L/kWh")
    # (0.2 x 205 + 0.3 x 826 + 0.7 x 553 + 0.01 x 1 + 92.1 x 4491) / 100.01 gal/MWh x 0.0037854 (test_water.py)
    assert data.water_offsite == pytest.approx(data.energy_consumed * 15.681, rel=1e-9)


@pytest.mark.parametrize("country, region", [("ZZZ", None), (None, None), ("FRA", "Atlantis")])
def test_a_place_the_water_table_cannot_place_gets_its_country_or_the_world_figure(country, region):
    """The location service vouches for its places; one the water table does not know falls back,
    said in the source: the world's summed mix is 3.894 L/kWh (computed by hand in test_water.py)."""
    footprint._grid_water.cache_clear()
    config = resolve_config({})
    basis = footprint.water_basis(Location(country_iso_code=country, region=region), config, wue_set=False)
    expected = (3.576, "France (country)") if country == "FRA" else (3.894, "world")
    assert basis.offsite.l_per_kwh == expected[0]
    assert basis.offsite_text.startswith(expected[1])
    if country == "ZZZ":
        assert "(world (the water table does not know country 'ZZZ'))" in basis.offsite_text


def test_the_lifetime_parameter_spreads_the_same_manufacture_over_more_seconds():
    four, _ = record(country_iso_code="FRA")
    eight, _ = record(country_iso_code="FRA", embodied_lifetime_years=8)
    default, longer = four.footprint().embodied, eight.footprint().embodied
    assert (default.lifetime_years, longer.lifetime_years) == (4, 8)
    for part, rate in default.rates_g_per_s.items():
        assert longer.rates_g_per_s[part].value == pytest.approx(rate.value / 2)


def test_embodied_and_off_site_water_switched_off_leave_codecarbons_figures_alone():
    tracker, data = record(country_iso_code="FRA", embodied=False, offsite_water=False)
    assert tracker.footprint().embodied is None
    assert (data.embodied_emissions, data.embodied_cpu, data.water_offsite) == (None, None, None)
    assert data.water_total == 0.0 and data.water_offsite_source == "off: offsite_water=False"
    assert data.emissions == pytest.approx(data.energy_consumed * data.intensity_g_per_kwh / 1000)


def test_disks_are_read_from_sys_block_ssds_by_size_hdds_by_count(tmp_path):
    make_disks(tmp_path, {"nvme0n1": (1_953_525_168, "0"), "sda": (3_907_029_168, "1"),
                          "loop0": (1000, "0"), "dm-0": (500_000, "0"), "sr0": (2_097_151, "1")})
    ssd_gb, hdds = footprint.disks(str(tmp_path))
    assert ssd_gb == pytest.approx(1_953_525_168 * 512 / 1e9) and hdds == 1
    assert footprint.disks(str(tmp_path / "elsewhere")) == (0.0, 0)


def test_a_physical_machine_with_a_gpu_counts_every_part_whole(tmp_path, monkeypatch):
    install(monkeypatch, [FakeGpu(Constant(300.0), update_s=0.1)])
    root = make_disks(make_guest_tree(tmp_path), {"nvme0n1": (1_953_525_168, "0")})
    discovery = discover(HardwareSpec(powercap_root=str(tmp_path / "none")), SERVER, 0.0, guest_root=str(root))
    assert not discovery.guest.is_guest and discovery.disks[1] == 0
    basis = footprint.embodied_basis(SERVER, discovery.guest, {"gpu:0": discovery.gpus[0].name}, None,
                                     discovery.disks)
    expected = embodied_g_per_s(Hardware(ram_gb=384, cpu_sockets=2, cpu_cores=20, ssd_gb=discovery.disks[0],
                                         gpu_models=("NVIDIA H100 80GB HBM3",)))
    assert dict(basis.rates_g_per_s) == expected and basis.guest is None
    # the H100 board: 575 kg over 4 years
    assert basis.rates_g_per_s["gpu:0"].value == pytest.approx(575.1 * 1000 / (4 * 365.25 * 86400), rel=1e-3)
    assert "2 x 20-core CPU, 384 GB RAM, 1000 GB SSD, 0 HDD, GPUs: NVIDIA H100 80GB HBM3" in basis.hardware_text


def test_a_container_counts_its_limits_share_of_the_host_it_sees():
    guest = GuestFacts(cpu_limit=8.0, memory_limit_gb=96.0)
    basis = footprint.embodied_basis(SERVER, guest, {}, None, (1000.0, 0))
    whole = footprint.embodied_basis(SERVER, GuestFacts(), {}, None, (1000.0, 0))
    assert basis.guest == GuestShare(vcpus=8.0, host_threads=80, ram_gb=96.0)
    for part in ("cpu", "storage", "platform"):
        assert basis.rates_g_per_s[part].value == pytest.approx(whole.rates_g_per_s[part].value * 8 / 80)
    assert basis.rates_g_per_s["ram"].value == pytest.approx(whole.rates_g_per_s["ram"].value * 96 / 384)
    assert basis.hardware_text.startswith("container: 8 of 80 threads and 96 GB of its host")


def test_a_virtual_machine_is_a_share_of_an_assumed_host_said_so():
    vm = MachineFacts(cpu_model="AMD EPYC 7B13", cpu_count=4, cpu_physical_count=2, cpu_sockets=1,
                      cpu_architecture="x86_64", ram_total_bytes=16 * 10**9, os="Linux", python_version="3.11")
    basis = footprint.embodied_basis(vm, GuestFacts(hypervisor=True), {}, None, (100.0, 0))
    assert basis.guest == GuestShare(vcpus=4.0, host_threads=128, ram_gb=16.0)
    host = Hardware(ram_gb=16 * 32, cpu_sockets=2, cpu_cores=32, ssd_gb=100 * 32)
    assert basis.hardware == host
    assert dict(basis.rates_g_per_s) == embodied_g_per_s(host, guest=GuestShare(vcpus=4.0, host_threads=128,
                                                                                 ram_gb=16.0))
    assert "an assumed host of 2 x 32-core CPUs, 128 threads" in basis.hardware_text


def test_process_mode_takes_each_parts_share_as_energy_does_shared_parts_the_cpus():
    rates = {"cpu": Band(2.0, 1.0, 3.0), "ram": Band(4.0, 2.0, 6.0), "storage": Band(1.0, 1.0, 1.0),
             "platform": Band(3.0, 2.0, 4.0), "gpu:1": Band(10.0, 4.0, 16.0)}
    basis = footprint.EmbodiedBasis(rates, 4.0, Hardware(ram_gb=8), None, "")
    kinds = footprint.embodied_kg(basis, 10.0, {"cpu": 0.25, "ram": 0.5, "gpu:1": 1.0})
    assert kinds["cpu"] == Band(2.0 * 10 * 0.25 / 1000, 1.0 * 10 * 0.25 / 1000, 3.0 * 10 * 0.25 / 1000)
    assert kinds["ram"].value == pytest.approx(4.0 * 10 * 0.5 / 1000)
    assert kinds["storage"].value == pytest.approx(1.0 * 10 * 0.25 / 1000)
    assert kinds["platform"].value == pytest.approx(3.0 * 10 * 0.25 / 1000)
    assert kinds["gpu"].value == pytest.approx(10.0 * 10 / 1000)
    machine = footprint.embodied_kg(basis, 10.0, {})
    assert machine["cpu"].value == pytest.approx(2.0 * 10 / 1000)


def test_a_process_mode_record_has_less_embodied_than_the_machines():
    _, machine = record(country_iso_code="FRA")
    _, process = record(country_iso_code="FRA", tracking_mode="process")
    per_second_machine = machine.embodied_emissions / machine.duration
    per_second_process = process.embodied_emissions / process.duration
    assert 0 < per_second_process < per_second_machine


def test_a_records_figures_are_exactly_the_sums_of_its_parts_footprint_on_or_off():
    """build_record's per-kind lists and positional fields (issue 17) keep every figure's
    arithmetic: kWh per kind with PUE, their sum, the band, water and embodied by kind."""
    import dataclasses

    from carbon_magic.core.record import FOOTPRINT_COLUMNS, EmissionsData, RunInfo, build_record
    from carbon_magic.core.units import j_to_kwh

    tracker = EmissionsTracker(**OFFLINE, country_iso_code="FRA", pue=1.3, wue=1.7)
    tracker.start()
    time.sleep(0.02)
    window = tracker.window(tracker.start_reading, tracker.sampler.read())
    tracker.stop()
    bands = {"cpu": (0.5, 2.0)}
    run = RunInfo("p", "r", None, "machine", 1.3, 1.7, tracker._location, tracker._intensity, tracker.sampler.facts,
                  ("A", "B", "A"), bands, tracker.footprint())
    data = build_record(window, run)
    energy_j = window.energy_j()
    kwh = {kind: j_to_kwh(sum(j for c, j in energy_j.items() if c.split(":")[0] == kind)) * 1.3
           for kind in ("cpu", "gpu", "ram", "platform")}
    assert (data.cpu_energy, data.gpu_energy, data.ram_energy, data.platform_energy) == tuple(kwh.values())
    assert data.energy_consumed == sum(kwh.values()) and data.water_consumed == data.energy_consumed * 1.7
    low = sum(j * bands.get(c, (1.0, 1.0))[0] for c, j in energy_j.items()) / sum(energy_j.values())
    assert data.energy_low == data.energy_consumed * low and data.emissions_low == data.emissions * low
    assert (data.gpu_count, data.gpu_model) == (3, "2 x A, 1 x B")
    water = run.footprint.water
    assert data.water_offsite_low == data.energy_consumed * low * water.offsite.low_l_per_kwh
    assert data.water_total == data.water_onsite + data.water_offsite
    kinds = footprint.embodied_kg(run.footprint.embodied, window.duration_s, window.process_shares())
    assert data.embodied_emissions == sum(band.value for band in kinds.values())
    assert [data.embodied_storage, data.embodied_gpu] == [kinds["storage"].value, 0.0]
    off = build_record(window, dataclasses.replace(run, footprint=None))
    defaults = {f.name: f.default for f in dataclasses.fields(EmissionsData)}
    assert [getattr(off, name) for name in FOOTPRINT_COLUMNS] == [defaults[name] for name in FOOTPRINT_COLUMNS]
    assert dataclasses.replace(off, **{name: getattr(data, name) for name in FOOTPRINT_COLUMNS}) == data


def test_a_trackers_footprint_is_kept_between_records_and_follows_a_new_location():
    import dataclasses

    tracker = EmissionsTracker(**OFFLINE, country_iso_code="FRA")
    first = tracker.footprint()
    assert tracker.footprint() is first and first.embodied is not None
    tracker._location = dataclasses.replace(tracker._location, country_iso_code="CAN", region="QC")
    moved = tracker.footprint()
    assert moved is not first and moved.water.offsite.label.startswith("Quebec") and moved.embodied is first.embodied
