"""A virtual machine's or container's share of its host's wall power.

Two ways, by what is known about the host (docs/power-model.md, "Guests"):

- the host's facts (sockets, cores, threads, RAM): the SPECpower machine model of the host,
  of which the guest gets ``vcpus / host threads`` of the CPU and platform power and its own
  GB of the host's RAM power per GB. Assumption: the host's other tenants run at the guest's
  load (the machine CPU load a guest sees is its own).
- only the CPU's name (a cloud VM: "AMD EPYC 7B13", or just "AMD EPYC"): Cloud Carbon
  Footprint's published minimum and maximum watts per vCPU of the CPU's microarchitecture
  (``carbon_magic/data/vcpu_power.csv``; derived by CCF from SPECpower whole-server results,
  so they hold the platform's share too), linear in the load as CCF uses them; for a
  microarchitecture CCF does not list, or a CPU named only by its vendor, the average of that
  vendor's rows; with no vendor either, the average of all rows. The CPU / platform split is
  the SPECpower model's at a typical socket; RAM is the SPECpower fit's W per GB for the CPU's
  launch year (the data's latest where unknown).

For a container, ``vcpus`` is its CPU limit (cgroup quota / period) or the host's threads
where unlimited, and ``ram_gb`` its memory limit or use. Stdlib only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .cpu_catalog import cpu_generation, cpu_vendor
from .package_data import csv_rows
from .power_model import (
    PowerCurve, launch_year_of, machine_power_model, model_table, ram_w_per_gb, require_positive,
)

VCPU_FILE = "vcpu_power.csv"
VCPU_COLUMNS = ("microarchitecture", "vendor", "min_w_per_vcpu", "max_w_per_vcpu")
VCPU_SOURCE = "Cloud Carbon Footprint's min/max watts per vCPU"


@dataclass(frozen=True)
class HostFacts:
    """The host machine of a guest: its totals over all sockets, and one package's TDP if known."""

    sockets: int
    cores: int
    threads: int
    ram_gb: float
    tdp_w: float | None = None


@dataclass(frozen=True)
class VcpuPower:
    """Watts per vCPU at idle and at full load, and which rows of the table they come from;
    ``spread``: the lowest and highest mid-load watts of those rows over their average."""

    min_w: float
    max_w: float
    rows: tuple[str, ...]
    spread: tuple[float, float] = (1.0, 1.0)


@functools.lru_cache(maxsize=1)
def _vcpu_rows() -> dict[str, tuple[str, float, float]]:
    """microarchitecture -> (vendor, min W, max W), read once."""
    return {arch: (vendor, float(low), float(high))
            for arch, vendor, low, high in csv_rows(VCPU_FILE, VCPU_COLUMNS)}


def vcpu_power(cpu_model: str) -> VcpuPower:
    """The per-vCPU coefficients for a host CPU: its microarchitecture's, else its vendor's average, else all."""
    rows = _vcpu_rows()
    generation = cpu_generation(cpu_model)
    if generation is not None and generation.microarchitecture in rows:
        chosen = [generation.microarchitecture]
    else:
        vendor = cpu_vendor(cpu_model)
        chosen = [arch for arch, (row_vendor, _, _) in rows.items() if row_vendor == vendor] or list(rows)
    min_w = sum(rows[arch][1] for arch in chosen) / len(chosen)
    max_w = sum(rows[arch][2] for arch in chosen) / len(chosen)
    mids = [(rows[arch][1] + rows[arch][2]) / 2 for arch in chosen]
    average = (min_w + max_w) / 2
    return VcpuPower(min_w=min_w, max_w=max_w, rows=tuple(chosen), spread=(min(mids) / average, max(mids) / average))


def guest_power_model(*, vcpus: float, ram_gb: float, cpu_model: str, host: HostFacts | None = None) -> PowerCurve:
    """The guest's (cpu, ram, platform) watts as a function of its CPU load (0.0 .. 1.0)."""
    require_positive("vcpus", vcpus, "the guest's vCPUs (or a container's CPU limit), a number > 0")
    require_positive("ram_gb", ram_gb, "the guest's RAM in GB, a number > 0")
    if host is not None:
        return _share_of_host(vcpus, ram_gb, cpu_model, host)
    table = model_table()
    per_vcpu = vcpu_power(cpu_model)
    typical_tdp_w = table["fallbacks"]["typical_tdp_w_per_socket"]
    year = min(launch_year_of(table, cpu_model)[0], table["fitted_ranges"]["launch_year"][1])
    ram_w = ram_w_per_gb(table, year) * ram_gb
    levels = []
    for load, split in zip(table["load_levels"], table["split_coefficients"]):
        cpu_and_platform_w = vcpus * (per_vcpu.min_w + (per_vcpu.max_w - per_vcpu.min_w) * load)
        cpu_w_per_socket = split["cpu_w_per_tdp_w"] * typical_tdp_w
        cpu_share = cpu_w_per_socket / (cpu_w_per_socket + split["platform_w_per_socket"])
        levels.append((cpu_and_platform_w * cpu_share, ram_w, cpu_and_platform_w * (1 - cpu_share)))
    basis = (f"guest share: {vcpus:g} vCPUs x {VCPU_SOURCE} ({per_vcpu.min_w:.2f} .. {per_vcpu.max_w:.2f} W, "
             f"{'average of ' if len(per_vcpu.rows) > 1 else ''}{', '.join(per_vcpu.rows)} for host CPU "
             f"'{cpu_model}', an assumption) + {ram_gb:.3g} GB x {ram_w / ram_gb:.2f} W per GB (the SPECpower fit's, "
             f"for a CPU of {year:g})")
    return PowerCurve(load_levels=tuple(table["load_levels"]), levels_w=tuple(levels), basis=basis)


def _share_of_host(vcpus: float, ram_gb: float, cpu_model: str, host: HostFacts) -> PowerCurve:
    machine = machine_power_model(cpu_model=cpu_model, sockets=host.sockets, cores=host.cores,
                                  threads=host.threads, ram_gb=host.ram_gb, tdp_w=host.tdp_w)
    share = min(vcpus / host.threads, 1.0)
    ram_share = min(ram_gb / host.ram_gb, 1.0)
    levels = tuple((cpu * share, ram * ram_share, platform * share) for cpu, ram, platform in machine.levels_w)
    basis = (f"guest share of its host: {vcpus:g} of {host.threads} threads, {ram_gb:g} of {host.ram_gb:g} GB, "
             f"host at the guest's load (an assumption); host: {machine.basis}")
    return PowerCurve(load_levels=machine.load_levels, levels_w=levels, basis=basis, band=machine.band)
