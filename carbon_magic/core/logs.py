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


_preamble = _Preamble()
logger.addFilter(_preamble)


def configure_logger(level: str, preamble: str) -> None:
    """Set the level (a name of params.LOG_LEVELS) and the text put before every message."""
    logger.setLevel(level.upper())
    _preamble.text = f"{preamble} " if preamble else ""
