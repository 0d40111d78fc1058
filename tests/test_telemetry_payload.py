"""Telemetry payloads: exact fields per tier, types and ranges (REFERENCE.md section 2),
rounding, salted hashes, and nothing private or secret."""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import sys
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from carbon_magic.core.location.intensity import Location
from carbon_magic.core.machine import MachineFacts
from carbon_magic.core.problems import problems
from carbon_magic.telemetry import gather, payload
from carbon_magic.telemetry.consent import ConsentStore
from carbon_magic.telemetry.environment import Probe, StaticEnvironment
from carbon_magic.telemetry.payload import Context, Gpu, PayloadInputs
from carbon_magic.telemetry.session_facts import SessionFacts, collect
from tests import telemetry_schema
from tests.fakes import fake_amdsmi, fake_pynvml
from tests.fakes.profiles import Constant
from tests.telemetry_support import measured_config, tracked_cell

MACHINE = MachineFacts(cpu_model="AMD EPYC 7R13", cpu_count=16, cpu_physical_count=8, cpu_sockets=1,
                       cpu_architecture="x86_64", ram_total_bytes=64_000_000_000,
                       os="Linux-6.1.0-x86_64-with-glibc2.36", python_version="3.11.7")
STATIC = StaticEnvironment(python_env_type="venv", install_method="pip", package_manager="pip",
                           ci_environment="none", container_runtime="docker",
                           libraries={"torch": "2.3.1", "keras": None}, frameworks_installed=("pytorch",),
                           cuda_version="12.4", cudnn_version="9.1.0")
CONTEXT = Context(ide_used="jupyter", notebook_environment="jupyter", framework_detected="none",
                  ml_framework_primary="pytorch")
SESSION = SessionFacts(record=None, hardware_tracked=("cpu", "gpu", "ram"), rapl_available=False, gpu_count=2,
                       hardware_detection_success=True, first_measurement_time_ms=12.5,
                       tracking_overhead_percent=0.02, usage={
                           "tracking_mode": "machine", "api_mode": "online", "output_methods": ["file"],
                           "task_tracking_used": False, "decorator_vs_context": "magic",
                           "measure_power_interval_secs": 15.0},
                       error_types=("FetchError",), warning_count=1)
SECRET = bytes(range(32))


def inputs(level: str = "minimal", **changes) -> PayloadInputs:
    base = PayloadInputs(
        level=level, machine=MACHINE, environment=STATIC,
        location=Location("FRA", "France", "Île-de-France", None, None, 2.3522219, 48.856614),
        gpus=[Gpu("NVIDIA H100 80GB HBM3", 85.0), Gpu("NVIDIA H100 80GB HBM3", 85.0)],
        gpu_driver_version="580.159.04", secret=SECRET, executable="/home/alice/envs/ml/bin/python",
        session=SESSION, context=CONTEXT, now=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
    )
    return replace(base, **changes)


def test_minimal_payload_has_exactly_the_minimal_fields():
    built = payload.build(inputs("minimal"))
    assert telemetry_schema.problems(built) == []
    assert set(built) == set(telemetry_schema.MINIMAL)
    assert built["telemetry_level"] == "minimal"
    assert built["gpu_count"] == 2 and built["gpu_model"] == "2 x NVIDIA H100 80GB HBM3"
    assert built["gpu_memory_total_gb"] == 170.0
    assert built["ram_total_size_gb"] == 64.0
    assert built["country_iso_code"] == "FRA" and built["cuda_version"] == "12.4"
    assert built["timestamp"] == "2025-03-01T12:00:00+00:00"


def test_extensive_payload_has_every_field_of_the_request_and_no_other():
    built = payload.build(inputs("extensive"))
    assert telemetry_schema.problems(built) == []
    assert set(built) == set(telemetry_schema.MINIMAL) | set(telemetry_schema.EXTENSIVE_ONLY)
    assert built["has_torch"] is True and built["torch_version"] == "2.3.1"
    assert built["has_keras"] is True and built["keras_version"] is None
    assert built["has_tensorflow"] is False and built["tensorflow_version"] is None
    assert built["gpu_detection_method"] == "nvidia-smi"
    assert built["in_container"] is True and built["container_runtime"] == "docker"
    assert built["errors_encountered"] == ["FetchError"]


def test_the_schema_checker_rejects_what_the_server_rejects():
    minimal = payload.build(inputs("minimal"))
    assert telemetry_schema.problems({**minimal, "total_emissions_kg": 1.0}) == [
        "field total_emissions_kg not allowed in a minimal payload"]
    assert telemetry_schema.problems({**minimal, "latitude": 48.8566}) == ["bad value for latitude: 48.8566"]
    assert "missing field os" in telemetry_schema.problems({k: v for k, v in minimal.items() if k != "os"})
    assert telemetry_schema.problems({**minimal, "cpu_count": True}) == ["bad value for cpu_count: True"]


def test_coordinates_rounded_to_a_tenth_of_a_degree_and_ranges_kept():
    built = payload.build(inputs())
    assert (built["latitude"], built["longitude"]) == (48.9, 2.4)
    far = payload.build(inputs(location=Location(longitude=-179.96, latitude=-89.99)))
    assert (far["longitude"], far["latitude"]) == (-180.0, -90.0)
    wrong = payload.build(inputs(location=Location(country_iso_code="France", longitude=200.0, latitude=91.0)))
    assert (wrong["longitude"], wrong["latitude"], wrong["country_iso_code"]) == (None, None, None)


def test_executable_hash_is_salted_sha256_of_the_path():
    built = payload.build(inputs())
    expected = hashlib.sha256(SECRET + b"\0" + b"/home/alice/envs/ml/bin/python").hexdigest()
    assert built["python_executable_hash"] == expected
    assert hashlib.sha256(b"/home/alice/envs/ml/bin/python").hexdigest() != expected
    other_secret = payload.build(inputs(secret=b"another secret of enough length!"))
    assert other_secret["python_executable_hash"] != expected


def test_host_machine_hash_only_when_opted_in_and_only_extensive():
    assert "host_machine_hash" not in payload.build(inputs("extensive"))
    opted_in = payload.build(inputs("extensive", host_fingerprint="0123456789abcdef"))
    assert telemetry_schema.problems(opted_in) == []
    assert opted_in["host_machine_hash"] == hashlib.sha256(SECRET + b"\0host:0123456789abcdef").hexdigest()
    assert "host_machine_hash" not in payload.build(inputs("minimal", host_fingerprint="0123456789abcdef"))


def test_no_payload_for_disabled():
    with pytest.raises(ValueError, match="accepted: minimal, extensive"):
        payload.build(inputs("disabled"))


# --- from the running process -------------------------------------------------------------------


SECRETS = {
    "api_key": "sk-api-key-0123456789",
    "electricitymaps_api_token": "em-token-abcdefghij",
    "api_endpoint": "https://alice:hunter2-password@api.example.org",
    "project_name": "alice-secret-project",
    "experiment_name": "cancer-study-42",
    "output_dir": "alice-private-results",  # an existing folder (made in the test's working folder)
}


def test_payload_from_a_session_carries_the_ledger_and_nothing_private(fresh_telemetry, isolated, tmp_path, samplers):
    (isolated / SECRETS["output_dir"]).mkdir()
    config = measured_config(**SECRETS)
    record = tracked_cell(config, seconds=0.2)
    store = ConsentStore(tmp_path / "cfg" / "telemetry.json")
    store.store_host_machine_hash(True)
    built = gather.build_payload("extensive", config, store, samplers=samplers, latest=record,
                                 shell_class="ZMQInteractiveShell")
    assert telemetry_schema.problems(built) == []
    assert built["country_iso_code"] == "FRA" and built["country_name"] == "France"
    assert built["api_mode"] == "offline" and built["output_methods"] == []
    assert built["decorator_vs_context"] == "magic" and built["hardware_tracked"] == ["cpu", "ram"]
    assert built["energy_consumed_kwh"] >= record.energy_consumed > 0
    assert built["total_emissions_kg"] > 0 and built["duration_seconds"] >= record.duration
    assert built["first_measurement_time_ms"] > 0
    assert built["notebook_environment"] == "jupyter" and built["ide_used"] in ("jupyter", "vscode", "pycharm")
    assert "host_machine_hash" in built
    text = json.dumps(built)
    private = [*SECRETS.values(), "hunter2", "alice", str(isolated), str(tmp_path), os.getcwd(),
               sys.executable, os.path.expanduser("~"), socket.gethostname(), store.secret().hex(),
               store.install_id()]
    user = getpass.getuser()
    if len(user) >= 4:
        private.append(user)
    for value in private:
        assert value not in text, value


def test_session_figures_from_the_sampler(fresh_telemetry, monkeypatch, samplers):
    monkeypatch.setenv("CODECARBON_TELEMETRY_DEBUG", "0")
    config = measured_config(output_methods="csv,prometheus,logger")
    tracked_cell(config, usage="decorator")
    tracked_cell(config, usage="decorator")
    tracked_cell(config, usage="context_manager")
    before = collect(config, None, samplers).warning_count
    logging.getLogger("carbon_magic").warning("a warning for the count")
    problems.note("gpu:0 meter", RuntimeError("lost"))
    facts = collect(config, None, samplers)
    assert facts.warning_count == before + 2  # ours and the problem log's first warning
    assert facts.hardware_detection_success is False
    assert facts.error_types == ("RuntimeError",)
    assert facts.usage["decorator_vs_context"] == "decorator"
    assert facts.usage["output_methods"] == ["file", "logger", "prometheus"]
    assert facts.usage["task_tracking_used"] is False
    assert 0 <= facts.tracking_overhead_percent < 100
    assert facts.record.duration > 0


def test_without_any_sampler_the_session_figures_are_zero_and_none_is_created(fresh_telemetry, tmp_path, samplers):
    config = measured_config()  # no tracker ran in this test: no sampler exists
    built = gather.build_payload("extensive", config, ConsentStore(tmp_path / "t.json"), samplers=samplers)
    assert telemetry_schema.problems(built) == []
    assert built["energy_consumed_kwh"] == 0 and built["hardware_tracked"] == []
    assert len(samplers.all()) == 0


def test_cells_tracked_with_other_hardware_options_still_count(fresh_telemetry, tmp_path, samplers):
    tracked_cell(measured_config(force_cpu_power=55.0), seconds=0.1)  # e.g. %%carbon --force-cpu-power 55
    built = gather.build_payload("extensive", measured_config(), ConsentStore(tmp_path / "t.json"), samplers=samplers)
    assert built["energy_consumed_kwh"] > 0 and built["hardware_tracked"] == ["cpu", "ram"]
    assert len(samplers.all()) == 1  # telemetry made none


@pytest.mark.parametrize("count_platform", [True, False])
def test_the_platform_counts_in_the_energy_but_not_in_hardware_tracked(fresh_telemetry, tmp_path, samplers,
                                                                      count_platform):
    """The modelled platform is inside energy_consumed_kwh unless count_platform=False; the
    request's hardware_tracked takes only cpu, gpu and ram, so it is not named there, and the
    schema has no field of its own for its energy: the difference."""
    config = measured_config(count_platform=count_platform)
    tracked_cell(config)
    built = gather.build_payload("extensive", config, ConsentStore(tmp_path / "t.json"), samplers=samplers)
    assert telemetry_schema.problems(built) == []
    assert built["hardware_tracked"] == ["cpu", "ram"]
    platform_kwh = (built["energy_consumed_kwh"] - built["cpu_energy_kwh"] - built["gpu_energy_kwh"]
                    - built["ram_energy_kwh"])
    assert (platform_kwh > 1e-12 * built["energy_consumed_kwh"]) is count_platform


def test_gpu_facts_from_the_samplers_nvml(fresh_telemetry, monkeypatch, tmp_path, samplers):
    fake_pynvml.install(monkeypatch, [fake_pynvml.FakeGpu(Constant(300.0)), fake_pynvml.FakeGpu(Constant(200.0))])
    config = measured_config()
    tracked_cell(config)
    built = gather.build_payload("extensive", config, ConsentStore(tmp_path / "t.json"), samplers=samplers,
                                 probe=replace(Probe.current(), environ={}))
    assert telemetry_schema.problems(built) == []
    assert built["gpu_count"] == 2 and built["gpu_model"] == "2 x NVIDIA H100 80GB HBM3"
    assert built["gpu_driver_version"] == "580.159.04" and built["cuda_version"] == "13.0"
    assert built["gpu_memory_total_gb"] == pytest.approx(2 * 80 * 1024**3 / 1e9, abs=0.1)
    assert built["hardware_tracked"] == ["cpu", "gpu", "ram"]
    assert built["gpu_detection_method"] == "nvidia-smi"
    assert built["gpu_energy_kwh"] > 0 and built["gpu_utilization_avg"] == pytest.approx(50, abs=1)


def test_gpu_facts_of_amd_gpus_say_rocm_and_no_nvidia_driver(fresh_telemetry, monkeypatch, tmp_path, samplers):
    fake_pynvml.install(monkeypatch, [])  # nvidia-ml-py installed, no NVIDIA GPU
    fake_amdsmi.install(monkeypatch, [fake_amdsmi.FakeAmdGpu(Constant(300.0))])
    config = measured_config()
    tracked_cell(config)
    built = gather.build_payload("extensive", config, ConsentStore(tmp_path / "t.json"), samplers=samplers,
                                 probe=replace(Probe.current(), environ={}))
    assert telemetry_schema.problems(built) == []
    assert built["gpu_count"] == 1 and built["gpu_model"] == "1 x AMD Instinct MI300X"
    assert built["gpu_detection_method"] == "rocm" and built["gpu_driver_version"] is None
    assert built["gpu_energy_kwh"] > 0 and built["gpu_utilization_avg"] == pytest.approx(40, abs=1)
