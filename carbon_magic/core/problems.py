"""Failures that must not break a cell: counted, logged once, shown by ``%carbon status``."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass

from .redact import mask_credentials

logger = logging.getLogger("carbon_magic")


@dataclass(frozen=True)
class Problem:
    where: str
    error_type: str
    count: int
    message: str


class ProblemLog:
    """Counts failures by (place, error type); logs the first of each kind as a warning."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._first: dict[tuple[str, str], str] = {}

    def note(self, where: str, error: BaseException, count: int = 1) -> None:
        """Count ``count`` failures like ``error`` at ``where`` (logged the first time, its
        message cleared of URL credentials before it is cut or logged)."""
        key = (where, type(error).__name__)
        with self._lock:
            first = key not in self._counts
            self._counts[key] += count
            if first:
                message = self._first[key] = mask_credentials(str(error))[:300]
        if first:
            logger.warning("carbon_magic: %s failed (%s: %s); tracking goes on.", where, key[1], message)

    def all(self) -> list[Problem]:
        with self._lock:
            return [Problem(w, k, n, self._first[(w, k)]) for (w, k), n in self._counts.items()]

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._first.clear()

    def after_fork(self) -> None:
        self._lock = threading.Lock()


# The one log for everything in this process; the sampler, outputs and magics all note here.
problems = ProblemLog()
