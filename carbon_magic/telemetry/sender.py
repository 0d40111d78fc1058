"""Sending payloads: one background thread with a queue, short timeouts, nothing raised.

Payloads are built on that thread too (``submit`` takes a function that builds one), so
neither building nor sending is ever on a cell's path. Every exception, from building or
sending, is swallowed and counted in ``core.problems``. With ``CODECARBON_TELEMETRY_DEBUG``
set to a true value the payload is printed (stderr) instead of sent: no socket is opened.

The thread is a private lane (``core.lanes.OutputWorker``), not one of the output lanes:
the output lanes' exit flush may wait up to five seconds, telemetry waits two at most.
Nothing starts until the first ``submit``: a disabled tier creates no thread and no socket.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from ..core.http_transport import post_json, url_secrets
from ..core.lanes import OutputWorker, Ticket
from .levels import truthy

TIMEOUT_S = 2.0
EXIT_WAIT_S = 2.0
DEBUG_VARIABLE = "CODECARBON_TELEMETRY_DEBUG"
MAX_QUEUED = 8


@dataclass(frozen=True)
class Delivery:
    """One payload handled: when, what, and how it went (shown by ``%carbon telemetry``)."""

    at: str
    what: str
    level: str
    outcome: str


class Sender:
    """The telemetry thread and what it has done (see the module docstring)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self._lane = OutputWorker("telemetry", max_queued=MAX_QUEUED)
        self._environ = environ
        self.queued = 0  # payloads queued; the thread starts with the first
        self.deliveries: list[Delivery] = []

    def debug(self) -> bool:
        environ = os.environ if self._environ is None else self._environ
        return truthy(environ.get(DEBUG_VARIABLE))

    def submit(self, what: str, build: Callable[[], dict[str, Any]], endpoint: str,
               timeout_s: float = TIMEOUT_S) -> Ticket:
        """Build then send (or print) one payload on the telemetry thread; returns at once."""
        self.queued += 1
        return self._lane.submit(f"telemetry ({what})", self._deliver, what, build, endpoint, timeout_s)

    def _deliver(self, what: str, build: Callable[[], dict[str, Any]], endpoint: str, timeout_s: float) -> None:
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        payload = build()
        level = str(payload.get("telemetry_level"))
        if self.debug():
            print(f"carbon_magic telemetry debug ({DEBUG_VARIABLE} is set): not sent to {endpoint}:\n"
                  f"{json.dumps(payload, indent=2)}", file=sys.stderr, flush=True)
            self.deliveries.append(Delivery(at, what, level, "printed, not sent (debug)"))
            return
        try:
            post_json(endpoint, payload, expected=range(200, 300), secrets=url_secrets(endpoint),
                      timeout_s=(timeout_s, timeout_s))
        except Exception as error:
            self.deliveries.append(Delivery(at, what, level, f"failed ({type(error).__name__})"))
            raise  # counted in core.problems by the lane
        self.deliveries.append(Delivery(at, what, level, "sent"))

    def close(self) -> None:
        """Drop what is queued; the thread ends."""
        self._lane.close()

    def after_fork_in_child(self) -> None:
        self._lane.after_fork()

    def wait(self, ticket: Ticket, timeout_s: float = EXIT_WAIT_S) -> bool:
        """Wait for ``ticket`` at most ``timeout_s``. Where no thread can start (Python 3.12+
        at interpreter exit) the queued work runs here, within the same bound."""
        deadline = time.monotonic() + timeout_s
        self._lane.run_here(deadline)
        return ticket.wait(max(deadline - time.monotonic(), 0.0))
