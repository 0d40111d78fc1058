"""The one parameter table.

Every option is declared here once: name, kind, default, help, validation and what it
affects. The tracker parameters (``PARAMS``) generate the traitlets config class, the
magic's options, the tracker constructor's accepted keywords, the ``CODECARBON_*``
environment variables, the ``.codecarbon.config`` keys and the documentation table; the
magics' own options (``MAGIC_OPTIONS``: ``--name``, ``--quiet``, ``--no-panel``) sit in the
same table. The sets that say what must be rebuilt when a value changes (the location
service's key, the sampler's hardware spec) are ``affecting(...)`` of it. Add an option
here and nowhere else.

The names, kinds and defaults of CodeCarbon 3.3's ``BaseEmissionsTracker``,
``OfflineEmissionsTracker`` and ``@track_emissions`` are kept as they are.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable

from .paths import CELLS_FILE_NAME, FILE_NAME_ACCEPTS, FOLDER_ACCEPTS, check_file_name, check_output_folder
from .redact import mask_credentials

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# What an option affects: what must be recomputed (or rebuilt) when its value changes.
AFFECTS = {
    "location": "where the machine is and its carbon intensity (the location service's answer)",
    "sampler": "how the hardware is metered (one sampler per distinct set of these values)",
    "measurement": "what a tracker counts in its window and how its energy becomes CO2 and water",
    "outputs": "where records are written, sent or logged, and under which names",
    "display": "what the notebook shows (live panel, summaries)",
    "telemetry": "the kernel's usage telemetry (kernel-wide: not an option of one cell)",
    "magic": "one magic line only (a label, not a setting)",
}
MAGIC_GROUP = "magic"


class ParameterError(ValueError):
    """A parameter value that cannot be accepted. ``config.ConfigError`` adds its source."""

    def __init__(self, name: str, shown_value: str, accepted: str):
        self.name = name
        self.shown_value = shown_value
        self.accepted = accepted
        super().__init__(f"invalid value {shown_value} for '{name}'; accepted: {accepted}")


@dataclass(frozen=True)
class Param:
    """One tracker parameter.

    ``kind`` is one of: str, float, int, bool, choice, str_list, gpu_ids, log_level, handlers,
    object. ``from_text`` says whether environment variables, config files and magic options
    may set it (objects such as a logger cannot be written as text). Numbers lie between
    ``minimum`` (or above ``above``) and ``maximum``. ``check`` is a further rule on the
    converted value (raises ValueError), ``accepts`` then says what it accepts.

    ``affects`` is one of ``AFFECTS``: what must be recomputed when the value changes.
    ``flags`` are magic options that take no value and set this one (``--no-sync`` sets
    ``sync_frameworks`` to False). ``env_aliases`` are further environment variables for it;
    ``env_read_by`` names the module that reads its variables instead of the configuration
    (they then rank above every configuration source). A ``short`` help marks the common
    options, which the magics' short help shows; ``metavar`` names a magic option's value.
    """

    name: str
    kind: str
    default: Any
    help: str
    group: str = "general"
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    check: Callable[[Any], None] | None = None
    accepts: str | None = None
    secret: bool = False
    from_text: bool = True
    replaced_by: str | None = None
    allow_minus_one: bool = False
    affects: str = ""
    flags: tuple[tuple[str, Any], ...] = ()
    env_aliases: tuple[str, ...] = ()
    env_read_by: str | None = None
    short: str = ""
    metavar: str = ""

    def __post_init__(self) -> None:
        if self.affects not in AFFECTS:
            raise ValueError(f"parameter {self.name!r}: affects={self.affects!r}, not one of {', '.join(AFFECTS)}")

    @property
    def env_var(self) -> str:
        return "CODECARBON_" + self.name.upper()

    @property
    def env_names(self) -> tuple[str, ...]:
        """Every environment variable that sets this parameter."""
        return (self.env_var, *self.env_aliases)

    @property
    def per_cell(self) -> bool:
        """Whether a magic line may set it: text, and not kernel-wide (telemetry has its command)."""
        return self.from_text and self.affects != "telemetry"

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def accepted(self) -> str:
        """Human description of what this parameter accepts."""
        return self.accepts or _ACCEPTED[self.kind](self)

    def coerce(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParameterError."""
        if value is None:
            return None
        try:
            converted = _COERCE[self.kind](self, value)
            if self.check is not None:
                self.check(converted)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(self.name, self.show(value), self.accepted()) from None
        self._check_range(converted, value)
        return converted

    def show(self, value: Any) -> str:
        """How a value of this parameter may appear in messages: secrets never do (nor the
        password of a URL, e.g. an endpoint written http://user:password@host, nor its
        secret-looking query values such as ?token=...)."""
        if self.secret and value not in (None, ""):
            return "'***'"
        text = mask_credentials(repr(value))
        return text if len(text) <= 80 else text[:77] + "...'"

    def _check_range(self, converted: Any, raw: Any) -> None:
        if self.kind not in ("float", "int"):
            return
        if self.allow_minus_one and converted == -1:
            return
        if self.minimum is not None and converted < self.minimum:
            raise ParameterError(self.name, self.show(raw), self.accepted())
        if self.above is not None and converted <= self.above:
            raise ParameterError(self.name, self.show(raw), self.accepted())
        if self.maximum is not None and converted > self.maximum:
            raise ParameterError(self.name, self.show(raw), self.accepted())


# --- coercion by kind -------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def _to_bool(_: Param, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


def _to_float(_: Param, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value.strip() if isinstance(value, str) else value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _to_int(_: Param, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(value.strip() if isinstance(value, str) else value)


def _to_str(_: Param, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _to_choice(param: Param, value: Any) -> str:
    text = _to_str(param, value).strip().lower()
    if text not in param.choices:
        raise ValueError(value)
    return text


def _split_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(value)


def _to_str_list(param: Param, value: Any) -> tuple[str, ...]:
    items = [str(item).strip().lower() for item in _split_list(value)]
    if param.choices and any(item not in param.choices for item in items):
        raise ValueError(value)
    return tuple(items)


def _to_gpu_ids(_: Param, value: Any) -> tuple[int | str, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    ids: list[int | str] = []
    for item in _split_list(value):
        if isinstance(item, bool):
            raise ValueError(value)
        if isinstance(item, int):
            ids.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            ids.append(int(item))
        elif isinstance(item, str) and item.strip():
            ids.append(item.strip())
        else:
            raise ValueError(value)
    if any(isinstance(i, int) and i < 0 for i in ids):
        raise ValueError(value)
    return tuple(ids)


def _to_log_level(_: Param, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        name = logging.getLevelName(value)
        if isinstance(name, str) and name.lower() in LOG_LEVELS:
            return name.lower()
        raise ValueError(value)
    text = _to_str(_, value).strip().lower()
    if text not in LOG_LEVELS:
        raise ValueError(value)
    return text


def _to_object(_: Param, value: Any) -> Any:
    return value


HANDLER_METHODS = ("out", "live_out", "task_out", "exit")


def _to_handlers(_: Param, value: Any) -> tuple[Any, ...]:
    """A list or tuple of output objects, each with at least one of HANDLER_METHODS."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(value)
    if not all(any(callable(getattr(item, m, None)) for m in HANDLER_METHODS) for item in value):
        raise TypeError(value)
    return tuple(value)


_COERCE: dict[str, Callable[[Param, Any], Any]] = {
    "bool": _to_bool,
    "float": _to_float,
    "int": _to_int,
    "str": _to_str,
    "choice": _to_choice,
    "str_list": _to_str_list,
    "gpu_ids": _to_gpu_ids,
    "log_level": _to_log_level,
    "handlers": _to_handlers,
    "object": _to_object,
}


def _number_bounds(param: Param) -> str:
    parts = []
    if param.minimum is not None:
        parts.append(f">= {param.minimum:g}")
    if param.above is not None:
        parts.append(f"> {param.above:g}")
    if param.maximum is not None:
        parts.append(f"<= {param.maximum:g}")
    bounds = " and ".join(parts)
    if param.allow_minus_one:
        bounds = f"-1 or {bounds}" if bounds else "-1"
    return f" {bounds}" if bounds else ""


_ACCEPTED: dict[str, Callable[[Param], str]] = {
    "bool": lambda p: "true or false (also 1/0, yes/no, on/off)",
    "float": lambda p: "a number" + _number_bounds(p),
    "int": lambda p: "a whole number" + _number_bounds(p),
    # For "str", choices are the values understood, not enforced: the reader of such a
    # parameter judges other values itself (telemetry: an unknown level warns once and
    # means disabled, so that a typo never stops tracking).
    "str": lambda p: "a text value" + (": " + ", ".join(repr(c) for c in p.choices) if p.choices else ""),
    "choice": lambda p: "one of " + ", ".join(repr(c) for c in p.choices),
    "str_list": lambda p: "a comma-separated list"
    + (" of " + ", ".join(repr(c) for c in p.choices) if p.choices else ""),
    "gpu_ids": lambda p: "GPU indexes or UUID prefixes, as a list or comma-separated text (e.g. '0,1')",
    "log_level": lambda p: "one of " + ", ".join(repr(c) for c in LOG_LEVELS) + " or a logging level number",
    "handlers": lambda p: "a list of output objects, each with one or more of the methods "
    + ", ".join(HANDLER_METHODS) + " (not settable from text)",
    "object": lambda p: "a Python object (not settable from text)",
}

# --- the table ---------------------------------------------------------------------------

OUTPUT_METHODS = ("csv", "api", "logger", "prometheus", "logfire")

_TABLE: tuple[Param, ...] = (
    # General
    Param("project_name", "str", "codecarbon", "Project name, written in every record.", "general", affects="outputs"),
    Param("experiment_id", "str", None, "Experiment id on the CodeCarbon API.", "general", affects="outputs"),
    Param("experiment_name", "str", None, "Experiment label (names the task file).", "general", affects="outputs"),
    Param(
        "measure_power_secs", "float", 15.0,
        "Seconds between background power samples. Windows are exact at their boundaries "
        "whatever this is; it sets how often models are fed and live views update. "
        "Trackers share one sampler: the smallest requested interval wins.",
        "general", affects="measurement", above=0.0, maximum=86_400.0,
    ),
    Param(
        "tracking_mode", "choice", "machine",
        "'machine' counts the whole machine; 'process' counts this process and its children "
        "(CPU by CPU-time share, RAM by resident memory, GPUs where they hold a context).",
        "general",
        affects="measurement", short="the whole machine, or this process and its children",
        choices=("machine", "process"),
    ),
    Param("log_level", "log_level", "info", "Log level of the 'carbon_magic' logger.", "general", affects="outputs"),
    Param("logger_preamble", "str", "", "Text put before every log message.", "general", affects="outputs"),
    Param(
        "allow_multiple_runs", "bool", True,
        "When false, only one process on this machine may track at a time (a lock file).",
        "general", affects="measurement",
    ),
    # Outputs
    Param(
        "output_dir", "str", ".", "Folder of the CSV files (checked when set: it must exist and take files).",
        "output", affects="outputs", check=check_output_folder, accepts=FOLDER_ACCEPTS,
    ),
    Param(
        "output_file", "str", "emissions.csv",
        f"Name of the CSV file in output_dir (the per-cell file {CELLS_FILE_NAME} sits beside it).",
        "output", affects="outputs", check=check_file_name, accepts=FILE_NAME_ACCEPTS,
    ),
    Param("save_to_file", "bool", True, "Write a CSV row per run.", "output", affects="outputs"),
    Param(
        "on_csv_write", "choice", "append",
        "'append' adds a row per flush/stop; 'update' rewrites the row with the same run_id.",
        "output", affects="outputs", choices=("append", "update"),
    ),
    Param("save_to_api", "bool", False, "Send runs to the CodeCarbon API.", "output", affects="outputs"),
    Param("api_endpoint", "str", "https://api.codecarbon.io", "CodeCarbon API base URL.", "output", affects="outputs"),
    Param(
        "api_key", "str", None,
        "CodeCarbon API key (sent as x-api-token).",
        "output",
        affects="outputs", secret=True,
    ),
    Param(
        "api_call_interval", "int", 8,
        "Measurements between API calls; -1 sends only on flush() and stop().",
        "output", affects="outputs", minimum=1, maximum=1_000_000, allow_minus_one=True,
    ),
    Param(
        "emissions_endpoint", "str", None,
        "URL receiving a POST of the totals on flush/stop.",
        "output",
        affects="outputs",
    ),
    Param("save_to_logger", "bool", False, "Log the totals through logging_logger.", "output", affects="outputs"),
    Param(
        "logging_logger", "object", None, "A LoggerOutput (or GoogleCloudLoggerOutput) to write to.",
        "output", affects="outputs", from_text=False,
    ),
    Param(
        "save_to_prometheus", "bool", False,
        "Push metrics to a Prometheus push gateway.",
        "output",
        affects="outputs",
    ),
    Param("prometheus_url", "str", "localhost:9091", "Push gateway address.", "output", affects="outputs"),
    Param("save_to_logfire", "bool", False, "Send metrics to Logfire.", "output", affects="outputs"),
    Param(
        "output_methods", "str_list", None,
        "Outputs to use, instead of the save_to_* flags.", "output", affects="outputs", choices=OUTPUT_METHODS,
    ),
    Param(
        "cells_as_tasks", "bool", False,
        "In notebooks, also send each tracked cell to the outputs that take tasks (the task CSV "
        "file, loggers, custom handlers' task_out) as a task named after its label, all under "
        "one run id per kernel session.", "output", affects="outputs",
    ),
    Param(
        "output_handlers", "handlers", (), "Custom outputs with out/live_out/task_out/exit methods.",
        "output", affects="outputs", from_text=False,
    ),
    # Location and intensity
    Param(
        "offline", "bool", False,
        "Never use the network: location and intensity from parameters.",
        "location",
        affects="location", short="no network: the location comes from parameters",
    ),
    Param(
        "country_iso_code", "str", None,
        "Country (ISO3; ISO2 and English names accepted).",
        "location",
        affects="location", short="the country (FRA, FR or France) of the grid",
    ),
    Param(
        "region", "str", None,
        "US state, Canadian or Chinese province, or Nordic zone (SE1-SE4, NO1-NO5, FI); "
        "names or codes.", "location", affects="location",
    ),
    Param(
        "cloud_provider", "choice", None,
        "Cloud provider of cloud_region.",
        "location",
        affects="location", choices=("gcp", "aws", "azure"),
    ),
    Param(
        "cloud_region", "str", None,
        "Cloud region, e.g. europe-west1, us-east-1, westeurope.",
        "location",
        affects="location",
    ),
    Param(
        "country_2letter_iso_code", "str", None,
        "Electricity Maps zone for live intensity (e.g. FR, US-CAL-CISO); default: from the location.",
        "location", affects="location",
    ),
    Param(
        "electricitymaps_api_token", "str", None, "Electricity Maps token for live intensity.",
        "location", affects="location", secret=True,
    ),
    Param(
        "co2_signal_api_token", "str", None, "Deprecated: use electricitymaps_api_token.",
        "location", affects="location", secret=True, replaced_by="electricitymaps_api_token",
    ),
    Param(
        "force_carbon_intensity_g_co2e_kwh", "float", None,
        "Use this carbon intensity (g CO2e/kWh) instead of any lookup.", "location", affects="location", minimum=0.0,
        maximum=5_000.0,
    ),
    Param(
        "geolocation_endpoint", "str", "https://get.geojs.io/v1/ip/geo.json",
        "IP geolocation service (online mode), queried in the background and cached for a day.",
        "location", affects="location",
    ),
    Param(
        "cloud_metadata_url", "str", "http://169.254.169.254",
        "Base URL of the AWS, Azure and GCP metadata endpoints probed to detect a cloud (online mode).",
        "location", affects="location",
    ),
    Param(
        "electricitymaps_endpoint", "str", "https://api.electricitymaps.com/v3/carbon-intensity/latest",
        "Electricity Maps latest carbon-intensity endpoint (with electricitymaps_api_token).",
        "location", affects="location",
    ),
    Param(
        "location_timeout_secs", "float", 2.0,
        "Seconds each background location or live-intensity request may take; never on a cell's path "
        "(a script's stop() waits at most this + 0.5 s for a location still pending).",
        "location", affects="location", above=0.0, maximum=60.0,
    ),
    Param(
        "pue", "float", 1.0,
        "Power Usage Effectiveness of the data centre (1 to 10).",
        "location",
        affects="measurement", short="the data centre's Power Usage Effectiveness", minimum=1.0, maximum=10.0,
    ),
    Param(
        "wue", "float", 0.0, "Water Usage Effectiveness, litres per kWh (0 to 100).", "location", affects="measurement",
        minimum=0.0, maximum=100.0,
    ),
    # Hardware
    Param(
        "gpu_ids", "gpu_ids", None,
        "GPUs to track: indexes or UUID prefixes; CUDA_VISIBLE_DEVICES when unset.",
        "hardware",
        affects="measurement",
    ),
    Param(
        "force_cpu_power", "float", None,
        "CPU TDP in watts: CodeCarbon's TDP x (0.1 + 0.9 x load^3) curve instead of the machine model.",
        "hardware",
        affects="sampler", above=0.0, maximum=10_000.0,
    ),
    Param(
        "force_ram_power", "float", None,
        "RAM power in watts instead of the machine model.",
        "hardware",
        affects="sampler", minimum=0.0, maximum=10_000.0,
    ),
    Param(
        "count_platform", "bool", True,
        "Count the modelled platform (board, fans, disks, power supply losses): wall power, as the grid "
        "delivers it. False: CodeCarbon's cpu+gpu+ram.",
        "hardware", affects="sampler",
    ),
    Param(
        "force_mode_cpu_load", "bool", False,
        "Model the CPU even where RAPL counters are readable.", "hardware", affects="sampler",
    ),
    Param(
        "rapl_include_dram", "bool", False,
        "Add RAPL DRAM domains to the CPU's energy.",
        "hardware",
        affects="sampler",
    ),
    Param(
        "rapl_prefer_psys", "bool", False,
        "Use the RAPL psys (platform) domain instead of packages.",
        "hardware",
        affects="sampler",
    ),
    Param(
        "sync_frameworks", "bool", True,
        "At window boundaries, wait for GPU work queued by torch, jax or cupy (only those "
        "already imported and initialised), so each cell gets its own GPU energy.",
        "hardware",
        affects="measurement", short="do not wait for queued GPU work at the boundaries",
        flags=(("--no-sync", False),),
    ),
    Param(
        "measure_cluster", "bool", True,
        "Measure the cluster the kernel uses (a default Dask client, an initialised Ray) into "
        "each tracked window: one sampler per worker host, its energy by host and component.",
        "hardware",
        affects="measurement", short="do not measure the Dask or Ray cluster's hosts",
        flags=(("--no-cluster", False),),
    ),
    Param(
        "cluster_timeout_secs", "float", 2.0,
        "Longest wait for the cluster hosts' readings at a window's end; a host that has not "
        "answered by then is left out and the record marked partial (the cell never waits).",
        "hardware", affects="measurement", minimum=0.05, maximum=60.0,
    ),
    Param(
        "powercap_root", "str", None,
        "Folder of the powercap tree; default /sys/class/powercap, then /sys/devices/virtual/powercap.",
        "hardware", affects="sampler",
    ),
    # Live panel (read by the IPython extension; trackers ignore them)
    Param(
        "panel_update_secs", "float", 1.0,
        "Seconds between updates of the live panel of a running cell (at most one update per "
        "this many seconds); the panel appears once a cell has run this long.",
        "panel", affects="display", minimum=0.1, maximum=3_600.0,
    ),
    Param(
        "panel_equivalents", "bool", True,
        "Show relatable equivalents (distance by car, phone charges, water boiled in a kettle, "
        "LED bulb time) in the live panel; sources in docs/equivalents.md.",
        "panel", affects="display",
    ),
    Param(
        "panel_widgets", "choice", "auto",
        "How the live panel is drawn: 'auto' uses Jupyter widgets where a front end that renders "
        "them is detected (JupyterLab, Notebook 7, VS Code, Colab) and static summaries elsewhere; "
        "'always' or 'never' decide without detection.",
        "panel", affects="display", choices=("auto", "always", "never"),
    ),
    # Telemetry (carbon_magic.telemetry): opt-in usage statistics for the maintainers
    Param(
        "telemetry", "str", None,
        "Usage telemetry tier: 'disabled' (nothing is sent), 'minimal' (environment and hardware, "
        "private to the maintainers) or 'extensive' (minimal + emissions and usage, public "
        "leaderboard). Unset: your stored choice (asked once), else disabled. DO_NOT_TRACK=1 and "
        "CODECARBON_TELEMETRY (or CODECARBON_TELEMETRY_LEVEL) rank above every other source; an "
        "unknown value warns once and means disabled. `%carbon telemetry preview` shows the JSON.",
        "telemetry", affects="telemetry", choices=("disabled", "minimal", "extensive"),
        env_aliases=("CODECARBON_TELEMETRY_LEVEL",), env_read_by="carbon_magic.telemetry.levels",
    ),
    Param(
        "telemetry_endpoint", "str", None,
        "URL receiving telemetry POSTs; default: api_endpoint + '/telemetry'.", "telemetry", affects="telemetry",
    ),
    # The magics' own options: not tracker parameters (no environment variable, no config
    # file). Those that affect the display are also CarbonMagic settings for every cell.
    Param(
        "name", "str", None, "Label of this cell or span in the report (default: 'cell N', 'span N').",
        MAGIC_GROUP, affects="magic", short="the label in the report (default: 'cell N')", metavar="LABEL",
    ),
    Param(
        "quiet", "bool", False,
        "Print no summary after the cell (CarbonMagic.quiet does it for every cell).",
        MAGIC_GROUP, affects="display", short="no summary after the cell", flags=(("--quiet", True),),
    ),
    Param(
        "panel", "bool", True,
        "Show the live panel on tracked cells (where Jupyter widgets render); --no-panel hides it for "
        "one cell, CarbonMagic.panel = False for every cell.",
        MAGIC_GROUP, affects="display", short="no live panel for this cell", flags=(("--no-panel", False),),
    ),
)

# Tracker parameters: every route (arguments, %config, environment, config files, options).
PARAMS: dict[str, Param] = {p.name: p for p in _TABLE if p.group != MAGIC_GROUP}
# The magics' own options; those affecting the display are CarbonMagic traits too.
MAGIC_OPTIONS: dict[str, Param] = {p.name: p for p in _TABLE if p.group == MAGIC_GROUP}
# What a CarbonMagic setting (%config, ipython_config.py) may set: all but one line's labels.
SETTINGS: dict[str, Param] = {p.name: p for p in _TABLE if p.affects != "magic"}


@dataclass(frozen=True)
class EnvSwitch:
    """A ``CODECARBON_*`` environment variable that is no parameter: a switch read by one module."""

    variable: str
    help: str
    read_by: str


ENV_SWITCHES = (
    EnvSwitch("CODECARBON_TELEMETRY_DEBUG", "Print telemetry payloads instead of sending them.",
              "carbon_magic.telemetry.sender"),
)


def affecting(what: str) -> tuple[str, ...]:
    """The names of the options that affect ``what`` (a key of AFFECTS), in table order."""
    if what not in AFFECTS:
        raise ValueError(f"{what!r} is not one of {', '.join(AFFECTS)}")
    return tuple(p.name for p in _TABLE if p.affects == what)


def env_read_elsewhere() -> frozenset[str]:
    """``CODECARBON_*`` variables that configuration resolution does not read as parameters."""
    names = [n for p in PARAMS.values() if p.env_read_by for n in p.env_names]
    return frozenset(names + [switch.variable for switch in ENV_SWITCHES])


def markdown_table() -> str:
    """The documentation table of every tracker parameter (docs/parameters.md)."""
    rows = ["| parameter | env variable | default | accepts | affects | meaning |", "|---|---|---|---|---|---|"]
    for p in PARAMS.values():
        default = "" if p.default in (None, ()) else f"`{p.default!r}`"
        env = ", ".join(f"`{name}`" for name in p.env_names) if p.from_text else ""
        flags = "".join(f" Magic flag `{flag}`: {value!r}." for flag, value in p.flags)
        rows.append(f"| `{p.name}` | {env} | {default} | {p.accepted()} | {p.affects} | {p.help}{flags} |")
    return "\n".join(rows)


def magic_markdown_table() -> str:
    """The documentation table of the magics' own options and of the environment switches."""
    rows = ["| option | CarbonMagic setting | accepts | meaning |", "|---|---|---|---|"]
    for p in MAGIC_OPTIONS.values():
        options = ", ".join(f"`{flag}`" for flag, _ in p.flags) or f"`{p.option} {p.metavar}`"
        setting = f"`CarbonMagic.{p.name}`" if p.affects != "magic" else ""
        rows.append(f"| {options} | {setting} | {p.accepted() if not p.flags else 'no value'} | {p.help} |")
    for switch in ENV_SWITCHES:
        rows.append(f"| `{switch.variable}` (environment) |  | any non-empty value | {switch.help} |")
    return "\n".join(rows)
