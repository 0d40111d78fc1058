"""A summary that never sets off the user's ``clear_output(wait=True)``.

``clear_output(wait=True)`` asks the front end to clear the cell's output when the next
output arrives. Untracked, a cell that ends with such a clear keeps what it showed (the next
output never comes); tracked, the summary sent after the cell would be that output, and
would erase what the user left.

So, in a kernel, a PendingClear watches the messages the kernel sends (its Session's
``send``, which every output passes through: streams from the IO thread, displays, results
and errors): an output ends a waiting clear, a clear with ``wait`` starts one. When a clear
starts to wait in a cell whose summary will follow, an empty display (the *place*) is sent
just before it; if the clear still waits when the summary comes, the summary fills the place
with a display update, which the front ends (JupyterLab, Notebook 7, nbclient) never count as
the next output. If an output came, the clear took the place away with the rest, and the
summary is a display of its own, as always. Outside a kernel nothing is watched.

A live panel keeps a place too, at the top of the cell's output as the cell starts (``keep``);
while no clear has taken it away, it serves instead: the summary of a cell that ended before
its panel showed fills it, and a clear that waits needs no place of its own.
"""

from __future__ import annotations

import sys
from typing import Any

# The messages front ends add to a cell's output (and so the ones that end a waiting clear).
OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})


def _message_type(message: Any) -> str:
    return message["header"]["msg_type"] if isinstance(message, dict) else message


class PendingClear:
    """The current cell's waiting clear and the place kept before it (module docstring)."""

    def __init__(self, shell: Any):
        self.session = getattr(getattr(shell, "kernel", None), "session", None)
        self.summaries_due = 0  # open windows whose summary will be shown in this cell
        self.waiting = False
        self.place: str | None = None
        self.kept: str | None = None  # the live panel's place, while no clear has taken it away
        self._send: Any = None

    # -- load / unload ------------------------------------------------------------------------
    def attach(self) -> None:
        if self.session is None or self._send is not None:
            return
        self._send = self.session.send
        self.session.send = self._watched_send

    def detach(self) -> None:
        """Unwrap ``send``, unless something wrapped it after us (then ours goes on forwarding)."""
        if self._send is not None and self.session is not None and vars(self.session).get("send") == self._watched_send:
            del self.session.send  # the class's method again
            self._send = None

    # -- the cell -----------------------------------------------------------------------------
    def new_cell(self) -> None:
        """A cell starts: its output area is empty, nothing waits."""
        self.waiting, self.place, self.kept = False, None, None

    def keep(self, place: str) -> None:
        """The display ``place`` was just sent at the top of the cell's output (the live panel's)."""
        self.kept = place

    def place_for_summary(self, kept: str | None = None) -> str | None:
        """The display id the summary should update, or None: show it anew. ``kept``, the
        window's own place, if no clear took it away; else the place kept before a clear that
        still waits."""
        if self.waiting:  # the user's prints since the clear are sent (and seen) first
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        if kept is not None and kept == self.kept:
            return kept
        return self.place if self.waiting else None

    # -- every message the kernel sends (any thread) -------------------------------------------
    def _watched_send(self, *args: Any, **kwargs: Any) -> Any:
        """``Session.send(stream, msg_or_type, ...)``, noting outputs and clears on the way."""
        message = args[1] if len(args) > 1 else kwargs.get("msg_or_type")
        kind = _message_type(message)
        if kind in OUTPUT_TYPES:
            if self.waiting:  # the clear is done now, and took the kept place with the rest
                self.kept = None
            self.waiting = False
        elif kind == "clear_output" and isinstance(message, dict) and message["content"].get("wait"):
            # a place goes out just as the clear would, for summaries the kept place does not take
            if not self.waiting and self.summaries_due > (0 if self.kept is None else 1):
                place = self._new_place(message)
                if len(args) > 1:
                    self._send(args[0], place, *args[2:], **kwargs)
                else:
                    self._send(*args, **{**kwargs, "msg_or_type": place})
            self.waiting = True
        elif kind == "clear_output":  # done at once: it took the kept place with the rest
            self.kept = None
        return self._send(*args, **kwargs)

    def _new_place(self, clear: dict) -> dict:
        from ..core.tracker import new_run_id

        assert self.session is not None  # _watched_send is installed only on a session (attach)
        self.place = f"carbon-magic-summary-{new_run_id()}"
        content = {"data": {"text/plain": ""}, "metadata": {}, "transient": {"display_id": self.place}}
        return self.session.msg("display_data", content, parent=clear["parent_header"])
