"""The telemetry JSON: exactly the fields, types and ranges of REFERENCE.md section 2.

A ``minimal`` payload carries only the minimal fields (the CodeCarbon server rejects any
other); ``extensive`` adds every other field of the feature request. ``host_machine_hash``
is present only when the user opted in to it, and only in the extensive tier.

What is never in a payload: user or host names, paths (``python_executable_hash`` is a
salted SHA-256 of the interpreter's path; the salt never leaves this machine), notebook
names, code, secrets (no tracker parameter value other than the enumerations and the
measurement interval is copied), and precise location (coordinates rounded to 0.1 degree,
about 11 km).
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from .._version import __version__
from ..core.location import Location
from ..core.machine import MachineFacts
from ..core.record import gpu_model_text
from .environment import ML_LIBRARIES, StaticEnvironment
from .levels import EXTENSIVE, MINIMAL
from .session_facts import SessionFacts

MINIMAL_FIELDS = (
    "timestamp", "telemetry_level",
    "os", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region",
    "longitude", "latitude",
    "cpu_count", "cpu_physical_count", "cpu_model", "cpu_architecture",
    "gpu_count", "gpu_model", "gpu_driver_version", "gpu_memory_total_gb", "ram_total_size_gb",
    "cuda_version", "cudnn_version",
    "python_version", "python_implementation", "python_executable_hash", "python_env_type",
    "codecarbon_version", "codecarbon_install_method",
)
COORDINATE_DECIMALS = 1  # 0.1 degree, about 11 km


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_total_gb: float


@dataclass(frozen=True)
class Context:
    """Where the session runs, seen at build time (shell, imports)."""

    ide_used: str
    notebook_environment: str
    framework_detected: str
    ml_framework_primary: str


@dataclass(frozen=True)
class PayloadInputs:
    """Everything a payload is built from; gathered by the caller, on the telemetry thread."""

    level: str
    machine: MachineFacts
    environment: StaticEnvironment
    location: Location
    gpus: Sequence[Gpu]
    gpu_driver_version: str | None
    secret: bytes
    executable: str
    session: SessionFacts | None = None
    context: Context | None = None
    host_fingerprint: str | None = None  # the machine id, only when the user opted in
    now: datetime | None = None


def salted_hash(secret: bytes, text: str) -> str:
    """SHA-256 (64 hex characters) of ``text`` salted with the local ``secret``."""
    return hashlib.sha256(secret + b"\0" + text.encode("utf-8", "surrogatepass")).hexdigest()


def rounded_coordinate(value: float | None, limit: float) -> float | None:
    """A coordinate rounded to 0.1 degree; None if missing or outside [-limit, limit]."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not -limit <= number <= limit:
        return None
    return round(number, COORDINATE_DECIMALS)


def _iso_code(code: str | None) -> str | None:
    """A 2 or 3 letter country code, upper case; None for anything else."""
    if isinstance(code, str) and code.isalpha() and 2 <= len(code) <= 3:
        return code.upper()
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def minimal(inputs: PayloadInputs) -> dict[str, Any]:
    """The minimal tier's fields (environment and hardware), in the schema's order."""
    machine, environment, location, gpus = inputs.machine, inputs.environment, inputs.location, inputs.gpus
    now = inputs.now or datetime.now(timezone.utc)
    return {
        "timestamp": now.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "telemetry_level": inputs.level,
        "os": machine.os,
        "country_name": _text(location.country_name),
        "country_iso_code": _iso_code(location.country_iso_code),
        "region": _text(location.region),
        "cloud_provider": _text(location.cloud_provider),
        "cloud_region": _text(location.cloud_region),
        "longitude": rounded_coordinate(location.longitude, 180.0),
        "latitude": rounded_coordinate(location.latitude, 90.0),
        "cpu_count": max(int(machine.cpu_count), 0),
        "cpu_physical_count": max(int(machine.cpu_physical_count), 0),
        "cpu_model": machine.cpu_model,
        "cpu_architecture": machine.cpu_architecture,
        "gpu_count": len(gpus),
        "gpu_model": gpu_model_text(tuple(gpu.name for gpu in gpus)) or None,
        "gpu_driver_version": inputs.gpu_driver_version if gpus else None,
        "gpu_memory_total_gb": round(sum(gpu.memory_total_gb for gpu in gpus), 1) if gpus else None,
        "ram_total_size_gb": round(max(machine.ram_total_gb, 0.0), 1),
        "cuda_version": environment.cuda_version,
        "cudnn_version": environment.cudnn_version,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable_hash": salted_hash(inputs.secret, inputs.executable),
        "python_env_type": environment.python_env_type,
        "codecarbon_version": __version__,
        "codecarbon_install_method": environment.install_method,
    }


def _percent(value: float) -> float:
    return round(min(max(value, 0.0), 100.0), 2)


def _emissions(session: SessionFacts) -> dict[str, Any]:
    record = session.record
    if record is None:
        zero = 0.0
        return {
            "total_emissions_kg": zero, "emissions_rate_kg_per_sec": zero, "energy_consumed_kwh": zero,
            "cpu_energy_kwh": zero, "gpu_energy_kwh": zero, "ram_energy_kwh": zero,
            "duration_seconds": zero, "cpu_utilization_avg": zero, "gpu_utilization_avg": zero,
            "ram_utilization_avg": zero,
        }
    return {
        "total_emissions_kg": max(record.emissions, 0.0),
        "emissions_rate_kg_per_sec": max(record.emissions_rate, 0.0),
        "energy_consumed_kwh": max(record.energy_consumed, 0.0),
        "cpu_energy_kwh": max(record.cpu_energy, 0.0),
        "gpu_energy_kwh": max(record.gpu_energy, 0.0),
        "ram_energy_kwh": max(record.ram_energy, 0.0),
        "duration_seconds": round(max(record.duration, 0.0), 3),
        "cpu_utilization_avg": _percent(record.cpu_utilization_percent),
        "gpu_utilization_avg": _percent(record.gpu_utilization_percent),
        "ram_utilization_avg": _percent(record.ram_utilization_percent),
    }


# The request's names for how GPUs were found: NVML is the library nvidia-smi is built on,
# amdsmi ROCm's.
GPU_DETECTION_METHODS = {"NVIDIA": "nvidia-smi", "AMD": "rocm"}


def _gpu_detection_method(session: SessionFacts) -> str:
    if not session.gpu_count:
        return "none"
    vendor = session.gpu_vendors[0] if session.gpu_vendors else "NVIDIA"
    return GPU_DETECTION_METHODS.get(vendor, "none")


def extensive_only(inputs: PayloadInputs) -> dict[str, Any]:
    """The fields the extensive tier adds to the minimal ones."""
    session, context, environment = inputs.session, inputs.context, inputs.environment
    if session is None or context is None:
        raise ValueError("an extensive payload needs the session facts and the context")
    fields: dict[str, Any] = _emissions(session)
    fields.update(session.usage)
    fields["hardware_tracked"] = list(session.hardware_tracked)
    fields.update({
        "hardware_detection_success": session.hardware_detection_success,
        "rapl_available": session.rapl_available,
        "gpu_detection_method": _gpu_detection_method(session),
        "first_measurement_time_ms": None if session.first_measurement_time_ms is None
        else round(max(session.first_measurement_time_ms, 0.0), 3),
        "tracking_overhead_percent": round(min(max(session.tracking_overhead_percent, 0.0), 100.0), 4),
        "errors_encountered": list(session.error_types),
        "warning_count": max(int(session.warning_count), 0),
        "ide_used": context.ide_used,
        "notebook_environment": context.notebook_environment,
        "ci_environment": environment.ci_environment,
        "python_package_manager": environment.package_manager,
        "framework_detected": context.framework_detected,
    })
    for library in ML_LIBRARIES:
        fields[f"has_{library}"] = library in environment.libraries
        fields[f"{library}_version"] = environment.libraries.get(library)
    fields["ml_framework_primary"] = context.ml_framework_primary
    fields["container_runtime"] = environment.container_runtime
    fields["in_container"] = environment.container_runtime != "none"
    if inputs.host_fingerprint:
        fields["host_machine_hash"] = salted_hash(inputs.secret, "host:" + inputs.host_fingerprint)
    return fields


def build(inputs: PayloadInputs) -> dict[str, Any]:
    """The payload of ``inputs.level`` (minimal or extensive)."""
    if inputs.level == MINIMAL:
        return minimal(inputs)
    if inputs.level == EXTENSIVE:
        return {**minimal(inputs), **extensive_only(inputs)}
    raise ValueError(f"no payload for telemetry level {inputs.level!r}; accepted: minimal, extensive")


def gpus_of(infos: Sequence[Any]) -> list[Gpu]:
    """Gpu entries from the sampler's GpuInfo list."""
    return [Gpu(info.name, max(float(info.memory_total_gb), 0.0)) for info in infos]


def shown(payload: Mapping[str, Any]) -> str:
    """The payload as JSON, indented for reading (the same object that is sent)."""
    return json.dumps(payload, indent=2)
