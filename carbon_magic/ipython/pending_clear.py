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
        self.waiting, self.place = False, None

    def place_for_summary(self) -> str | None:
        """The display id the summary should update (a clear still waits), or None: show it anew."""
        if self.waiting:  # the user's prints since the clear are sent (and seen) first
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        return self.place if self.waiting else None

    # -- every message the kernel sends (any thread) -------------------------------------------
    def _watched_send(self, *args: Any, **kwargs: Any) -> Any:
        """``Session.send(stream, msg_or_type, ...)``, noting outputs and clears on the way."""
        message = args[1] if len(args) > 1 else kwargs.get("msg_or_type")
        kind = _message_type(message)
        if kind in OUTPUT_TYPES:
            self.waiting = False
        elif kind == "clear_output" and isinstance(message, dict) and message["content"].get("wait"):
            if not self.waiting and self.summaries_due:  # the place goes out just as the clear would
                place = self._new_place(message)
                if len(args) > 1:
                    self._send(args[0], place, *args[2:], **kwargs)
                else:
                    self._send(*args, **{**kwargs, "msg_or_type": place})
            self.waiting = True
        return self._send(*args, **kwargs)

    def _new_place(self, clear: dict) -> dict:
        from ..core.tracker import new_run_id

        assert self.session is not None  # _watched_send is installed only on a session (attach)
        self.place = f"carbon-magic-summary-{new_run_id()}"
        content = {"data": {"text/plain": ""}, "metadata": {}, "transient": {"display_id": self.place}}
        return self.session.msg("display_data", content, parent=clear["parent_header"])
