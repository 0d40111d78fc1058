"""Holding Ctrl-C back while the extension opens or closes a cell's record.

An interrupt (SIGINT: the notebook's stop button, Ctrl-C) that arrives while the extension
does its own bookkeeping at a cell's start or end would otherwise land anywhere in it: a
record half made, a lock taken and never released. Inside ``InterruptsHeld`` such an
interrupt is only noted; ``deliver`` then raises it where the user's code runs (or right
after the cell), so the user still gets their KeyboardInterrupt and the record is whole.
Signal handlers can only be set on the main thread: elsewhere this holds nothing back.
Handlers are swapped through ``_signal`` (what ``signal.signal`` wraps): the wrapper turns
the previous handler into an enum member, raising and catching a ValueError for a Python
function, which made the four swaps of a tracked cell cost 25 times more.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # CPython's C module under signal: typeshed has no stub
import signal
import threading
from typing import Any


class InterruptsHeld:
    """``with InterruptsHeld() as held: ...`` then ``held.deliver()`` where the interrupt
    may be raised."""

    def __init__(self) -> None:
        self.received = False
        self._holding = False
        self._previous: Any = None

    def __enter__(self) -> "InterruptsHeld":
        return self.hold()

    def hold(self) -> "InterruptsHeld":
        """Start holding interrupts back, if not already (``release`` ends it; ``with`` does both)."""
        if not self._holding and threading.current_thread() is threading.main_thread():
            try:
                self._previous = _signal.signal(signal.SIGINT, self._note)
                self._holding = True
            except (ValueError, OSError):  # no signals here (an embedded interpreter)
                self._previous = None
        return self

    def _note(self, signum: int, frame: Any) -> None:
        self.received = True

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def release(self) -> None:
        """Stop holding interrupts back (the handler held is back in place); ``deliver`` next."""
        if self._holding:
            self._holding = False
            if self._previous is not None:  # None: a handler set outside Python, not ours to restore
                _signal.signal(signal.SIGINT, self._previous)

    def deliver(self) -> None:
        """Raise the interrupt held back, if one came, as the handler in place would."""
        if not self.received:
            return
        self.received = False
        if callable(self._previous):
            self._previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
        elif self._previous != signal.SIG_IGN:
            raise KeyboardInterrupt
