"""Opt-in usage telemetry: three tiers (disabled / minimal / extensive), asked once.

Nothing is sent until the user has chosen a tier; disabled (the default) creates no thread
and opens no socket. ``DO_NOT_TRACK=1`` beats every other setting. What a tier sends is
exactly the schema of REFERENCE.md section 2, and ``%carbon telemetry preview`` shows it.

A kernel's telemetry is a ``TelemetryLifecycle``, the runtime's ``telemetry``
(``carbon_magic.runtime``). The IPython extension calls (all return quickly, none raises for
a telemetry failure):

- ``on_extension_loaded(shell, config)``: at ``%load_ext``, with the extension's resolved
  Config. Remembers the shell kind; asks the first-run question if no tier was chosen and a
  person can answer (widget in a notebook, text in a terminal; never under nbclient or
  papermill, in CI, or without stdin); wants the exit summary. Starts nothing else.
- the lifecycle is a listener of the Session (``cell_finished(record, data)``); or call
  ``on_first_tracked_cell(data)`` after each tracked cell with its EmissionsData. The first
  call of the kernel queues the chosen tier's payload; later ones keep ``data``.
- ``on_kernel_exit()``: run by the runtime's exit hook while the extension is loaded; queues
  the extensive summary and waits at most 2 s. Idempotent.
- ``on_extension_unloaded()``: at ``%unload_ext`` (drops the exit summary).
- ``telemetry_command(telemetry, arguments, config)``: ``%carbon telemetry <arguments>``;
  returns the text to display; ValueError (with what is accepted) for bad arguments.

Trackers should be created with ``usage="magic"`` by the extension, so that the extensive
tier can tell magics from decorators and context managers.
"""

from __future__ import annotations

from typing import Any

# Where each public name lives: imported on first use, so that loading the extension (which
# touches only the lifecycle functions) does not import payload building or detection.
_EXPORTS = {
    "USAGE": "commands", "preview": "commands", "set_host_hash": "commands", "set_level": "commands",
    "status": "commands", "telemetry_command": "commands",
    "DISABLED": "levels", "EXTENSIVE": "levels", "LEVELS": "levels", "MINIMAL": "levels",
    "PROMPT_TEXTS": "levels", "Resolution": "levels",
    "TelemetryLifecycle": "lifecycle",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'carbon_magic.telemetry' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


__all__ = [
    "TelemetryLifecycle", "telemetry_command", "status", "set_level",
    "set_host_hash", "preview", "USAGE", "Resolution", "LEVELS", "DISABLED", "MINIMAL", "EXTENSIVE",
    "PROMPT_TEXTS",
]
