"""The modelled power curve of this machine, chosen once in discovery, and what to say about it.

A physical machine: the SPECpower machine model (``core.power_model``) of its CPU, sockets,
cores, threads and RAM, with its cross-validated band. A guest (``core.guest``: a virtual
machine or a container): its share by ``core.guest_power`` from its vCPUs (a container's CPU
limit) and RAM (its memory limit), per vCPU by the host CPU's vendor and generation, an
assumption; its band is the SPECpower model's widened by the spread of the per-vCPU rows it
averages (an assumption too: these coefficients are not validated here).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..guest import GuestFacts
from ..guest_power import guest_power_model, vcpu_power
from ..machine import MachineFacts
from ..power_model import ErrorBand, PowerCurve, error_band, machine_power_model


@dataclass(frozen=True)
class MachineCurve:
    """The curve, its (low, high) ratio band over all loads, and its method text for each component."""

    curve: PowerCurve
    band: tuple[float, float]
    band_text: str
    label: str
    basis: str

    def method(self, reason: str) -> str:
        """'modelled: <label> (<band>); <basis>; <reason>' (``Meter.method``)."""
        return f"modelled: {self.label} ({self.band_text}); {self.basis}; {reason}"


def _band_text(band: ErrorBand, low: float, high: float, how: str) -> str:
    return (f"{how} p{band.low_percentile:g}..p{band.high_percentile:g} band x{low:.2f}..x{high:.2f}, "
            f"median error {band.median_abs_error:.0%} on {band.servers} SPEC servers of CPU models the fit did not see")


def machine_curve(facts: MachineFacts, guest: GuestFacts) -> MachineCurve:
    """The curve of this machine (a guest's share on a guest)."""
    band = error_band()
    if not guest.is_guest:
        curve: PowerCurve = machine_power_model(
            cpu_model=facts.cpu_model, sockets=facts.cpu_sockets, cores=max(facts.cpu_physical_count, facts.cpu_sockets),
            threads=max(facts.cpu_count, facts.cpu_physical_count, facts.cpu_sockets), ram_gb=facts.ram_total_gb)
        low, high = band.measured_low_ratio, band.measured_high_ratio
        return MachineCurve(curve, (low, high), _band_text(band, low, high, "cross-validated"),
                            "SPECpower machine model", curve.basis)
    vcpus = guest.cpu_limit if guest.cpu_limit is not None else float(facts.cpu_count)
    ram_gb = min(guest.memory_limit_gb or facts.ram_total_gb, facts.ram_total_gb)
    curve = guest_power_model(vcpus=vcpus, ram_gb=ram_gb, cpu_model=facts.cpu_model)
    rows = vcpu_power(facts.cpu_model)
    spread = rows.spread
    low, high = band.measured_low_ratio * spread[0], band.measured_high_ratio * spread[1]
    how = (f"assumed: the SPECpower model's cross-validated band widened x{spread[0]:.2f}..x{spread[1]:.2f} "
           f"by the spread of the {len(rows.rows)} per-vCPU rows averaged;")
    return MachineCurve(curve, (low, high), _band_text(band, low, high, how),
                        "guest share, per-vCPU model", f"{guest.describe()}: {curve.basis}")

