"""Logger outputs through a captured logger, the Google Cloud adapter's log_struct, and
each notebook cell sent as a task (Dispatcher.cell_out)."""

from __future__ import annotations

import csv
import json
import logging
import time

import pytest

from carbon_magic import EmissionsTracker
from carbon_magic.core.config import ConfigError
from carbon_magic.core.record import TASK_CSV_COLUMNS
from carbon_magic.outputs import Dispatcher, FileOutput, GoogleCloudLoggerOutput, LoggerOutput
from carbon_magic.runtime import current_runtime
from tests.outputs_support import MEASURED, Recorder, tracker_on
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("exit_hooks_run_at_teardown")  # (tests/outputs_support.py)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():
    logger = logging.getLogger("test.carbon.outputs")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = Captured()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def test_logger_output_logs_the_json_of_the_totals_at_its_severity(captured):
    logger, handler = captured
    tracker = EmissionsTracker(save_to_logger=True, logging_logger=LoggerOutput(logger, logging.WARNING), **MEASURED)
    tracker.start()
    tracker.stop()
    [record] = handler.records
    assert record.levelno == logging.WARNING
    assert json.loads(record.getMessage()) == tracker.final_emissions_data.as_dict()


def test_live_ticks_are_logged_too(captured):
    logger, handler = captured
    tracker = tracker_on(LoggerOutput(logger), measure_power_secs=0.05)
    tracker.start()
    assert eventually(lambda: len(handler.records) >= 2, timeout_s=5)
    tracker.stop()
    runs = {json.loads(r.getMessage())["run_id"] for r in handler.records}
    assert runs == {tracker.final_emissions_data.run_id}


def test_a_plain_logging_logger_is_accepted_and_output_methods_select_it(captured):
    logger, handler = captured
    tracker = EmissionsTracker(output_methods="logger", logging_logger=logger, **MEASURED)
    tracker.start()
    tracker.stop()
    assert [r.levelno for r in handler.records] == [logging.INFO]


@pytest.mark.parametrize("value", [None, "not a logger"])
def test_logger_output_without_a_logger_is_a_config_error(value):
    with pytest.raises(ConfigError, match="logging_logger") as error:
        EmissionsTracker(save_to_logger=True, logging_logger=value, **MEASURED)
    assert "save_to_logger (from argument)" in str(error.value) and "LoggerOutput" in str(error.value)


class CloudLogger:
    """Stands in for google.cloud.logging.Logger: keeps what log_struct receives."""

    def __init__(self) -> None:
        self.entries: list[tuple[dict, str]] = []

    def log_struct(self, info: dict, severity: str | None = None) -> None:
        self.entries.append((info, severity))


def test_google_cloud_adapter_writes_structured_entries():
    cloud = CloudLogger()
    tracker = EmissionsTracker(save_to_logger=True, logging_logger=GoogleCloudLoggerOutput(cloud, logging.ERROR),
                               **MEASURED)
    tracker.start()
    tracker.stop()
    assert cloud.entries == [(tracker.final_emissions_data.as_dict(), "ERROR")]


def test_each_cell_goes_as_a_task_named_by_its_label(captured, tmp_path):
    logger, handler = captured
    recorder = Recorder()
    sink = Dispatcher([FileOutput("emissions.csv", str(tmp_path)), LoggerOutput(logger), recorder], current_runtime().outputs)
    tracker = tracker_on()
    tracker.start()
    time.sleep(0.01)  # a window that lasts: energy to log
    tracker.stop()
    cell = tracker.final_emissions_data
    sink.cell_out(cell, "In [3]: train()", "notebook")
    assert sink.wait(5)
    [(tasks, experiment)] = recorder.tasks
    assert experiment == "notebook" and tasks[0].extra["task_name"] == "In [3]: train()"
    assert tasks[0].energy_consumed == cell.energy_consumed and cell.extra == {}
    logged = json.loads(handler.records[-1].getMessage())
    assert logged["task_name"] == "In [3]: train()" and logged["experiment_name"] == "notebook"
    with (tmp_path / f"emissions_notebook_{cell.run_id}.csv").open(newline="") as rows:
        [row] = list(csv.DictReader(rows))
    assert list(row) == list(TASK_CSV_COLUMNS)
    assert row["task_name"] == "In [3]: train()" and float(row["energy_consumed"]) == cell.energy_consumed
    assert not (tmp_path / "emissions.csv").exists()  # a cell is a task row, not a run row
