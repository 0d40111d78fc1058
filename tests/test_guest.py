"""Guest detection (core/guest.py) on fake trees, and the guest's share in discovery."""

from __future__ import annotations

import pytest

from carbon_magic.core.guest import GuestFacts, detect_guest
from carbon_magic.core.guest_power import guest_power_model, vcpu_power
from carbon_magic.core.load import LoadSample
from carbon_magic.core.machine import MachineFacts
from carbon_magic.core.meters import HardwareSpec, discover
from carbon_magic.core.power_model import error_band
from tests.fakes.guest import make_guest_tree

# This VM as machine_facts() reads it: a 2-vCPU AMD EPYC guest with 24 GiB.
EPYC_VM = MachineFacts(cpu_model="AMD EPYC", cpu_count=2, cpu_physical_count=1, cpu_sockets=1,
                       cpu_architecture="x86_64", ram_total_bytes=24 * 2**30, os="Linux", python_version="3.11")


def load_at(cpu_load: float, dt_s: float) -> LoadSample:
    return LoadSample(now=dt_s, dt_s=dt_s, cpu_load=cpu_load, machine_busy_s=0.0, process_cpu_s=0.0,
                      rss_share=0.5, ram_used_gb=1.0, ram_util=0.1)


def test_bare_tree_is_not_a_guest(tmp_path):
    facts = detect_guest(str(make_guest_tree(tmp_path)))
    assert facts == GuestFacts() and not facts.is_guest and facts.describe() == ""


def test_hypervisor_flag_makes_a_virtual_machine(tmp_path):
    facts = detect_guest(str(make_guest_tree(tmp_path, hypervisor=True)))
    assert facts.hypervisor and facts.virtual_machine and facts.is_guest
    assert "hypervisor CPU flag" in facts.describe()


@pytest.mark.parametrize("vendor, product", [("QEMU", "Standard PC (Q35 + ICH9, 2009)"),
                                             ("Microsoft Corporation", "Virtual Machine"),
                                             ("Amazon EC2", "m6a.large"), ("Google", "Google Compute Engine")])
def test_dmi_of_a_hypervisor_or_cloud_makes_a_virtual_machine(tmp_path, vendor, product):
    """ARM guests have no hypervisor CPU flag: DMI tells."""
    facts = detect_guest(str(make_guest_tree(tmp_path, sys_vendor=vendor, product_name=product)))
    assert not facts.hypervisor and facts.virtual_machine and facts.dmi == f"{vendor} {product}"


def test_dmi_of_a_physical_server_is_not_a_guest(tmp_path):
    facts = detect_guest(str(make_guest_tree(tmp_path, sys_vendor="Dell Inc.", product_name="PowerEdge R740")))
    assert not facts.is_guest


def test_cgroup_limits_make_a_container(tmp_path):
    facts = detect_guest(str(make_guest_tree(tmp_path, cpu_max="150000 100000", memory_max=str(4 * 10**9))))
    assert facts.cpu_limit == 1.5 and facts.memory_limit_gb == 4.0 and facts.is_guest and not facts.virtual_machine
    assert "container CPU limit 1.5 vCPUs" in facts.describe() and "4.0 GB" in facts.describe()


def test_unlimited_or_garbled_cgroup_files_are_no_limit(tmp_path):
    assert not detect_guest(str(make_guest_tree(tmp_path, cpu_max="max 100000", memory_max="max"))).is_guest
    assert not detect_guest(str(make_guest_tree(tmp_path, cpu_max="half", memory_max="lots"))).is_guest


def test_this_vm_is_modelled_as_a_guest_share_with_a_widened_band(tmp_path):
    """A 2-vCPU 'AMD EPYC' VM: per-vCPU watts by the average of the AMD rows (an assumption, said),
    RAM by watts per GB, and a band: the validated one widened by the rows' spread."""
    discovery = discover(HardwareSpec(powercap_root=str(tmp_path / "none")), EPYC_VM, 0.0,
                         guest_root=str(make_guest_tree(tmp_path, hypervisor=True)))
    meters = {meter.component: meter for meter in discovery.meters}
    assert set(meters) == {"cpu", "ram", "platform"}
    curve = guest_power_model(vcpus=2, ram_gb=EPYC_VM.ram_total_gb, cpu_model="AMD EPYC")
    for component, meter in meters.items():
        assert not meter.exact
        assert meter.read(10.0, load_at(0.4, 10.0)) == pytest.approx(10.0 * curve.power_w(0.4)[component])
        assert meter.method.startswith("modelled: guest share, per-vCPU model")
        assert "virtual machine (hypervisor CPU flag)" in meter.method and "an assumption" in meter.method
    spread = vcpu_power("AMD EPYC").spread
    band = error_band()
    assert spread[0] < 1 < spread[1]
    assert meters["cpu"].band == pytest.approx((band.measured_low_ratio * spread[0], band.measured_high_ratio * spread[1]))
    watts = {c: m.power_w() for c, m in meters.items()}
    assert 1.0 < watts["cpu"] + watts["platform"] < 5.0  # 2 vCPUs x 0.58 .. 2.09 W
    assert watts["ram"] < 10.0  # not CodeCarbon's 4 DIMMs x 5 W


def test_container_limits_are_the_guest_size(tmp_path):
    root = make_guest_tree(tmp_path, cpu_max="50000 100000", memory_max=str(2 * 10**9))
    discovery = discover(HardwareSpec(powercap_root=str(tmp_path / "none")), EPYC_VM, 0.0, guest_root=str(root))
    curve = guest_power_model(vcpus=0.5, ram_gb=2.0, cpu_model="AMD EPYC")
    ram = next(m for m in discovery.meters if m.component == "ram")
    assert ram.read(4.0, load_at(0.0, 4.0)) == pytest.approx(4.0 * curve.power_w(0.0)["ram"])
    assert "container CPU limit 0.5 vCPUs" in ram.method
