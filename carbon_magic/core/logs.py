"""The 'carbon_magic' logger: level and preamble from the tracker parameters."""

from __future__ import annotations

import logging

logger = logging.getLogger("carbon_magic")


class _Preamble(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if self.text and not getattr(record, "_carbon_preamble", False):
            record.msg = f"{self.text}{record.msg}"
            record._carbon_preamble = True
        return True


class _WarningCounter(logging.Filter):
    """Counts WARNING-or-worse records of the logger (extensive telemetry's warning_count)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.count += 1
        return True


# Filters of the process-wide 'carbon_magic' logger (logging's loggers are per process): they
# live as long as the logger does.
_preamble = _Preamble()
_warnings = _WarningCounter()
logger.addFilter(_preamble)
logger.addFilter(_warnings)


def warning_count() -> int:
    """Warnings (and worse) logged by carbon_magic in this process."""
    return _warnings.count


def configure_logger(level: str, preamble: str) -> None:
    """Set the level (a name of params.LOG_LEVELS) and the text put before every message."""
    logger.setLevel(level.upper())
    _preamble.text = f"{preamble} " if preamble else ""
