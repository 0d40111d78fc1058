"""A tracked cell's bookkeeping, left for right after the kernel's reply.

The front end waits for a cell until the kernel says it is idle. Of what the extension does
when a tracked cell ends, only the window's end reading (the measurement) must happen before
that; the record, its CSV rows (``emissions.csv``, ``carbon_cells.csv``), the listeners
(running totals, the session panel, the sidebar) can wait a moment, and a cell showing a
summary needs only its record before the reply. A ``Tail`` holds that work, in order, and
runs it:

- right after the reply: ``post_run_cell`` runs inside ipykernel's ``dispatch_shell``, which
  sends the reply and publishes idle with no ``await`` in between (ipykernel 7.4
  ``Kernel.execute_request`` / ``dispatch_shell``); a callback put on the kernel's asyncio loop
  with ``call_soon`` runs when that task step ends, before the next queued request: that one
  waits for ``shell_main``'s asyncio lock, and the lock wakes it through the loop's queue,
  behind the callback. The idle status is only queued for the kernel's IOPub thread by then,
  and that thread needs the GIL this work would hold (a few hundred microseconds later to the
  front end): the callback first waits, bounded, until the IOPub thread has sent what was
  queued before it (``IOPUB_WAIT_S``), time the kernel would spend waiting for the front end's
  next request anyway. ipykernel 6 can take the next request from its queue without a trip
  through the loop, so:
- first thing in the next cell's ``pre_run_cell``, if the callback has not run yet: the rows
  of every finished cell are on disk before the next cell's code runs (a kernel crashing in it
  loses at most the cell in flight), and the tracker of a cell is back in the pool only then
  (``Session.close``), so it is never reused while its work waits;
- whenever the session's records are read on the kernel's thread (``Session.records``:
  ``%carbon report``, ``status``, ``plot``, ``export``, the session panel), at extension
  unload and at interpreter exit (``Runtime.before_exit``), before the output lanes flush.

Outside a kernel (terminal IPython, an ``InteractiveShell`` with no running loop) there is no
reply to answer first: ``for_shell`` gives no tail and the work runs inline as before; so does
a cell run on another thread than the tail's (an ipykernel 7 subshell).
Ctrl-C: work run from the loop runs after ipykernel's ``post_handler_hook`` put back the
kernel's SIGINT handler, which ignores it; work run in a cell's hooks or magics is held from
Ctrl-C here (``interrupts.py``), so a record is never left half made.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from ..core.problems import problems
from .interrupts import InterruptsHeld

if TYPE_CHECKING:
    import asyncio

Work = Callable[[], object]

# How long the callback after the reply waits for the IOPub thread to send the idle status.
IOPUB_WAIT_S = 0.005


class Tail:
    """Work for right after the kernel's reply, run in order on the kernel's thread (see the
    module docstring). Made by ``for_shell``: inside a running kernel only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, iopub: Any = None):
        """``iopub``: the kernel's IOPub thread (``schedule(function)`` runs ``function`` there,
        after what was queued before), or None."""
        self._loop = loop
        self._iopub = iopub
        self._thread = threading.get_ident()  # the kernel's shell thread, where work is added and run
        self._work: deque[Work] = deque()
        self._callback: asyncio.Handle | None = None
        self._running = False

    @classmethod
    def for_shell(cls, shell: Any) -> "Tail | None":
        """A tail for ``shell``'s kernel, called on its thread while a cell runs; None outside a
        kernel (no ``shell.kernel``, or no asyncio loop running the cell)."""
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        import asyncio  # a kernel has it loaded; loading the extension in a terminal does not (40 ms)

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        iopub = getattr(kernel, "iopub_thread", None)
        return cls(loop, iopub if callable(getattr(iopub, "schedule", None)) else None)

    def add(self, work: Work) -> None:
        """Run ``work`` after the reply (kernel thread), after the work added before it."""
        self._work.append(work)
        if self._callback is None:
            self._callback = self._loop.call_soon(self._after_reply)

    @property
    def pending(self) -> bool:
        return bool(self._work)

    def _after_reply(self) -> None:
        """The loop's callback: once the IOPub thread has sent the reply's idle status, run."""
        self._callback = None
        if self._iopub is not None and self._work:
            sent = threading.Event()
            try:
                self._iopub.schedule(sent.set)
                sent.wait(IOPUB_WAIT_S)
            except Exception as error:  # a kernel whose IOPub thread works otherwise: run at once
                problems.note("carbon_magic waiting for IOPub", error)
        self.run()

    def run(self) -> None:
        """Run every pending work now, in order; one that raises is counted in ``core.problems``
        and the rest still runs. A call from within the work (a listener reading the records)
        returns at once: the work in progress goes on in order."""
        if self._callback is not None:
            self._callback.cancel()
            self._callback = None
        if self._running or not self._work:
            return
        self._running = True
        try:
            with InterruptsHeld() as held:
                while self._work:
                    work = self._work.popleft()
                    try:
                        work()
                    except Exception as error:  # tracking never breaks a cell, nor the next one
                        problems.note("carbon_magic cell bookkeeping", error)
        finally:
            self._running = False
        held.deliver()

    def on_its_thread(self) -> bool:
        """Whether the caller is on the thread this tail's work runs on (the kernel's shell
        thread; an ipykernel 7 subshell runs cells on a thread and loop of its own)."""
        return threading.get_ident() == self._thread

    def settle(self) -> None:
        """``run``, when called on the tail's thread (elsewhere the work waits for it)."""
        if self._work and self.on_its_thread():
            self.run()
