"""Outputs: where finished and live measurements go. All of them run on output lanes
(``core.lanes``), never on the cell's thread; none can slow or break a cell. The one
exception, a CSV row that is one plain append to a local file whose lock is free, is
written at once on the caller's thread (``_Route``): no thread to wake, no row left in flight.
The caller chooses when: a kernel's cell writes its rows right after the kernel's reply
(``Tracker.finish(later=)``, queued by the IPython extension).

Selected as CodeCarbon selects them: ``output_methods`` (csv, api, logger, prometheus,
logfire) or else the ``save_to_*`` flags; ``emissions_endpoint`` adds the HTTP output;
``output_handlers`` are custom outputs, called last.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..core.config import ConfigError
from ..core.lanes import Lanes, OutputWorker, Ticket, wait_all
from ..core.output_methods import selected_methods
from ..core.params import HANDLER_METHODS
from ..core.paths import check_records_target
from ..core.record import EmissionsData
from .base import BaseOutput
from .services import OutputServices

if TYPE_CHECKING:
    from .api import CodeCarbonAPIOutput
    from .csv_file import FileOutput
    from .logfire import LogfireOutput

# The output classes, each imported from its module when first asked for: loading the extension
# (whose runtime holds the lanes, ``services``) imports none of them; the first tracker's
# outputs import those it uses.
_OUTPUT_MODULES = {
    "FileOutput": "csv_file", "CodeCarbonAPIOutput": "api", "HTTPOutput": "http", "LoggerOutput": "logger",
    "GoogleCloudLoggerOutput": "logger", "PrometheusOutput": "prometheus", "LogfireOutput": "logfire",
}

__all__ = ["BaseOutput", *_OUTPUT_MODULES, "Dispatcher", "build_outputs", "OutputServices"]


def __getattr__(name: str) -> Any:
    module = _OUTPUT_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def _chosen_by(config: Mapping[str, Any], flag: str) -> str:
    """What selected an output, for error messages: the parameter and its source."""
    name = "output_methods" if config["output_methods"] is not None else flag
    source = getattr(config, "source", None)
    return f"{name} (from {source(name)})" if source else name


def _api_output(config: Mapping[str, Any]) -> CodeCarbonAPIOutput:
    from .api import CodeCarbonAPIOutput

    if not config["experiment_id"]:
        raise ConfigError(
            f"The CodeCarbon API output, selected by {_chosen_by(config, 'save_to_api')}, needs "
            f"experiment_id: the id of an experiment on your CodeCarbon dashboard "
            f"(argument experiment_id=..., CODECARBON_EXPERIMENT_ID or .codecarbon.config).",
            name="experiment_id",
        )
    return CodeCarbonAPIOutput(config["api_endpoint"], config["experiment_id"], config["api_key"],
                               config["api_call_interval"])


def _file_output(config: Mapping[str, Any]) -> FileOutput:
    """The CSV output; an existing output_file that holds something else is refused, untouched."""
    try:
        check_records_target(Path(config["output_dir"]) / config["output_file"])
    except (ValueError, OSError) as error:
        source = getattr(config, "source", None)
        shown = f" (from {source('output_file')})" if source else ""
        raise ConfigError(
            f"Cannot write records to output_file {config['output_file']!r}{shown}: {error}; it is left "
            f"as it is. Accepted: the name of a new file or of a records CSV file.",
            name="output_file",
        ) from None
    from .csv_file import FileOutput

    return FileOutput(config["output_file"], config["output_dir"], config["on_csv_write"])


def _logger_output(config: Mapping[str, Any]) -> Any:
    from .logger import LoggerOutput

    given = config["logging_logger"]
    if isinstance(given, logging.Logger):
        return LoggerOutput(given)
    if given is not None and (_implements(given, "out") or _implements(given, "live_out")):
        return given
    shown = "nothing" if given is None else f"a {type(given).__name__}"
    raise ConfigError(
        f"The logger output, selected by {_chosen_by(config, 'save_to_logger')}, needs logging_logger: "
        f"a LoggerOutput(logging.getLogger('name'), severity), a GoogleCloudLoggerOutput(cloud_logger) "
        f"or a logging.Logger; got {shown}.",
        name="logging_logger",
    )


def _logfire_output(config: Mapping[str, Any]) -> LogfireOutput:
    from .logfire import LogfireOutput, logfire_installed

    if not logfire_installed():
        raise ConfigError(
            f"The Logfire output, selected by {_chosen_by(config, 'save_to_logfire')}, needs the "
            f"logfire package: pip install 'carbon_magic[logfire]'.",
            name="save_to_logfire",
        )
    return LogfireOutput()


def build_outputs(config: Mapping[str, Any]) -> list[Any]:
    """The output objects a tracker with ``config`` writes to, custom handlers last.

    Raises ConfigError for an output that cannot work as configured (the API without
    experiment_id, the logger without logging_logger, Logfire not installed).
    """
    methods = selected_methods(config)
    outputs: list[Any] = []
    if "csv" in methods:
        outputs.append(_file_output(config))
    if "api" in methods:
        outputs.append(_api_output(config))
    if config["emissions_endpoint"]:
        from .http import HTTPOutput

        outputs.append(HTTPOutput(config["emissions_endpoint"]))
    if "logger" in methods:
        outputs.append(_logger_output(config))
    if "prometheus" in methods:
        from .prometheus import PrometheusOutput, job_name

        experiment = config["experiment_name"] or config["experiment_id"]
        outputs.append(PrometheusOutput(config["prometheus_url"], job_name(config["project_name"], experiment)))
    if "logfire" in methods:
        outputs.append(_logfire_output(config))
    outputs.extend(config["output_handlers"] or ())
    return outputs


def _implements(output: Any, method: str) -> bool:
    """True if ``output`` has ``method`` of its own (not BaseOutput's empty one)."""
    function = getattr(type(output), method, None) or getattr(output, method, None)
    return callable(function) and function is not getattr(BaseOutput, method)


def _lane_name(output: Any) -> str:
    """The lane an output declares (BaseOutput subclasses), else ``ext``."""
    return output.lane if isinstance(output, BaseOutput) else BaseOutput.lane


class _Route:
    """One output's method, the lane it runs on, and its ``<method>_now`` if it has one: the
    same call made on the caller's thread when that cannot wait (the CSV file's plain
    appends, ``csv_file.RowAppender.append_now``), tried while the lane has nothing queued
    that should come first; it returns False when the call must go to the lane after all."""

    __slots__ = ("lane", "where", "function", "now", "merge_key")

    def __init__(self, output: Any, method: str, lanes: Lanes):
        self.lane: OutputWorker = lanes.lane(_lane_name(output))
        self.where = f"output {type(output).__name__}.{method}"
        self.function = getattr(output, method)
        self.now = getattr(output, f"{method}_now", None) if isinstance(output, BaseOutput) else None
        merges = getattr(output, "supersedes", False) and method in ("out", "live_out")
        self.merge_key = (id(output), method) if merges else None


class Dispatcher:
    """An OutputSink that queues each output call on the output's lane and returns at once.

    Cost on the caller's thread: one queue append per output that implements the method.
    ``services``: the lanes and what else the outputs share (the runtime's ``outputs``).
    """

    def __init__(self, outputs: list[Any], services: OutputServices):
        self.outputs = list(outputs)
        for output in self.outputs:
            if isinstance(output, BaseOutput):
                output.attach(services)
        self._routes = {
            method: [_Route(o, method, services.lanes) for o in self.outputs if _implements(o, method)
                     and (method != "live_out" or getattr(o, "wants_live", True))]
            for method in HANDLER_METHODS
        }
        self.wants_live = bool(self._routes["live_out"])
        self._last: dict[OutputWorker, int] = {}  # per lane, the number of this sink's latest call
        for output in self.outputs:
            if _implements(output, "exit"):
                services.lanes.on_exit(output.exit, lane_name=_lane_name(output), key=("output exit", id(output)))

    def _send(self, method: str, args: tuple, run_id: str | None = None) -> None:
        last = self._last
        for route in self._routes[method]:
            if route.now is not None and route.lane.idle() and route.now(*args):
                continue
            key = None if route.merge_key is None else (route.merge_key, run_id)
            seq = route.lane.enqueue(route.where, route.function, args, key)
            if seq > last.get(route.lane, 0):
                last[route.lane] = seq

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._send("out", (total, delta), total.run_id)

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._send("live_out", (total, delta), total.run_id)

    def task_out(self, tasks: list[EmissionsData], experiment_name: str) -> None:
        self._send("task_out", (tasks, experiment_name))

    def cell_out(self, record: EmissionsData, label: str, experiment_name: str) -> None:
        """One finished notebook cell, as a task named ``label``, to every output that takes
        tasks (the CSV task file ``emissions_<experiment_name>_<run_id>.csv``, the logger
        outputs, custom handlers' ``task_out``). Returns at once, like every sink method."""
        cell = record.replace(extra={**record.extra, "task_name": label})
        self._send("task_out", ([cell], experiment_name))

    def exit(self) -> None:
        self._send("exit", ())

    def wait(self, timeout_s: float) -> bool:
        """Wait for this sink's queued calls (bounded); True if all finished."""
        return wait_all([Ticket(lane_, seq) for lane_, seq in list(self._last.items())], timeout_s)
