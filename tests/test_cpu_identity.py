"""The CPU's name as each OS gives it (the macOS and Windows readers also run on simulated
platforms: tests/platforms/simulated_checks.py)."""

from __future__ import annotations

import csv
import dataclasses
import re
from importlib import resources

import pytest

from carbon_magic.core import cpu_identity
from carbon_magic.core.cpu_identity import CpuIdentity, arm_part_name, read_cpu_identity
from carbon_magic.core.machine import MachineFacts
from carbon_magic.core.guest import GuestFacts
from carbon_magic.core.meters.machine_curve import machine_curve

# /proc/cpuinfo of ARM machines: no "model name", only the ids (abridged to one core)
GRAVITON3 = "processor\t: 0\nBogoMIPS\t: 2100.00\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd40\nCPU revision\t: 1\n"
RASPBERRY_PI_4 = "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n"
UNKNOWN_PART = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xfff\n"


def linux_identity(tmp_path, monkeypatch, cpuinfo: str) -> CpuIdentity:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    monkeypatch.setattr(cpu_identity, "CPUINFO_PATH", str(path))
    monkeypatch.setattr(cpu_identity.sys, "platform", "linux")
    identity = read_cpu_identity()
    return dataclasses.replace(identity, source=identity.source.replace(str(path), "/proc/cpuinfo"))


# Two sockets of two cores, the first core with two threads (hyper-threading siblings).
TWO_SOCKETS = "".join(f"processor\t: {n}\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n"
                      f"physical id\t: {socket}\nsiblings\t: 3\ncore id\t\t: {core}\n\n"
                      for n, (socket, core) in enumerate([(0, 0), (0, 0), (0, 1), (1, 0), (1, 1)]))


def facts_for(identity: CpuIdentity, threads: int) -> MachineFacts:
    return MachineFacts(cpu_model=identity.model, cpu_count=threads, cpu_physical_count=threads, cpu_sockets=1,
                        cpu_architecture="aarch64", ram_total_bytes=8 << 30, os="Linux", python_version="3.11",
                        cpu_identity=identity)


def model_basis(identity: CpuIdentity, threads: int) -> str:
    """What the machine power model says it knows of this CPU (a physical machine)."""
    return machine_curve(facts_for(identity, threads), GuestFacts()).method("")


def test_this_machines_cpu_is_read_from_proc_cpuinfo():
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        names = re.findall(r"^model name\s*:\s*(.+)$", handle.read(), re.MULTILINE)
    identity = read_cpu_identity()
    assert identity.model == names[0].strip() and identity.source == "/proc/cpuinfo model name"


def test_graviton3_is_named_from_its_part_id(tmp_path, monkeypatch):
    identity = linux_identity(tmp_path, monkeypatch, GRAVITON3)
    assert identity.model == "Neoverse-V1 (AWS Graviton3)"
    assert identity.source == "/proc/cpuinfo CPU implementer 0x41 part 0xd40"
    # not in the TDP table: named, the data's median TDP per core, said so
    assert "(Neoverse-V1 (AWS Graviton3): TDP 280 W per socket, not in the CPU table" in model_basis(identity, 64)


def test_a_raspberry_pi_4_reaches_its_cpu_table_row(tmp_path, monkeypatch):
    identity = linux_identity(tmp_path, monkeypatch, RASPBERRY_PI_4)
    assert identity.model == "Cortex-A72 (Raspberry Pi 4)"
    assert "(Cortex-A72 (Raspberry Pi 4): TDP 7.5 W per socket, CPU table: Cortex-A72;" in model_basis(identity, 4)


@pytest.mark.parametrize("cpuinfo, source", [
    (UNKNOWN_PART, "/proc/cpuinfo CPU implementer 0x41 part 0xfff: not in arm_cpu_parts.csv"),
    ("processor\t: 0\n", "/proc/cpuinfo names no model"),
])
def test_an_unnamed_cpu_is_unknown_never_its_architecture(tmp_path, monkeypatch, cpuinfo, source):
    """platform.processor() gives "x86_64" or "aarch64" on Linux: an architecture, not a model."""
    identity = linux_identity(tmp_path, monkeypatch, cpuinfo)
    assert identity == CpuIdentity("", source)
    assert "(CPU model unknown: TDP " in model_basis(identity, 8)


def test_every_arm_part_in_the_table_is_named_once():
    text = resources.files("carbon_magic.data").joinpath(cpu_identity.ARM_PARTS_FILE).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len({(row["implementer"], row["part"]) for row in rows}) == len(rows) > 0
    for row in rows:
        assert arm_part_name(row["implementer"], row["part"].upper().replace("0X", "0x")) == row["name"]
    assert arm_part_name("0x41", "not hex") == ""


def test_the_cpu_identity_says_where_it_came_from():
    identity = CpuIdentity("Apple M2 Pro", "sysctl machdep.cpu.brand_string", performance_cores=8, efficiency_cores=4)
    assert identity.description == "Apple M2 Pro, 8 performance + 4 efficiency cores (sysctl machdep.cpu.brand_string)"
    assert CpuIdentity("", "/proc/cpuinfo names no model").description == "model unknown (/proc/cpuinfo names no model)"


def status_output(monkeypatch, capsys) -> str:
    """What ``%carbon status`` prints in a fresh shell with carbon_magic loaded, once discovery
    has finished (status waits for it; a loaded machine may take longer than a user is made to)."""
    from carbon_magic.ipython import extension
    from tests.ipython_helpers import loaded_shell

    monkeypatch.setattr(extension, "STATUS_WAIT_S", 300.0)
    shell = loaded_shell(monkeypatch)
    try:
        capsys.readouterr()
        shell.run_line_magic("carbon", "status")
        return capsys.readouterr().out
    finally:
        shell.extension_manager.unload_extension("carbon_magic")


def test_status_names_this_machines_cpu_and_where_it_was_read(isolated, monkeypatch, capsys):
    out = status_output(monkeypatch, capsys)
    assert f"CPU: {read_cpu_identity().description}" in out and "(/proc/cpuinfo model name)" in out


def test_sockets_and_physical_cores_are_counted_from_proc_cpuinfo(tmp_path, monkeypatch):
    identity = linux_identity(tmp_path, monkeypatch, TWO_SOCKETS)
    assert (identity.sockets, identity.physical_cores) == (2, 4)
    assert linux_identity(tmp_path, monkeypatch, GRAVITON3).physical_cores == 0  # ARM's cpuinfo does not say


def test_this_machines_facts_are_psutils_and_platforms_without_their_cost(monkeypatch):
    """The physical cores and memory from /proc (psutil's figures), the os column as
    platform.platform() says it, made without it (it starts a `uname -p` subprocess)."""
    import platform

    import psutil

    from carbon_magic.core import machine

    def not_called(*args, **kwargs):
        raise AssertionError("platform.platform() was called")

    expected_os = platform.platform()
    machine.machine_facts.cache_clear()
    monkeypatch.setattr(platform, "platform", not_called)
    try:
        facts = machine.machine_facts()
    finally:
        machine.machine_facts.cache_clear()
    assert facts.cpu_physical_count == psutil.cpu_count(logical=False)
    assert facts.ram_total_bytes == psutil.virtual_memory().total
    assert facts.os == expected_os and facts.os.startswith("Linux-")


def test_a_cpu_whose_cores_the_os_reader_does_not_count_gets_psutils_count(monkeypatch):
    import psutil

    from carbon_magic.core import machine

    monkeypatch.setattr(machine, "read_cpu_identity", lambda: CpuIdentity("Neoverse-V1", "test", physical_cores=0))
    machine.machine_facts.cache_clear()
    try:
        assert machine.machine_facts().cpu_physical_count == psutil.cpu_count(logical=False)
    finally:
        machine.machine_facts.cache_clear()
