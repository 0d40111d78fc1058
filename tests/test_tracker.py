"""The CodeCarbon-compatible tracker API: parity with the seed list, arithmetic, runs, tasks."""

from __future__ import annotations

import csv
import inspect
import logging
import signal
import time
from pathlib import Path

import pytest

from carbon_magic import EmissionsTracker, OfflineEmissionsTracker, track_emissions
from carbon_magic.core.config import ConfigError
from carbon_magic.core.record import CSV_COLUMNS, TASK_CSV_COLUMNS
from carbon_magic.outputs import BaseOutput

# CodeCarbon 3.3's BaseEmissionsTracker parameters (the seed list) and their defaults.
SEED_BASE = {
    "project_name": "codecarbon", "measure_power_secs": 15, "api_call_interval": 8,
    "api_endpoint": None, "api_key": None, "output_dir": ".", "output_file": "emissions.csv",
    "save_to_file": True, "save_to_api": False, "save_to_logger": False, "logging_logger": None,
    "save_to_prometheus": False, "save_to_logfire": False, "prometheus_url": "localhost:9091",
    "output_handlers": None, "gpu_ids": None, "emissions_endpoint": None, "experiment_id": None,
    "experiment_name": None, "electricitymaps_api_token": None, "co2_signal_api_token": None,
    "tracking_mode": "machine", "log_level": "info", "on_csv_write": "append",
    "logger_preamble": "", "force_cpu_power": None, "force_ram_power": None, "pue": 1.0,
    "force_mode_cpu_load": False, "allow_multiple_runs": True, "wue": 0.0,
    "rapl_include_dram": False, "rapl_prefer_psys": False,
}
SEED_OFFLINE = ["country_iso_code", "region", "cloud_provider", "cloud_region", "country_2letter_iso_code"]
SEED_DECORATOR_EXTRA = ["offline", "country_iso_code"]
# Defaults CodeCarbon leaves to code paths rather than the signature: ours are explicit.
OUR_EXPLICIT_DEFAULTS = {"api_endpoint": "https://api.codecarbon.io", "output_handlers": ()}

MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0,
            "force_carbon_intensity_g_co2e_kwh": 500.0, "save_to_file": False}


def test_every_seed_parameter_is_accepted_with_codecarbon_default():
    signature = inspect.signature(EmissionsTracker.__init__)
    for name, default in SEED_BASE.items():
        assert name in signature.parameters, name
        ours = signature.parameters[name].default
        assert ours == OUR_EXPLICIT_DEFAULTS.get(name, default), name
    for name in SEED_OFFLINE + SEED_DECORATOR_EXTRA:
        assert name in signature.parameters, name
    assert list(signature.parameters)[1] == "project_name"  # positional, as CodeCarbon's


def test_count_platform_false_gives_codecarbons_cpu_gpu_ram_total():
    tracker = EmissionsTracker(count_platform=False, **MEASURED)
    tracker.start()
    time.sleep(0.1)
    tracker.stop()
    data = tracker.final_emissions_data
    assert "platform" not in tracker.components and data.platform_energy == 0.0
    assert data.energy_consumed == pytest.approx(data.cpu_energy + data.gpu_energy + data.ram_energy, rel=1e-12)
    assert data.energy_consumed > 0


def test_every_seed_parameter_can_be_passed(tmp_path):
    values = {
        "project_name": "p", "measure_power_secs": 2, "api_call_interval": 4,
        "api_endpoint": "http://127.0.0.1:9", "api_key": "k", "output_dir": str(tmp_path),
        "output_file": "e.csv", "save_to_file": False, "save_to_api": False, "save_to_logger": False,
        "logging_logger": None, "save_to_prometheus": False, "save_to_logfire": False,
        "prometheus_url": "127.0.0.1:9091", "output_handlers": [], "gpu_ids": None,
        "emissions_endpoint": None, "experiment_id": "e-1", "experiment_name": "exp",
        "electricitymaps_api_token": None, "co2_signal_api_token": None, "tracking_mode": "process",
        "log_level": "error", "on_csv_write": "update", "logger_preamble": "[x]",
        "force_cpu_power": 30, "force_ram_power": 5, "pue": 1.2, "force_mode_cpu_load": True,
        "allow_multiple_runs": True, "wue": 1.8, "rapl_include_dram": True, "rapl_prefer_psys": True,
        "country_iso_code": "FRA", "region": None, "cloud_provider": None, "cloud_region": None,
        "country_2letter_iso_code": "FR",
    }
    tracker = OfflineEmissionsTracker(**values)
    for name, value in values.items():
        if name not in ("output_handlers",):
            expected = tuple(value) if isinstance(value, list) else value
            assert tracker.config[name] == expected, name


def test_stop_returns_kg_from_energy_pue_and_intensity():
    tracker = EmissionsTracker(pue=1.5, wue=2.0, **MEASURED)
    tracker.start()
    time.sleep(0.2)
    kg = tracker.stop()
    data = tracker.final_emissions_data
    assert kg == data.emissions == tracker.final_emissions
    raw_ram_kwh = 10.0 * data.duration / 3.6e6
    assert data.ram_energy == pytest.approx(raw_ram_kwh * 1.5, rel=1e-6)
    # energy_consumed holds the modelled platform too (count_platform=True, the default)
    assert data.platform_energy > 0
    assert data.energy_consumed == pytest.approx(
        data.cpu_energy + data.gpu_energy + data.ram_energy + data.platform_energy)
    assert data.emissions == pytest.approx(data.energy_consumed * 0.5, rel=1e-12)
    assert data.water_consumed == pytest.approx(data.energy_consumed * 2.0, rel=1e-12)
    assert data.ram_power == pytest.approx(10.0, rel=1e-6)
    assert data.emissions_rate == pytest.approx(data.emissions / data.duration)
    assert data.intensity_g_per_kwh == 500.0 and "force_carbon_intensity" in data.intensity_source
    assert data.pue == 1.5 and data.wue == 2.0 and data.on_cloud == "N"


def test_stopped_tracker_can_start_again_as_a_new_run():
    tracker = EmissionsTracker(**MEASURED)
    tracker.start()
    first = tracker.run_id
    tracker.stop()
    tracker.start()
    assert tracker.run_id != first
    assert tracker.stop() > 0


def test_stop_and_flush_when_not_running_warn_and_return_none(caplog):
    tracker = EmissionsTracker(**MEASURED)
    assert tracker.stop() is None
    assert tracker.flush() is None
    assert "not running" in caplog.text


def test_context_manager_and_many_concurrent_trackers():
    outer = EmissionsTracker(**MEASURED)
    with outer:
        inner = [EmissionsTracker(**MEASURED) for _ in range(200)]
        for tracker in inner:
            tracker.start()
        time.sleep(0.05)
        inner_kg = [tracker.stop() for tracker in inner]
    assert outer.final_emissions_data.duration >= 0.05
    assert all(kg > 0 for kg in inner_kg)
    assert all(kg <= outer.final_emissions for kg in inner_kg)
    assert outer.usage == "context_manager"


def test_decorator_with_and_without_arguments(tmp_path):
    calls = []

    @track_emissions
    def plain(x):
        calls.append(x)
        return x * 2

    @track_emissions(offline=True, country_iso_code="FRA", output_dir=str(tmp_path), project_name="deco")
    def offline(x):
        return x + 1

    assert plain(3) == 6 and calls == [3]
    assert offline(1) == 2
    rows = list(csv.DictReader((tmp_path / "emissions.csv").open()))
    assert rows[-1]["project_name"] == "deco" and rows[-1]["country_iso_code"] == "FRA"
    assert Path("emissions.csv").exists()  # the plain one wrote to the default ./emissions.csv


def test_decorator_still_records_when_the_function_raises(tmp_path):
    @track_emissions(output_dir=str(tmp_path), **{k: v for k, v in MEASURED.items() if k != "save_to_file"})
    def fails():
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        fails()
    assert len(list(csv.DictReader((tmp_path / "emissions.csv").open()))) == 1


def test_tasks_overlap_and_go_to_the_task_file(tmp_path):
    tracker = EmissionsTracker(output_dir=str(tmp_path), experiment_name="exp", **{**MEASURED, "save_to_file": True})
    tracker.start_task("load")
    time.sleep(0.05)
    tracker.start_task("train")
    time.sleep(0.05)
    load = tracker.stop_task("load")
    train = tracker.stop_task()
    tracker.stop()
    assert load.duration > train.duration > 0
    assert load.extra["task_name"] == "load"
    task_file = tmp_path / f"emissions_exp_{load.run_id}.csv"
    with task_file.open() as handle:
        reader = csv.reader(handle)
        assert tuple(next(reader)) == TASK_CSV_COLUMNS
        rows = list(reader)
    assert [r[0] for r in rows] == ["load", "train"]
    with pytest.raises(ValueError, match="no task is running"):
        tracker.stop_task()


def test_flush_then_stop_in_update_mode_leaves_one_row(tmp_path):
    tracker = EmissionsTracker(output_dir=str(tmp_path), on_csv_write="update", **{**MEASURED, "save_to_file": True})
    tracker.start()
    tracker.flush()
    time.sleep(0.02)
    tracker.stop()
    with (tmp_path / "emissions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["run_id"] == tracker.final_emissions_data.run_id
    assert float(rows[0]["duration"]) == pytest.approx(tracker.final_emissions_data.duration)


def test_custom_output_handler_gets_codecarbon_calls():
    class Recorder(BaseOutput):
        def __init__(self):
            self.calls = []

        def out(self, total, delta):
            self.calls.append(("out", total.run_id, delta.duration))

        def live_out(self, total, delta):
            self.calls.append(("live_out", total.run_id))

        def task_out(self, data, experiment_name):
            self.calls.append(("task_out", [d.extra["task_name"] for d in data], experiment_name))

    recorder = Recorder()
    tracker = EmissionsTracker(output_handlers=[recorder], measure_power_secs=0.05, project_name="p", **MEASURED)
    tracker.start()
    tracker.start_task("t1")
    time.sleep(0.3)
    tracker.stop()
    kinds = [call[0] for call in recorder.calls]
    assert kinds.count("live_out") >= 2
    assert kinds[-2:] == ["out", "task_out"]
    assert recorder.calls[-1] == ("task_out", ["t1"], "p")


def test_a_raising_output_handler_never_reaches_the_caller():
    class Broken:
        def out(self, total, delta):
            raise OSError("disk full")

    tracker = EmissionsTracker(output_handlers=[Broken()], **MEASURED)
    tracker.start()
    assert tracker.stop() > 0
    from carbon_magic.core.problems import problems

    assert any(p.where == "output Broken.out" and p.error_type == "OSError" for p in problems.all())


def test_allow_multiple_runs_false_uses_a_lock_not_a_signal_handler(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    handler_before = signal.getsignal(signal.SIGINT)
    first = EmissionsTracker(allow_multiple_runs=False, **MEASURED)
    second = EmissionsTracker(allow_multiple_runs=False, **MEASURED)
    first.start()
    second.start()
    assert signal.getsignal(signal.SIGINT) is handler_before
    assert not second.running and "allow_multiple_runs=False" in caplog.text
    assert second.stop() is None
    first.stop()
    second.start()  # free again once the first stopped
    assert second.running
    second.stop()


def test_log_level_and_preamble(caplog):
    EmissionsTracker(log_level="debug", logger_preamble="[nb-42]", **MEASURED)
    logger = logging.getLogger("carbon_magic")
    assert logger.level == logging.DEBUG
    with caplog.at_level(logging.DEBUG, logger="carbon_magic"):
        logger.info("hello")
    assert "[nb-42] hello" in caplog.text
    EmissionsTracker(log_level="error", **MEASURED)
    assert logger.level == logging.ERROR


def test_offline_tracker_needs_a_location():
    with pytest.raises(ConfigError, match="needs a location"):
        OfflineEmissionsTracker()


def test_country_intensity_from_the_packaged_table():
    tracker = OfflineEmissionsTracker(country_iso_code="fr", **{k: v for k, v in MEASURED.items() if "intensity" not in k})
    tracker.start()
    time.sleep(0.05)
    tracker.stop()
    data = tracker.final_emissions_data
    assert data.country_iso_code == "FRA" and data.country_name == "France"
    assert 10 < data.intensity_g_per_kwh < 200  # France's grid is nuclear-heavy
    assert data.emissions == pytest.approx(data.energy_consumed * data.intensity_g_per_kwh / 1000)


def test_world_average_without_a_country():
    tracker = EmissionsTracker(**{k: v for k, v in MEASURED.items() if "intensity" not in k})
    tracker.start()
    tracker.stop()
    assert tracker.final_emissions_data.intensity_g_per_kwh == 475.0
    assert "world average" in tracker.final_emissions_data.intensity_source


def test_record_has_codecarbons_columns_and_machine_facts():
    tracker = EmissionsTracker(**MEASURED)
    tracker.start()
    tracker.stop()
    data = tracker.final_emissions_data.as_dict()
    assert tuple(data) == CSV_COLUMNS and len(CSV_COLUMNS) == 38
    assert data["cpu_count"] >= 1 and data["ram_total_size"] > 0 and data["os"]
    assert data["tracking_mode"] == "machine"
    assert 0 <= data["cpu_utilization_percent"] <= 100


def _reading(t: float, energy_j: dict[str, float]):
    from carbon_magic.core.ledger import Reading

    return Reading(sampler_id=0, t_mono=t, t_wall=time.time(), energy_j=energy_j, process_energy_j={}, power_w={},
                   cpu_util_s=0.0, gpu_util_s={}, ram_util_s=0.0, ram_used_gb_s=0.0, process_cpu_s=0.0,
                   machine_busy_s=0.0)


def test_record_band_counts_measured_components_at_their_value_and_modelled_ones_by_their_band(tmp_path):
    """RAPL measures the CPU (no band); RAM and platform are modelled, with the validated band."""
    from carbon_magic.core.ledger import Window
    from tests.fakes.powercap import make_tree

    make_tree(tmp_path)
    tracker = EmissionsTracker(powercap_root=str(tmp_path), force_carbon_intensity_g_co2e_kwh=500.0,
                               save_to_file=False, pue=1.2)
    bands = tracker.sampler.bands()
    assert bands.keys() == {"ram", "platform"} and bands["ram"] == bands["platform"]
    low, high = bands["ram"]  # this machine's model: the validated band (widened on a guest)
    assert low < 0.8 and high > 1.3
    joules = {"cpu": 3.6e6, "ram": 1.8e6, "platform": 0.9e6}
    window = Window(_reading(0.0, dict.fromkeys(joules, 0.0)), _reading(3600.0, joules), tuple(joules))
    data = tracker.record(window, "band")
    low_kwh, high_kwh = 1.2 * (1.0 + (0.5 + 0.25) * low), 1.2 * (1.0 + (0.5 + 0.25) * high)
    assert data.energy_consumed == pytest.approx(1.2 * 1.75) and data.platform_energy == pytest.approx(1.2 * 0.25)
    assert (data.energy_low, data.energy_high) == pytest.approx((low_kwh, high_kwh))
    assert (data.emissions_low, data.emissions_high) == pytest.approx((low_kwh * 0.5, high_kwh * 0.5))
    measured = tracker.record(Window(_reading(0.0, {"cpu": 0.0}), _reading(3600.0, {"cpu": 3.6e6}), ("cpu",)), "cpu")
    assert measured.energy_low == measured.energy_consumed == measured.energy_high == pytest.approx(1.2)


def test_run_ids_are_the_version_4_uuids_of_their_random_bits():
    """Run ids are written directly from 128 random bits, exactly as uuid.UUID(version=4) writes them."""
    import random
    import uuid

    from carbon_magic.core.tracker import RunIds

    ids = RunIds()
    ids._random.seed(7)
    expected = random.Random(7)
    for _ in range(200):
        run_id = ids.new()
        assert run_id == str(uuid.UUID(int=expected.getrandbits(128), version=4))
        assert uuid.UUID(run_id).version == 4


def test_a_stop_split_in_end_and_finish_leaves_the_outputs_to_later():
    """``end`` reads the window's end; ``finish(later=)`` makes the record now and hands the
    outputs' calls of a record final at once to ``later`` (the extension's tail, after the
    kernel's reply), in order: the run's record, then its tasks'."""
    from carbon_magic.core.config import resolve_config
    from carbon_magic.core.tracker import Tracker
    from carbon_magic.runtime import current_runtime

    class Sink:
        wants_live = False

        def __init__(self):
            self.calls = []

        def out(self, total, delta):
            self.calls.append(("out", total.run_id))

        def task_out(self, tasks, experiment_name):
            self.calls.append(("task_out", [task.extra["task_name"] for task in tasks]))

        def wait(self, timeout_s):
            return True

    runtime = current_runtime()
    sink = Sink()
    tracker = Tracker(resolve_config(MEASURED), sink, samplers=runtime.samplers, location=runtime.location)
    tracker.start()
    tracker.start_task("t1")
    ending = tracker.end()
    assert ending is not None and not tracker.running
    later = []
    tracker.finish(ending, wait=False, later=later.append)
    data = tracker.final_emissions_data
    assert data is not None and data.run_id == ending.run.run_id and not data.provisional
    assert sink.calls == [] and len(later) == 1
    later[0]()
    assert sink.calls == [("out", data.run_id), ("task_out", ["t1"])]
    tracker.start()  # the outputs waited; the tracker did not
    assert tracker.stop(wait=False) is not None
    assert sink.calls[-1] == ("out", tracker.final_emissions_data.run_id)  # no later: at once
