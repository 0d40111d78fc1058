"""Logger outputs: the JSON of the totals through a ``logging.Logger``, or ``log_struct`` of a
Google Cloud Logging logger. Selected by ``save_to_logger`` (or ``output_methods=logger``)
with the output given as ``logging_logger``, as in CodeCarbon.

Both run on the ``ext`` lane: a logger's handlers may be slow (files, network) and must not
hold up the CSV file.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..core.record import EmissionsData
from .base import BaseOutput


class LoggerOutput(BaseOutput):
    """Logs ``json.dumps`` of a run's totals (CodeCarbon's record fields) at ``severity``,
    at each flush(), stop() and live tick; tasks and notebook cells too, with their
    ``task_name`` and ``experiment_name``."""

    def __init__(self, logger: Any, severity: int = logging.INFO):
        self.logger = logger
        self.logging_severity = severity

    def __repr__(self) -> str:
        name = getattr(self.logger, "name", type(self.logger).__name__)
        return f"{type(self).__name__}({name!r}, severity={self.logging_severity!r})"

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._write(total.as_dict())

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._write(total.as_dict())

    def task_out(self, data: list[EmissionsData], experiment_name: str) -> None:
        for task in data:
            self._write({"task_name": task.extra.get("task_name", ""), "experiment_name": experiment_name,
                         **task.as_dict()})

    def _write(self, payload: dict[str, Any]) -> None:
        self.logger.log(self.logging_severity, json.dumps(payload))


def severity_name(severity: int | str) -> str:
    """Cloud Logging's severity for a ``logging`` level: 20 -> 'INFO' (names pass through)."""
    if isinstance(severity, str):
        return severity.upper()
    name = logging.getLevelName(severity)
    return name if isinstance(name, str) and not name.startswith("Level ") else "DEFAULT"


class GoogleCloudLoggerOutput(LoggerOutput):
    """Writes each payload as a structured entry: ``logger.log_struct(payload, severity=...)``
    (``logger`` is a ``google.cloud.logging.Logger``)."""

    def _write(self, payload: dict[str, Any]) -> None:
        self.logger.log_struct(payload, severity=severity_name(self.logging_severity))
