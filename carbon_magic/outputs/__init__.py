"""Outputs: where finished and live measurements go. All of them run on the output worker."""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping

from ..core.record import EmissionsData
from .base import BaseOutput
from .csv_file import FileOutput
from .worker import Ticket, on_exit, wait_all, worker

__all__ = ["BaseOutput", "FileOutput", "Dispatcher", "build_outputs", "selected_methods"]


def selected_methods(config: Mapping[str, Any]) -> set[str]:
    """``output_methods`` if given, else the ``save_to_*`` flags (CodeCarbon's rule)."""
    if config["output_methods"] is not None:
        return set(config["output_methods"])
    flags = {
        "csv": config["save_to_file"],
        "api": config["save_to_api"],
        "logger": config["save_to_logger"],
        "prometheus": config["save_to_prometheus"],
        "logfire": config["save_to_logfire"],
    }
    return {method for method, wanted in flags.items() if wanted}


def build_outputs(config: Mapping[str, Any]) -> list[Any]:
    """The output objects a tracker with ``config`` writes to, custom handlers last."""
    methods = selected_methods(config)
    outputs: list[Any] = []
    if "csv" in methods:
        outputs.append(FileOutput(config["output_file"], config["output_dir"], config["on_csv_write"]))
    outputs.extend(config["output_handlers"] or ())
    return outputs


def _implements(output: Any, method: str) -> bool:
    """True if ``output`` has ``method`` of its own (not BaseOutput's empty one)."""
    function = getattr(type(output), method, None) or getattr(output, method, None)
    return callable(function) and function is not getattr(BaseOutput, method)


class Dispatcher:
    """An OutputSink that queues each output call on the worker and returns at once."""

    def __init__(self, outputs: list[Any]):
        self.outputs = outputs
        self._pending: deque[Ticket] = deque()
        self.wants_live = any(_implements(o, "live_out") for o in outputs)
        if any(hasattr(o, "exit") for o in outputs):
            on_exit(self._exit_now)

    def _send(self, method: str, *args: Any) -> None:
        # The single worker finishes calls in order: drop the finished ones from the front
        # (a scan of the whole queue would cost O(backlog) per call when cells come fast).
        while self._pending and self._pending[0].done.is_set():
            self._pending.popleft()
        for output in self.outputs:
            function = getattr(output, method, None)
            if _implements(output, method):
                where = f"output {type(output).__name__}.{method}"
                self._pending.append(worker.submit(where, function, *args))

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._send("out", total, delta)

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._send("live_out", total, delta)

    def task_out(self, tasks: list[EmissionsData], experiment_name: str) -> None:
        self._send("task_out", tasks, experiment_name)

    def exit(self) -> None:
        self._send("exit")

    def _exit_now(self) -> None:
        for output in self.outputs:
            function = getattr(output, "exit", None)
            if callable(function):
                function()

    def wait(self, timeout_s: float) -> bool:
        """Wait for this sink's queued calls (bounded); True if all finished."""
        return wait_all(list(self._pending), timeout_s)
