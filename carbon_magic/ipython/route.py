"""Sending a cell's output from another thread: capture the cell's parent message, reuse it.

The kernel tags every output message with the request that caused it (its *parent*); front
ends file outputs under that request's cell. Output sent from a background thread (the live
panel's updates, a GPU record settling after the cell) must carry the parent of the cell it
belongs to, not of whatever request the kernel handles by then.

- ipykernel 7 keeps the parent in context variables and, for threads that set none, falls
  back to the latest request (ipykernel PR #1451). A Route copies the cell's context on the
  kernel's main thread (``pre_run_cell`` / ``cell_started``) and runs thread work inside it,
  which also covers the kernel's own parent for widget (comm) messages; where the shell has
  ``set_thread_parent`` (recent ipykernel 7 releases) it pins the display publisher and
  streams too, so a change in how contexts are inherited cannot reroute the output.
- ipykernel 6 has one parent for all threads: the running cell's, which is right while the
  cell runs. After it, display updates and widget messages are still routed by display id and
  comm id by JupyterLab, Notebook 7 and nbclient alike.
- Outside a kernel (terminal IPython) there is no parent; work simply runs.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def current_parent(shell: Any) -> Any:
    """The request the kernel is handling now, seen from the calling thread (None outside a kernel)."""
    get_parent = getattr(shell, "get_parent", None)
    if callable(get_parent):
        return get_parent()
    return getattr(shell, "parent_header", None)


class Route:
    """A cell's output destination, captured on the kernel's main thread (see the module docstring)."""

    def __init__(self, shell: Any):
        self.shell = shell
        self.parent = current_parent(shell)
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()  # a context can be entered by one thread at a time

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` with this cell as the parent of the output it sends."""
        with self._lock:
            return self._context.run(self._pinned, function, args)

    def _pinned(self, function: Callable[..., T], args: tuple) -> T:
        set_thread_parent = getattr(self.shell, "set_thread_parent", None)
        if not (callable(set_thread_parent) and self.parent):
            return function(*args)
        tokens = set_thread_parent(self.parent)
        try:
            return function(*args)
        finally:
            self.shell.reset_thread_parent(tokens)


def _no_flush() -> None:
    pass


def publish_in_order(shell: Any, data: dict, display_id: str | None = None, update: bool = False) -> None:
    """Display ``data`` in the current cell's output, after the text the cell printed.

    ipykernel's display publisher flushes stdout and stderr before every display, and each
    flush is a round trip to the kernel's IO thread even when nothing waits to be sent (about
    half of what a summary cost a trivial cell). A stream that holds no unsent text
    (ipykernel's ``_flush_pending`` is false) has nothing to put before the display: when
    neither does, the display is published without the flushes. The display message itself
    goes through the same IO thread, so whatever an earlier flush is sending still comes first.
    """
    publisher = shell.display_pub
    transient = {"display_id": display_id} if display_id else {}
    streams_empty = not any(getattr(stream, "_flush_pending", True) for stream in (sys.stdout, sys.stderr))
    if not (streams_empty and hasattr(publisher, "_flush_streams")):
        publisher.publish(data=data, metadata={}, transient=transient, update=update)
        return
    publisher._flush_streams = _no_flush  # for this one display (kernel thread)
    try:
        publisher.publish(data=data, metadata={}, transient=transient, update=update)
    finally:
        del publisher._flush_streams
