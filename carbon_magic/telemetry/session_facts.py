"""The extensive tier's session figures, read from what the process already keeps.

- Emissions, energy, duration and utilisation: the sampler's ledger from its first reading
  (all totals zero) to now, turned into a record by ``core.record.build_record`` with the
  tracking parameters and the intensity of the latest tracked cell.
- Usage: the tracking parameters and how trackers were started (``core.tracker``).
- Errors and performance: ``core.problems`` (error types only, never messages), the
  sampler's discovery, its start-up time and its own thread's CPU time over wall time.
- ``warning_count``: warnings of the ``carbon_magic`` logger, counted by a logging filter
  (a filter, not a handler, so that where warnings are shown does not change).

Reading is cheap and happens on the telemetry thread, never on a cell's path. Nothing here
creates a sampler or starts a network request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from ..core.config import Config
from ..core.location import Intensity, Location
from ..core.location.intensity import choose_intensity
from ..core.location.parameters import offline_mode, parameter_location
from ..core.ledger import Window, kind_of
from ..core.logs import warning_count
from ..core.meters import HardwareSpec
from ..core.problems import problems
from ..core.record import EmissionsData, RunInfo, build_record
from ..core.sampler import Sampler, SamplerRegistry
from ..core import tracker

# output_methods parameter values -> the feature request's vocabulary
_OUTPUT_NAMES = {"csv": "file", "api": "api", "logger": "logger", "prometheus": "prometheus", "logfire": "logfire"}
_STARTS = ("magic", "decorator", "context_manager", "direct")
TELEMETRY_HARDWARE = ("cpu", "gpu", "ram")  # the values the request accepts in hardware_tracked
# Problem places that mean a hardware source did not work as discovered.
_HARDWARE_PLACES = ("meter", "fallback", "poll", "load probe", "sampler")
MAX_ERROR_TYPES = 20


@dataclass(frozen=True)
class SessionFacts:
    """What the extensive tier adds from this process (see the module docstring)."""

    record: EmissionsData | None
    hardware_tracked: tuple[str, ...]
    rapl_available: bool
    gpu_count: int
    hardware_detection_success: bool
    first_measurement_time_ms: float | None
    tracking_overhead_percent: float
    usage: Mapping[str, Any]
    error_types: tuple[str, ...]
    warning_count: int
    gpu_vendors: tuple[str, ...] = ()  # the measured GPUs' vendors ("NVIDIA", "AMD"), once each


def location_of(latest: EmissionsData | None, config: Config) -> Location:
    """Where the session runs: the latest tracked cell's location, else the location
    parameters alone (no lookup, no network); an empty Location when neither says."""
    if latest is not None:
        return Location(
            country_iso_code=latest.country_iso_code, country_name=latest.country_name,
            region=latest.region, cloud_provider=latest.cloud_provider, cloud_region=latest.cloud_region,
            longitude=latest.longitude, latitude=latest.latitude,
        )
    try:
        return parameter_location(config) or Location()
    except Exception:  # a bad location parameter is the tracker's error to report, not ours
        return Location()


def _intensity(latest: EmissionsData | None, location: Location, config: Config) -> Intensity:
    if latest is not None:
        return Intensity(latest.intensity_g_per_kwh, latest.intensity_source)
    return choose_intensity(location, forced_g_per_kwh=config["force_carbon_intensity_g_co2e_kwh"],
                            forced_from="force_carbon_intensity_g_co2e_kwh")


def session_record(sampler: Sampler, config: Config, latest: EmissionsData | None) -> EmissionsData:
    """The whole session (the sampler's life so far) as one record, in CodeCarbon's units."""
    process_mode = config["tracking_mode"] == "process"
    window = Window(sampler.first_reading, sampler.read(), sampler.components, process_mode)
    location = location_of(latest, config)
    run = RunInfo(
        project_name=config["project_name"], run_id="telemetry", experiment_id=None,
        tracking_mode=config["tracking_mode"], pue=config["pue"], wue=config["wue"],
        location=location, intensity=_intensity(latest, location, config), facts=sampler.facts,
        gpu_names=tuple(gpu.name for gpu in sampler.gpus),
    )
    return build_record(window, run)


def usage(config: Config) -> dict[str, Any]:
    """How tracking is configured and used in this process."""
    from ..core.output_methods import selected_methods

    methods = selected_methods(config)
    starts = tracker.starts_by_usage
    counts = {start: starts.get(start, 0) for start in _STARTS}
    most_used = max(_STARTS, key=lambda start: counts[start]) if any(counts.values()) else "magic"
    return {
        "tracking_mode": config["tracking_mode"],
        "api_mode": "offline" if offline_mode(config) else "online",
        "output_methods": [name for method, name in _OUTPUT_NAMES.items() if method in methods],
        "task_tracking_used": starts.get("task", 0) > 0,
        "decorator_vs_context": most_used,
        "measure_power_interval_secs": float(config["measure_power_secs"]),
    }


def overhead_percent(sampler: Sampler, now_wall: float | None = None) -> float:
    """The sampler thread's CPU time as a percentage of the wall time since it started."""
    wall_s = (time.time() if now_wall is None else now_wall) - sampler.started_wall
    if wall_s <= 0:
        return 0.0
    return min(max(sampler.thread_cpu_s / wall_s * 100.0, 0.0), 100.0)


def session_sampler(config: Config, samplers: SamplerRegistry) -> Sampler | None:
    """The sampler of ``config``'s hardware options, else the process's first one (cells
    may track with other options); None if none was ever made (none is made here)."""
    sampler = samplers.existing(HardwareSpec.from_config(config))
    if sampler is None:
        made = samplers.all()
        sampler = made[0] if made else None
    return sampler


def collect(config: Config, latest: EmissionsData | None, samplers: SamplerRegistry) -> SessionFacts:
    """Every session figure for ``config``'s hardware (zeros if no sampler was ever made)."""
    sampler = session_sampler(config, samplers)
    found = problems.all()
    hardware_failed = any(any(word in p.where for word in _HARDWARE_PLACES) for p in found)
    error_types = tuple(sorted({p.error_type[:60] for p in found}))[:MAX_ERROR_TYPES]
    if sampler is None:
        return SessionFacts(None, (), False, 0, False, None, 0.0, usage(config), error_types,
                            warning_count())
    kinds = {kind_of(component) for component in sampler.components}
    startup_s = sampler.startup_s
    return SessionFacts(
        record=session_record(sampler, config, latest),
        hardware_tracked=tuple(kind for kind in TELEMETRY_HARDWARE if kind in kinds),
        rapl_available=bool(sampler.rapl_available),
        gpu_count=len(sampler.gpus),
        hardware_detection_success=not hardware_failed,
        first_measurement_time_ms=None if startup_s is None else startup_s * 1000.0,
        tracking_overhead_percent=overhead_percent(sampler),
        usage=usage(config),
        error_types=error_types,
        warning_count=warning_count(),
        gpu_vendors=tuple(dict.fromkeys(gpu.vendor for gpu in sampler.gpus)),
    )
