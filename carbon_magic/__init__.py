"""carbon_magic: energy, CO2 and water per Jupyter cell, live; CodeCarbon-compatible.

In IPython/Jupyter: ``%load_ext carbon_magic`` then ``%%carbon`` on a cell.
In scripts: ``from carbon_magic import EmissionsTracker`` (CodeCarbon's API).
A machine's wall power without counters: ``carbon_magic.estimate_power_w(...)``.

Importing this package imports neither IPython nor the hardware libraries.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "EmissionsTracker", "OfflineEmissionsTracker", "track_emissions",
           "estimate_power_w", "load_ipython_extension", "unload_ipython_extension"]

_LAZY = {"EmissionsTracker", "OfflineEmissionsTracker", "track_emissions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import trackers

        return getattr(trackers, name)
    if name == "estimate_power_w":
        from .core.power_model import estimate_power_w

        return estimate_power_w
    raise AttributeError(f"module 'carbon_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext carbon_magic``."""
    from .ipython.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext carbon_magic``."""
    from .ipython.extension import unload

    unload(ipython)
