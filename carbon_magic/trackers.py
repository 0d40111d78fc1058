"""The CodeCarbon-compatible public API: EmissionsTracker, OfflineEmissionsTracker, track_emissions.

Every parameter of CodeCarbon's trackers is accepted with the same name and default; values
not given come from ``CODECARBON_*`` variables and ``.codecarbon.config`` files.

    from carbon_magic import EmissionsTracker
    with EmissionsTracker(project_name="train", country_iso_code="FRA") as tracker:
        train()
    print(tracker.final_emissions_data.energy_consumed, "kWh")
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from .core.config import Config, ConfigError, resolve_config
from .core.params import PARAMS
from .core.tracker import Tracker
from .outputs import Dispatcher, build_outputs
from .runtime import current_runtime


def _signature(first: tuple[str, ...] = ("project_name",)) -> inspect.Signature:
    """A constructor signature listing every parameter of the table (for help() and IDEs)."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name in first:
        parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=PARAMS[name].default))
    for name, param in PARAMS.items():
        if name not in first:
            parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=param.default))
    return inspect.Signature(parameters)


def tracker_config(arguments: dict[str, Any], *, forced: dict[str, Any] | None = None) -> Config:
    """Resolve explicit ``arguments`` over env and files; ``forced`` values sit on top."""
    config = resolve_config(arguments)
    return config.with_values(forced, "tracker class") if forced else config


class EmissionsTracker(Tracker):
    """Tracks energy, CO2 and water between ``start()`` and ``stop()`` (or as a context manager).

    Parameters are CodeCarbon's (see ``carbon_magic.core.params.markdown_table()``).
    Unlike CodeCarbon's, a stopped tracker can be started again, and any number of trackers
    and tasks may run at once at no extra hardware cost.
    """

    _forced: dict[str, Any] = {}

    def __init__(self, project_name: Any = PARAMS["project_name"].default, **params: Any):
        if project_name != PARAMS["project_name"].default or "project_name" in params:
            params.setdefault("project_name", project_name)
        config = tracker_config(params, forced=self._forced or None)
        self._check(config)
        runtime = current_runtime()
        super().__init__(config, Dispatcher(build_outputs(config), runtime.outputs), samplers=runtime.samplers,
                         location=runtime.location, forks=runtime.forks, remote=runtime.cluster)

    def _check(self, config: Config) -> None:
        """Class-specific rules on the resolved config (none here)."""

    __init__.__signature__ = _signature()  # type: ignore[attr-defined]


class OfflineEmissionsTracker(EmissionsTracker):
    """An EmissionsTracker that never uses the network; the location comes from parameters.

    Needs ``country_iso_code`` (ISO3, ISO2 or English name), a ``region`` that names one
    country's region (e.g. 'SE3'), ``cloud_provider`` + ``cloud_region``, or
    ``force_carbon_intensity_g_co2e_kwh``. It opens no socket, ever.
    """

    _forced = {"offline": True}

    def _check(self, config: Config) -> None:
        located = config["country_iso_code"] or config["region"] or config["cloud_region"]
        if not (located or config["force_carbon_intensity_g_co2e_kwh"] is not None):
            raise ConfigError(
                "OfflineEmissionsTracker needs a location: country_iso_code (e.g. 'FRA'), region "
                "(e.g. 'SE3'), cloud_provider + cloud_region, or force_carbon_intensity_g_co2e_kwh.",
                name="country_iso_code",
            )


def track_emissions(fn: Callable | None = None, **params: Any) -> Callable:
    """Decorator tracking each call of a function; with or without arguments.

        @track_emissions
        def train(): ...

        @track_emissions(offline=True, country_iso_code="FRA", project_name="train")
        def train(): ...

    Accepts every tracker parameter (``offline=True`` uses OfflineEmissionsTracker).
    """
    tracker_class = OfflineEmissionsTracker if params.get("offline") else EmissionsTracker

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracker = tracker_class(**params)
            tracker.usage = "decorator"
            tracker.start()
            try:
                return function(*args, **kwargs)
            finally:
                tracker.stop()

        return wrapper

    return decorate(fn) if fn is not None else decorate
