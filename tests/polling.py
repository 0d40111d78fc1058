"""Waiting in tests for a condition that no event announces: poll it until it holds or a
deadline passes (the one polling helper; prefer an event, a server's ``wait_for`` or a
ticket where the code offers one)."""

from __future__ import annotations

import time
from typing import Callable


def eventually(predicate: Callable[[], object], timeout_s: float = 10.0, step_s: float = 0.01) -> bool:
    """True as soon as ``predicate()`` is, False if it is still not after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
