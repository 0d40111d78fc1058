"""The sidebar's message schema, version 2 (docs/sidebar-protocol.md describes it for people).

One comm target, ``carbon_magic``, carries everything between the kernel and the JupyterLab
sidebar. The kernel sends ``announce`` (when it loads the extension), ``hello`` (the first
message on a comm a front end opened), ``state`` (at most once a second) and ``goodbye``
(closing a comm). A front end sends one kind of request: ``{"request": "refresh",
"version": 2}``. Anything else it sends is rejected by ``parse_request`` and changes nothing.

The kernel's state travels under the key ``kernel`` (version 2; it was ``state`` in version 1):
no message has a top-level ``state`` key, because nbclient / nbconvert take the ``state`` of
any comm message for ipywidgets widget state and would write it into an executed notebook's
``metadata.widgets``.

Every message is bounded, whatever the kernel has done: the last MAX_CELLS cells, at most
MAX_RUNNING running windows and MAX_COMPONENTS power figures, texts cut to a fixed length,
figures rounded to FIGURE_DIGITS significant digits (totals keep full precision so that they
equal the sums of ``%carbon report``), and a sparkline of SPARK_POINTS points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..panel.presentation import CO2, ENERGY, WATER

if TYPE_CHECKING:
    from ...core.problems import Problem
    from ..records import CellRecord

TARGET = "carbon_magic"
VERSION = 2  # 2: the state is under "kernel", not "state" (nbclient reads "state" as widget state)
REQUESTS = ("refresh",)
GOODBYE_REASONS = ("unloaded", "expired", "replaced", "invalid request")

MIN_INTERVAL_S = 1.0     # at most one message a second on each comm
KEEPALIVE_S = 10.0       # a front end says "refresh" this often while the kernel is idle
MAX_CELLS = 5  # with their figures and bands, a message stays under 5 KB (benchmarks/sidebar_messages.py)
MAX_RUNNING = 4
MAX_COMPONENTS = 16
MAX_PROBLEMS = 8
# A window's cluster part: its hosts counted, and in the first CLUSTER_DETAILED windows of a
# message that have one (running windows first, then the newest cells) the largest hosts and the
# first missing ones listed (a large failing cluster under every cell would otherwise make a
# message of ~20 KB; `%carbon report hosts` has every host and the whole error text).
CLUSTER_DETAILED = 1
CLUSTER_HOSTS_SHOWN = 4
CLUSTER_MISSING_SHOWN = 2
WHY_CHARS = 40
LABEL_CHARS = 32
LINE_CHARS = 48
TEXT_CHARS = 120
CELL_ID_CHARS = 64       # nbformat: cell ids are 1 to 64 characters
FIGURE_DIGITS = 5


@dataclass(frozen=True, slots=True)
class Request:
    """A valid request from a front end (the only kind there is: ``refresh``)."""

    request: str


def parse_request(data: Any, buffers: Any = None) -> Request | None:
    """The request in a comm message's ``data``, or None if it is not exactly a valid one.

    Valid: a dict with exactly the keys ``request`` (one of REQUESTS) and ``version`` (the int
    VERSION), and no binary buffers. Nothing in ``data`` is ever evaluated or stored.
    """
    if buffers:
        return None
    if type(data) is not dict or set(data) != {"request", "version"}:
        return None
    request, version = data["request"], data["version"]
    if type(version) is not int or version != VERSION:
        return None
    if type(request) is not str or request not in REQUESTS:
        return None
    return Request(request)


# -- the kernel's messages ----------------------------------------------------------------------
def announce() -> dict[str, Any]:
    """Data of the comm the kernel opens when the extension loads: front ends then open theirs."""
    return {"type": "announce", "version": VERSION}


def hello(package_version: str, seq: int, state: Mapping[str, Any]) -> dict[str, Any]:
    """The first message on a front end's comm: versions, pacing, and the full state (under
    ``kernel``: never a top-level ``state`` key, which nbclient would store as widget state)."""
    return {
        "type": "hello", "version": VERSION, "seq": seq, "package_version": package_version,
        "min_interval_s": MIN_INTERVAL_S, "keepalive_s": KEEPALIVE_S, "kernel": dict(state),
    }


def state_message(seq: int, state: Mapping[str, Any]) -> dict[str, Any]:
    """A ``state`` message; the state is under ``kernel`` (see ``hello``)."""
    return {"type": "state", "version": VERSION, "seq": seq, "kernel": dict(state)}


def goodbye(reason: str) -> dict[str, Any]:
    if reason not in GOODBYE_REASONS:
        raise ValueError(f"unknown goodbye reason {reason!r}; known: {', '.join(GOODBYE_REASONS)}")
    return {"type": "goodbye", "version": VERSION, "reason": reason}


# -- pieces of the state ------------------------------------------------------------------------
def figure(value: float) -> float:
    """``value`` rounded to FIGURE_DIGITS significant digits (0.0 for NaN and infinities)."""
    if not math.isfinite(value):
        return 0.0
    if value == 0:
        return 0.0
    return float(f"{value:.{FIGURE_DIGITS}g}")


def short(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell_id(value: str | None) -> str | None:
    """A front end's cell id, or None where it is not one (too long, not text)."""
    if isinstance(value, str) and 0 < len(value) <= CELL_ID_CHARS:
        return value
    return None


class ClusterDetail:
    """Which windows of one message list their cluster hosts: the first CLUSTER_DETAILED that
    have a cluster part, in the order they are asked (the others give counts only)."""

    def __init__(self, windows: int = CLUSTER_DETAILED):
        self.left = windows

    def take(self) -> bool:
        """Whether the next window with a cluster part lists its hosts."""
        self.left -= 1
        return self.left >= 0


def cell_entry(record: "CellRecord", detail: ClusterDetail) -> dict[str, Any]:
    """One finished cell, statement or span for the sidebar's list (units of ``%carbon report``);
    ``detail``: the message's ClusterDetail."""
    return {
        "n": record.execution_count,
        "id": cell_id(record.cell_id),
        "label": short(record.label, LABEL_CHARS),
        "line": short(record.first_line, LINE_CHARS),
        "kind": record.kind,
        "status": record.status,
        "duration_s": figure(record.duration_s),
        "energy_wh": figure(ENERGY.of(record.energy_kwh)),
        # the band of the modelled components (equal to energy_wh when all is measured)
        "energy_low_wh": figure(ENERGY.of(record.energy_low_kwh)),
        "energy_high_wh": figure(ENERGY.of(record.energy_high_kwh)),
        "co2_g": figure(CO2.of(record.emissions_kg)),
        "co2_low_g": figure(CO2.of(record.emissions_low_kg)),  # its band, as energy's
        "co2_high_g": figure(CO2.of(record.emissions_high_kg)),
        "water_ml": figure(WATER.of(record.water_l)),
        "provisional": record.provisional,
        "footprint": footprint_entry({name: getattr(record, name) for name in FOOTPRINT_FIELDS}),
        "cluster": cluster_entry(record.cluster_hosts, record.cluster_missing, detail),
    }


def totals_band_entry(energy_low_kwh: float, energy_high_kwh: float, emissions_low_kg: float,
                      emissions_high_kg: float) -> dict[str, float]:
    """The band of the kernel's totals (the sums of the records' bands: equal to the totals when
    all is measured), in the totals' units. Added in version 2 without a new number: a front
    end reads a state without them as one without a band."""
    return {"energy_low_wh": ENERGY.of(energy_low_kwh), "energy_high_wh": ENERGY.of(energy_high_kwh),
            "co2_low_g": CO2.of(emissions_low_kg), "co2_high_g": CO2.of(emissions_high_kg)}


# The footprint beyond CodeCarbon's (docs/footprint.md): CellRecord / Totals.footprint name -> (key, unit)
FOOTPRINT_FIELDS = {
    "water_total_l": ("water_total_ml", WATER), "water_onsite_l": ("water_onsite_ml", WATER),
    "water_offsite_l": ("water_offsite_ml", WATER), "water_offsite_low_l": ("water_offsite_low_ml", WATER),
    "water_offsite_high_l": ("water_offsite_high_ml", WATER), "embodied_kg": ("embodied_g", CO2),
    "embodied_low_kg": ("embodied_low_g", CO2), "embodied_high_kg": ("embodied_high_g", CO2),
}


def footprint_entry(figures: Mapping[str, float | None]) -> dict[str, float | None]:
    """Water (mL: total, on-site, off-site) and embodied CO2e (g, with its band); None where not counted."""
    return {key: None if figures.get(name) is None else figure(unit.of(figures[name] or 0.0))
            for name, (key, unit) in FOOTPRINT_FIELDS.items()}


def cluster_entry(hosts_json: str, missing: str, detail: ClusterDetail) -> dict[str, Any] | None:
    """The Dask or Ray hosts' part of a record or running window (its ``cluster_hosts`` and
    ``cluster_missing``), inside its figures; None when the window used no cluster.

    ``energy_wh``: the hosts' energy; where ``detail`` allows, ``hosts``: the largest
    CLUSTER_HOSTS_SHOWN hosts with their energy (Wh) and CO2 (g), and ``missing``: the first
    CLUSTER_MISSING_SHOWN hosts missing with why (else both empty); ``more``: how many hosts
    (measured or missing) the lists left off, ``more_missing`` how many of them are missing.
    Added in version 2 without a new number: a front end reads a state without it as one
    without a cluster part (and one without ``energy_wh``, ``more_missing`` as "N more")."""
    if not hosts_json and not missing:
        return None
    from ...cluster.footprint import read_hosts, read_missing  # the cluster's code, with its first record

    hosts, gone = read_hosts(hosts_json), read_missing(missing)
    if not hosts and not gone:
        return None
    listed = detail.take()
    largest = sorted(hosts.items(), key=lambda item: -item[1]["energy_kwh"])[:CLUSTER_HOSTS_SHOWN if listed else 0]
    first_gone = gone[:CLUSTER_MISSING_SHOWN if listed else 0]
    return {
        "energy_wh": figure(ENERGY.of(sum(figures["energy_kwh"] for figures in hosts.values()))),
        "hosts": [{"host": short(host, LABEL_CHARS), "energy_wh": figure(ENERGY.of(figures["energy_kwh"])),
                   "co2_g": figure(CO2.of(figures["emissions_kg"]))} for host, figures in largest],
        "missing": [{"host": short(host, LABEL_CHARS), "why": short(why, WHY_CHARS)} for host, why in first_gone],
        "more": len(hosts) + len(gone) - len(largest) - len(first_gone),
        "more_missing": len(gone) - len(first_gone),
    }


def power_entry(power_w: Mapping[str, float]) -> dict[str, float]:
    """Latest power per component (W), at most MAX_COMPONENTS of them."""
    return {short(name, 16): figure(watts) for name, watts in list(power_w.items())[:MAX_COMPONENTS]}


def measured_entry(measured: frozenset[str], power_w: Mapping[str, float]) -> list[str]:
    """Which of the components shown a hardware energy counter measures (the rest are modelled)."""
    return [short(name, 16) for name in list(power_w)[:MAX_COMPONENTS] if name in measured]


def bands_entry(bands: Mapping[str, tuple[float, float]]) -> dict[str, list[float]]:
    """The (low, high) ratio band of each modelled component's power that has one (a measured
    component has none). Added in version 2 without a new number: a front end reads a state
    without it as one without bands."""
    return {short(name, 16): [figure(low), figure(high)] for name, (low, high) in list(bands.items())[:MAX_COMPONENTS]}


def methods_entry(methods: Mapping[str, str]) -> dict[str, str]:
    """How each component is measured, in a few words."""
    return {short(name, 16): short(text, TEXT_CHARS) for name, text in list(methods.items())[:MAX_COMPONENTS]}


def problems_entry(found: Iterable["Problem"]) -> list[dict[str, Any]]:
    """The problems ``%carbon status`` lists (place, error type, count, first message), at
    most MAX_PROBLEMS of them, the most frequent first."""
    ranked = sorted(found, key=lambda problem: -problem.count)[:MAX_PROBLEMS]
    return [{"where": short(p.where, LABEL_CHARS * 2), "error_type": short(p.error_type, LABEL_CHARS),
             "count": p.count, "message": short(p.message, TEXT_CHARS)} for p in ranked]


def spark_entry(step_s: float, points_w: Iterable[float]) -> dict[str, Any]:
    return {"step_s": step_s, "power_w": [figure(p) for p in points_w]}
