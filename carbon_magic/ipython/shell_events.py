"""Taking our callbacks off IPython's events (``shell.events``) when the extension unloads."""

from __future__ import annotations

from typing import Any, Callable, Iterable


def unregister_events(events: Any, hooks: Iterable[tuple[str, Callable[..., Any]]]) -> None:
    """Unregister each ``(event, callback)`` from ``events``; one already removed (by
    someone else) is skipped."""
    for event, callback in hooks:
        try:
            events.unregister(event, callback)
        except ValueError:
            pass  # someone removed it already
