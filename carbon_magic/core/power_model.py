"""Wall power of a machine without energy counters, from the SPECpower-fitted model.

The model (fitted by ``scripts/fit_power_model.py`` on SPEC power_ssj2008 results, shipped as
``carbon_magic/data/power_model.json``; explained in ``docs/power-model.md``):

- at each SPEC load level (active idle, 10 %, ..., 100 %), the logarithm of the machine's wall
  power is linear in a few terms of its facts: log sockets, log TDP per socket, log cores,
  log threads, log RAM GB, the CPU's launch year (and its square), and the candidate terms
  (squares, a cube, interactions: ``CANDIDATE_TERMS``) that the fit's nested cross-validation
  selected (the table's ``features``), plus, at the levels where the fit's inner cross-validation
  chose them, an offset per CPU microarchitecture (the table's ``generation_offsets``; shrunk
  towards 0, and 0 for a microarchitecture the data lacks);
- between levels, power is interpolated linearly in the machine's CPU load (0.0 to 1.0); a
  level never draws less than the level below it;
- facts below the range of the data (a 1-core VM, a 2003 launch year) and launch years after
  it are moved to the nearest value the data has, and the basis says so; bigger machines
  than the data's follow the fitted power laws;
- the wall power is split into ``cpu``, ``ram`` and ``platform`` (board, fans, disks, power
  supply losses) in proportion to three parts fitted on the same data: the platform per
  socket and the CPU per W of TDP (an additive fit per level), and the RAM per GB, which
  falls with the launch year (what more RAM adds to servers otherwise alike).

``machine_power_model`` does the per-machine work once (CPU lookup, features, the eleven levels);
``MachinePowerModel.power_w(load)`` is then a few multiplications, cheap enough for every cell
boundary. ``estimate_power_w`` is the one-call convenience. ``error_band()`` is the model's
cross-validated error on CPU models it was not fitted on; ``PowerCurve.bounds_w(load)`` the
low and high watts per component that it implies.

Stdlib only: the table is read on first use and kept.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from dataclasses import dataclass
from typing import Any, cast

from .cpu_catalog import cpu_generation, lookup_tdp
from .package_data import data_text

TABLE_FILE = "power_model.json"
COMPONENTS = ("cpu", "ram", "platform")
REFERENCE_YEAR = 2012
# The facts whose range in the data bounds the model (``fitted_ranges`` of the table). Below the
# range (a 1-core VM), and for the launch year above it too, the nearest fitted value is used;
# above it, the log-linear power laws go on (in a split by launch year, servers of newer, bigger
# CPUs than the fit had seen were predicted better so: docs/power-model.md).
FITTED_FACTS = ("sockets", "tdp_w_per_socket", "cores", "threads", "ram_gb", "launch_year")
CAPPED_FACTS = ("launch_year",)
# Every model has these terms; the fit adds the ``CANDIDATE_TERMS`` that its nested
# cross-validation selects (the table's ``features`` lists the terms of the shipped model).
BASE_TERMS = ("intercept", "log_sockets", "log_tdp_w_per_socket", "log_cores", "log_threads", "log_ram_gb",
              "years_since_2012", "years_since_2012_squared")
CANDIDATE_TERMS = ("squared_log_ram_gb_per_socket", "squared_log_tdp_w_per_socket", "squared_log_cores",
                   "squared_log_threads", "squared_log_ram_gb", "years_since_2012_cubed",
                   "years_x_log_tdp_w_per_socket", "years_x_log_sockets", "years_x_log_cores", "years_x_log_ram_gb")


def model_terms(fitted: dict[str, float], inside: dict[str, float]) -> dict[str, float]:
    """Every term the model may use (``BASE_TERMS`` and ``CANDIDATE_TERMS``) of one machine.

    ``fitted``: the machine's ``FITTED_FACTS`` as the model uses them (raised to the data's
    minimum, the year capped); ``inside``: the same, also lowered to the data's maximum, for the
    squared terms, so that the curvature of a fact stops at the edge of the data and a bigger
    machine follows the power law of the linear terms. Shared with the fit.
    """
    years = fitted["launch_year"] - REFERENCE_YEAR
    logs = {name: math.log(fitted[name]) for name in FITTED_FACTS if name != "launch_year"}
    edge = {name: math.log(inside[name]) for name in FITTED_FACTS if name != "launch_year"}
    return {
        "intercept": 1.0, "log_sockets": logs["sockets"], "log_tdp_w_per_socket": logs["tdp_w_per_socket"],
        "log_cores": logs["cores"], "log_threads": logs["threads"], "log_ram_gb": logs["ram_gb"],
        "years_since_2012": years, "years_since_2012_squared": years ** 2, "years_since_2012_cubed": years ** 3,
        "squared_log_ram_gb_per_socket": (edge["ram_gb"] - edge["sockets"]) ** 2,
        "squared_log_tdp_w_per_socket": edge["tdp_w_per_socket"] ** 2, "squared_log_cores": edge["cores"] ** 2,
        "squared_log_threads": edge["threads"] ** 2, "squared_log_ram_gb": edge["ram_gb"] ** 2,
        "years_x_log_tdp_w_per_socket": years * logs["tdp_w_per_socket"], "years_x_log_sockets": years * logs["sockets"],
        "years_x_log_cores": years * logs["cores"], "years_x_log_ram_gb": years * logs["ram_gb"],
    }


def bounded_facts(facts: dict[str, float], ranges: dict[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
    """``facts`` as the model uses them (``fitted``) and lowered to the data's maximum too
    (``inside``): the two arguments of ``model_terms``."""
    fitted = {name: _in_fitted_range(name, value, ranges[name]) for name, value in facts.items()}
    inside = {name: min(value, ranges[name][1]) for name, value in fitted.items()}
    return fitted, inside


@functools.lru_cache(maxsize=1)
def model_table() -> dict[str, Any]:
    """The packaged, fitted table (``carbon_magic/data/power_model.json``), read once."""
    table: dict[str, Any] = json.loads(data_text(TABLE_FILE))
    unknown = set(table["features"]) - set(BASE_TERMS + CANDIDATE_TERMS)
    if unknown:
        raise ValueError(f"{TABLE_FILE}: its features {sorted(unknown)} are not terms of this version "
                         f"(known: {', '.join(BASE_TERMS + CANDIDATE_TERMS)})")
    return table


@dataclass(frozen=True)
class ErrorBand:
    """How far the model's wall power was from the measured one, on CPU models it was not fitted on.

    ``measured_low_ratio`` .. ``measured_high_ratio`` times an estimate holds the measured power
    in ``coverage_percent`` % of the validation points: they are 1 / (1 + e) for the signed
    errors e (predicted / measured - 1) at the ``high_percentile`` and ``low_percentile``
    (95th and 5th for 90 %), over every load level; ``low_ratio_by_level`` and
    ``high_ratio_by_level`` the same at each tabulated load level (the idle band is the widest).
    ``median_abs_error`` and ``p90_abs_error`` are fractions (0.10 = 10 %);
    ``signed_median_error`` is positive when the model overestimates.
    """

    coverage_percent: int
    low_percentile: float
    high_percentile: float
    measured_low_ratio: float
    measured_high_ratio: float
    median_abs_error: float
    p90_abs_error: float
    signed_median_error: float
    servers: int
    cpu_models: int
    folds: int
    low_ratio_by_level: tuple[float, ...]
    high_ratio_by_level: tuple[float, ...]

    @classmethod
    def of_table(cls, table: dict[str, Any]) -> ErrorBand:
        """The band of a fitted table (its ``validation``)."""
        validation = dict(table["validation"])
        for name in ("low_ratio_by_level", "high_ratio_by_level"):
            validation[name] = tuple(validation[name])
        return cls(**validation)

    def bounds_w(self, estimate_w: float) -> tuple[float, float]:
        """The (low, high) band around an estimate over all loads, in the estimate's unit."""
        return estimate_w * self.measured_low_ratio, estimate_w * self.measured_high_ratio


def error_band() -> ErrorBand:
    """The cross-validated error of the packaged model (grouped by CPU model)."""
    return ErrorBand.of_table(model_table())


def require_positive(name: str, value: Any, accepted: str, integer: bool = False) -> float:
    """``value`` if it is a finite number > 0 (a whole one if ``integer``), else a ValueError naming
    the argument, the value and what is accepted."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"power model: {name}={value!r} is not accepted; expected {accepted}")
    return value


def _load(load: Any) -> float:
    if isinstance(load, bool) or not isinstance(load, (int, float)) or not 0.0 <= load <= 1.0:
        raise ValueError(f"power_w: load={load!r} is not accepted; expected the machine's CPU load "
                         "as a number from 0.0 (idle) to 1.0 (full)")
    return float(load)


@dataclass(frozen=True)
class PowerCurve:
    """Watts per component as a function of the CPU load, linear between tabulated load levels.

    ``levels_w[i]`` is the (cpu, ram, platform) power in watts at ``load_levels[i]``; ``basis``
    says in words how the figures were obtained; ``band`` is the validated error of the model
    (None where the figures rest on a published coefficient that was not validated here).
    """

    load_levels: tuple[float, ...]
    levels_w: tuple[tuple[float, float, float], ...]
    basis: str
    band: ErrorBand | None = None

    def _between(self, load: float) -> tuple[int, float]:
        """The tabulated level just above ``load`` (at least the second) and ``load``'s weight
        between it and the level below."""
        load = _load(load)
        upper = min(max(bisect.bisect_left(self.load_levels, load), 1), len(self.load_levels) - 1)
        x0, x1 = self.load_levels[upper - 1], self.load_levels[upper]
        return upper, (load - x0) / (x1 - x0)

    def power_w(self, load: float) -> dict[str, float]:
        """Watts per component at this CPU load (0.0 idle .. 1.0 full); they sum to the wall power."""
        upper, weight = self._between(load)
        low, high = self.levels_w[upper - 1], self.levels_w[upper]
        return {name: a + (b - a) * weight for name, a, b in zip(COMPONENTS, low, high)}

    def total_w(self, load: float) -> float:
        """The wall power at this CPU load."""
        return sum(self.power_w(load).values())

    def bounds_w(self, load: float) -> dict[str, tuple[float, float]] | None:
        """Per component, the (low, high) watts at this CPU load: the band of the model's
        cross-validated error at this load (``band.coverage_percent`` % of the validation points
        at each level; linear between levels), applied to each component as to the wall power it
        is a share of. None where the figures were not validated (``band`` is None)."""
        if self.band is None:
            return None
        upper, weight = self._between(load)
        ratios = []
        for by_level in (self.band.low_ratio_by_level, self.band.high_ratio_by_level):
            ratios.append(by_level[upper - 1] + (by_level[upper] - by_level[upper - 1]) * weight)
        return {name: (watts * ratios[0], watts * ratios[1]) for name, watts in self.power_w(load).items()}

    def describe(self) -> str:
        """How the figures are obtained and how good the model is, in one line (for status views)."""
        band = self.band
        if band is None:
            return f"{self.basis}; not validated against measurements here"
        return (f"{self.basis}; cross-validated on {band.servers} SPEC servers of CPU models the fit did not see: "
                f"median error {band.median_abs_error:.0%}, {band.coverage_percent} % of measurements within "
                f"x{band.measured_low_ratio:.2f} .. x{band.measured_high_ratio:.2f} of the estimate")


@dataclass(frozen=True)
class MachinePowerModel(PowerCurve):
    """A whole machine's curve, with the TDP and launch year it was derived from and their sources."""

    cpu_name: str = ""
    tdp_w_per_socket: float = 0.0
    tdp_source: str = ""
    launch_year: float = 0.0
    year_source: str = ""


def _in_fitted_range(name: str, value: float, bounds: list[float]) -> float:
    """``value`` raised to the data's minimum, and for ``CAPPED_FACTS`` lowered to its maximum."""
    low, high = bounds
    return min(max(value, low), high) if name in CAPPED_FACTS else max(value, low)


def ram_w_per_gb(table: dict[str, Any], launch_year: float) -> float:
    """RAM watts per GB of a machine whose CPU launched in ``launch_year`` (the fit's DRAM trend)."""
    ram: dict[str, float] = table["ram"]
    return ram["w_per_gb_at_2012"] * math.exp(ram["log_change_per_year"] * (launch_year - REFERENCE_YEAR))


def _tdp_per_socket(table: dict[str, Any], cpu_model: str, tdp_w: float | None,
                    cores_per_socket: float) -> tuple[float, str]:
    if tdp_w is not None:
        return tdp_w, "given"
    match = lookup_tdp(cpu_model)
    if match is not None:
        return match.tdp_w, f"CPU table: {match.name}"
    per_core = table["fallbacks"]["tdp_w_per_core"]
    largest = table["fitted_ranges"]["tdp_w_per_socket"][1]
    return (min(per_core * cores_per_socket, largest),
            f"not in the CPU table: {per_core:g} W per core assumed (the data's median), at most {largest:g} W")


def launch_year_of(table: dict[str, Any], cpu_model: str) -> tuple[float, str, str | None]:
    """The CPU's launch year by its model number (else the table's fallback), where it came from,
    and the CPU's microarchitecture (None where the model number is unknown)."""
    generation = cpu_generation(cpu_model)
    if generation is not None:
        return (float(generation.launch_year), f"{generation.microarchitecture} by its model number",
                generation.microarchitecture)
    year = table["fallbacks"]["launch_year_unknown"]
    return (year, "unknown model number: the data's latest launch year assumed (a CPU missing from the tables is "
            "likely new)", None)


def machine_power_model(*, cpu_model: str, sockets: int, cores: int, threads: int, ram_gb: float,
                        tdp_w: float | None = None, table: dict[str, Any] | None = None) -> MachinePowerModel:
    """The per-machine model (all the work that does not depend on the load, done once).

    ``cores`` and ``threads`` are the machine's totals over all sockets; ``tdp_w`` the TDP of one
    CPU package (None: from the CPU table by ``cpu_model``); ``table`` a fitted table (None: the
    packaged one; the fit's cross-validation passes the table of each fold).
    """
    if not isinstance(cpu_model, str):
        raise ValueError(f"power model: cpu_model={cpu_model!r} is not accepted; expected the CPU name as a string")
    require_positive("sockets", sockets, "a whole number >= 1", integer=True)
    require_positive("cores", cores, "the machine's physical cores, a whole number >= sockets", integer=True)
    require_positive("threads", threads, "the machine's hardware threads, a whole number >= cores", integer=True)
    require_positive("ram_gb", ram_gb, "the machine's RAM in GB, a number > 0")
    if tdp_w is not None:
        require_positive("tdp_w", tdp_w, "one CPU package's TDP in watts, a number > 0, or None")
    if cores < sockets or threads < cores:
        raise ValueError(f"power model: sockets={sockets}, cores={cores}, threads={threads} are not "
                         "accepted; expected sockets <= cores <= threads (cores and threads are machine totals)")
    table = model_table() if table is None else table
    tdp_per_socket, tdp_source = _tdp_per_socket(table, cpu_model, tdp_w, cores / sockets)
    year, year_source, microarchitecture = launch_year_of(table, cpu_model)
    facts = {"sockets": sockets, "tdp_w_per_socket": tdp_per_socket, "cores": cores, "threads": threads,
             "ram_gb": ram_gb, "launch_year": year}
    fitted, inside = bounded_facts(facts, table["fitted_ranges"])
    terms = model_terms(fitted, inside)
    features = [terms[name] for name in table["features"]]
    levels: list[tuple[float, float, float]] = []
    floor_w = 0.0
    for coefficients, offsets, split in zip(table["log_power_coefficients"], table["generation_offsets"],
                                            table["split_coefficients"]):
        offset = offsets.get(microarchitecture, 0.0) if microarchitecture else 0.0
        floor_w = max(floor_w, math.exp(sum(c * f for c, f in zip(coefficients, features)) + offset))
        parts = (split["cpu_w_per_tdp_w"] * fitted["sockets"] * fitted["tdp_w_per_socket"],
                 ram_w_per_gb(table, fitted["launch_year"]) * fitted["ram_gb"],
                 split["platform_w_per_socket"] * fitted["sockets"])
        levels.append(cast("tuple[float, float, float]", tuple(floor_w * part / sum(parts) for part in parts)))
    moved = [f"{name} {facts[name]:g} -> {fitted[name]:g}" for name in FITTED_FACTS if fitted[name] != facts[name]]
    named = cpu_model or "CPU model unknown"
    basis = (f"wall-power model fitted on SPEC power_ssj2008 ({named}: TDP {tdp_per_socket:g} W per socket, "
             f"{tdp_source}; launch year {year:g}, {year_source})")
    if moved:
        basis += f"; outside the data's range, the nearest fitted values are used: {', '.join(moved)}"
    return MachinePowerModel(load_levels=tuple(table["load_levels"]), levels_w=tuple(levels), basis=basis,
                             band=ErrorBand.of_table(table) if "validation" in table else None,
                             cpu_name=cpu_model, tdp_w_per_socket=tdp_per_socket, tdp_source=tdp_source,
                             launch_year=year, year_source=year_source)


def estimate_power_w(*, cpu_model: str, sockets: int, cores: int, threads: int, ram_gb: float, load: float,
                     tdp_w: float | None = None) -> dict[str, float]:
    """Watts of the ``cpu``, ``ram`` and ``platform`` components of a machine at a CPU load.

    Their sum is the machine's wall power at that load (0.0 = idle, 1.0 = full), as fitted on
    SPEC power_ssj2008 servers; ``error_band()`` says how far that was from measurements on CPU
    models the fit did not see. For many loads on one machine, build ``machine_power_model``
    once and call its ``power_w``.
    """
    model = machine_power_model(cpu_model=cpu_model, sockets=sockets, cores=cores, threads=threads,
                                ram_gb=ram_gb, tdp_w=tdp_w)
    return model.power_w(load)
