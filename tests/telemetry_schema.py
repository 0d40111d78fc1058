"""The telemetry payload schema of the CodeCarbon server (REFERENCE.md section 2), as a checker.

Written from the reference, not from carbon_magic's code: field names, exact field sets per
tier (a minimal payload with any other field is rejected, unknown fields are rejected),
types, vocabularies and ranges. ``problems(payload)`` lists what the server would reject.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

HEX64 = re.compile(r"^[0-9a-f]{64}$")
TEXT, OPTIONAL_TEXT = "text", "optional text"


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: _number(value) and low <= value <= high


def _non_negative(value: Any) -> bool:
    return _number(value) and value >= 0


def _one_of(*allowed: str) -> Callable[[Any], bool]:
    return lambda value: value in allowed


def _list_of(*allowed: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(item in allowed for item in value) \
        and len(set(value)) == len(value)


def _timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _coordinate(limit: float) -> Callable[[Any], bool]:
    """Within range and rounded to 0.1 degree (about 11 km)."""
    return _optional(lambda value: _between(-limit, limit)(value) and round(value, 1) == value)


def _iso_code(value: Any) -> bool:
    return value is None or (isinstance(value, str) and 2 <= len(value) <= 3)


def _hash(value: Any) -> bool:
    return isinstance(value, str) and bool(HEX64.match(value))


MINIMAL: dict[str, Callable[[Any], bool]] = {
    "timestamp": _timestamp,
    "telemetry_level": _one_of("minimal", "extensive"),
    "os": _text,
    "country_name": _optional(_text),
    "country_iso_code": _iso_code,
    "region": _optional(_text),
    "cloud_provider": _optional(_text),
    "cloud_region": _optional(_text),
    "longitude": _coordinate(180.0),
    "latitude": _coordinate(90.0),
    "cpu_count": _count,
    "cpu_physical_count": _count,
    "cpu_model": _text,
    "cpu_architecture": _text,
    "gpu_count": _count,
    "gpu_model": _optional(_text),
    "gpu_driver_version": _optional(_text),
    "gpu_memory_total_gb": _optional(_non_negative),
    "ram_total_size_gb": _non_negative,
    "cuda_version": _optional(_text),
    "cudnn_version": _optional(_text),
    "python_version": _text,
    "python_implementation": _text,
    "python_executable_hash": _hash,
    "python_env_type": _one_of("conda", "venv", "virtualenv", "uv", "pip", "system"),
    "codecarbon_version": _text,
    "codecarbon_install_method": _optional(_one_of("pip", "conda", "uv", "editable")),
}

LIBRARIES = ("torch", "transformers", "diffusers", "tensorflow", "keras", "pytorch_lightning", "fastai")
FRAMEWORKS = ("pytorch", "tensorflow", "JAX", "none")

EXTENSIVE_ONLY: dict[str, Callable[[Any], bool]] = {
    # emissions
    "total_emissions_kg": _non_negative,
    "emissions_rate_kg_per_sec": _non_negative,
    "energy_consumed_kwh": _non_negative,
    "cpu_energy_kwh": _non_negative,
    "gpu_energy_kwh": _non_negative,
    "ram_energy_kwh": _non_negative,
    "duration_seconds": _non_negative,
    "cpu_utilization_avg": _between(0, 100),
    "gpu_utilization_avg": _between(0, 100),
    "ram_utilization_avg": _between(0, 100),
    # usage patterns
    "tracking_mode": _one_of("machine", "process", "hybrid"),
    "api_mode": _one_of("offline", "online", "both"),
    "output_methods": _list_of("file", "api", "logger", "prometheus", "logfire"),
    "hardware_tracked": _list_of("cpu", "gpu", "ram"),
    "task_tracking_used": lambda v: isinstance(v, bool),
    "decorator_vs_context": _one_of("decorator", "context_manager", "direct", "magic"),
    "measure_power_interval_secs": lambda v: _number(v) and v > 0,
    # errors and performance
    "hardware_detection_success": lambda v: isinstance(v, bool),
    "rapl_available": lambda v: isinstance(v, bool),
    "gpu_detection_method": _one_of("nvidia-smi", "pytorch", "rocm", "none"),
    "first_measurement_time_ms": _optional(_non_negative),
    "tracking_overhead_percent": _between(0, 100),
    "errors_encountered": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "warning_count": _count,
    # environment context
    "ide_used": _one_of("vscode", "pycharm", "jupyter", "none"),
    "notebook_environment": _one_of("jupyter", "colab", "kaggle", "none"),
    "ci_environment": _one_of("github-actions", "gitlab", "jenkins", "circleci", "azure-pipelines", "other", "none"),
    "python_package_manager": _one_of("pip", "poetry", "uv", "conda", "pipenv"),
    "framework_detected": _one_of(*FRAMEWORKS),
    # ML ecosystem
    **{f"has_{library}": (lambda v: isinstance(v, bool)) for library in LIBRARIES},
    **{f"{library}_version": _optional(_text) for library in LIBRARIES},
    "ml_framework_primary": _one_of(*FRAMEWORKS),
    # containers
    "container_runtime": _one_of("docker", "podman", "kubernetes", "none"),
    "in_container": lambda v: isinstance(v, bool),
}
OPTIONAL_EXTENSIVE: dict[str, Callable[[Any], bool]] = {"host_machine_hash": _hash}


def problems(payload: Any) -> list[str]:
    """What the server would reject in ``payload`` ([] if it accepts it)."""
    if not isinstance(payload, dict):
        return [f"not a JSON object: {type(payload).__name__}"]
    level = payload.get("telemetry_level")
    if level == "minimal":
        required, optional = MINIMAL, {}
    elif level == "extensive":
        required, optional = {**MINIMAL, **EXTENSIVE_ONLY}, OPTIONAL_EXTENSIVE
    else:
        return [f"telemetry_level {level!r} is neither minimal nor extensive"]
    found = []
    for name in sorted(set(required) - set(payload)):
        found.append(f"missing field {name}")
    for name in sorted(set(payload) - set(required) - set(optional)):
        found.append(f"field {name} not allowed in a {level} payload")
    for name, check in {**required, **optional}.items():
        if name in payload and not check(payload[name]):
            found.append(f"bad value for {name}: {payload[name]!r}")
    if level == "extensive":
        for library in LIBRARIES:
            if payload.get(f"has_{library}") is False and payload.get(f"{library}_version") is not None:
                found.append(f"{library}_version given but has_{library} is false")
        if payload.get("in_container") != (payload.get("container_runtime") != "none"):
            found.append("in_container disagrees with container_runtime")
    return found
