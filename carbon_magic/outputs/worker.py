"""One output worker thread: every output runs here, never on the cell's thread.

A call that raises is counted and logged once (``core.problems``) and the worker goes on.
At interpreter exit the queue is flushed with a bounded wait, then outputs' ``exit()`` run.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
from typing import Any, Callable

from ..core.problems import problems

EXIT_WAIT_S = 5.0


class Ticket:
    """Completion of one queued call."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class OutputWorker:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.calls = 0

    def submit(self, where: str, function: Callable[..., Any], *args: Any) -> Ticket:
        ticket = Ticket()
        self._queue.put((where, function, args, ticket))
        self._ensure_thread()
        return ticket

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="carbon_magic-outputs", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            where, function, args, ticket = self._queue.get()
            try:
                function(*args)
            except Exception as error:
                problems.note(where, error)
            finally:
                self.calls += 1
                ticket.done.set()

    def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued so far has run (at most ``timeout_s``)."""
        if self._thread is None:
            return True
        return self.submit("drain", lambda: None).done.wait(timeout_s)

    def after_fork(self) -> None:
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()


worker = OutputWorker()


def wait_all(tickets: list[Ticket], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    for ticket in tickets:
        if not ticket.done.wait(max(deadline - time.monotonic(), 0.0)):
            return False
    return True


_exit_hooks: list[Callable[[], None]] = []


def on_exit(hook: Callable[[], None]) -> None:
    """Run ``hook`` on the worker at interpreter exit, after the queue is flushed."""
    _exit_hooks.append(hook)


@atexit.register
def _flush_at_exit() -> None:
    worker.drain(EXIT_WAIT_S)
    tickets = [worker.submit("output exit", hook) for hook in _exit_hooks]
    wait_all(tickets, EXIT_WAIT_S / 2)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=worker.after_fork)
