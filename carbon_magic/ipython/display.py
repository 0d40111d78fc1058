"""What the magics print: each view as plain text (terminals) and HTML (notebooks).

Every view is a mimebundle with ``text/plain`` and ``text/html``; front ends show the
richest they can. Figures are scaled to readable units (mWh, mg, mL) and say their units,
formatted and coloured as in every other view (``panel/presentation.py``).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from IPython.core.display_functions import display

from .panel.presentation import (
    BRAND_COLOUR, band_of, banded, bands_of, co2, duration, energy, intensity, power, status_colour, water,
    water_split,
)

if TYPE_CHECKING:
    from ..core.config import Config
    from ..core.problems import Problem
    from .records import CellRecord, TrackedWindow

_BOX = (
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:12px;line-height:1.5;"
    f"border-left:3px solid {BRAND_COLOUR};padding:2px 8px;margin:2px 0;"
)


def show(text: str, html_text: str) -> None:
    """Display one view: text in terminals, HTML in notebooks."""
    display({"text/plain": text, "text/html": html_text}, raw=True)


# -- after a tracked cell ----------------------------------------------------------------------
def whose_figures(machine_wide: bool) -> str:
    """Whose figures a view shows: ``tracking_mode="machine"`` measures the whole machine."""
    return "whole machine" if machine_wide else "this kernel's share (process mode)"


def basis_text(name: str, measured: bool) -> str:
    """'CPU measured (counter)' or 'RAM modelled'."""
    return f"{name} {'measured (counter)' if measured else 'modelled'}"


def basis_html(machine_wide: bool, components: Iterable[tuple[str, str, bool]]) -> str:
    """Whose figures, then per ``(component, name, measured)`` whether a counter measures it."""
    items = [
        f'<span data-component="{html.escape(component)}" data-measured="{str(measured).lower()}">'
        f"{html.escape(basis_text(name, measured))}</span>"
        for component, name, measured in components
    ]
    return " &middot; ".join([whose_figures(machine_wide), *items])


def _kinds(record: "CellRecord") -> list[tuple[str, float]]:
    """The record's components with their average power: CPU, the GPUs if any, RAM, the platform if counted."""
    gpu = [("gpu", record.gpu_power_w)] if record.gpu_energy_kwh or record.gpu_power_w else []
    platform = [("platform", record.platform_power_w)] if record.platform_energy_kwh or record.platform_power_w else []
    return [("cpu", record.cpu_power_w), *gpu, ("ram", record.ram_power_w), *platform]


def energy_text(record: "CellRecord") -> str:
    """'12.3 mWh (9.5 .. 17.5 mWh modelled)', or the figure alone when measured."""
    return banded(record.energy_kwh, band_of(record.energy_kwh, record.energy_low_kwh, record.energy_high_kwh), energy)


def co2_text(record: "CellRecord") -> str:
    """'58.4 µg CO2e (36.6 .. 105 µg CO2e modelled)', or the figure alone when measured."""
    return banded(record.emissions_kg, band_of(record.emissions_kg, record.emissions_low_kg, record.emissions_high_kg),
                  co2)


def water_text(record: "CellRecord") -> str:
    """Total water with its on-/off-site split and sources ('' when none is counted: wue unset and
    offsite_water off, as CodeCarbon's 0)."""
    if record.water_offsite_l is None and not record.water_total_l:
        return f"water {water(record.water_l)}" if record.water_l else ""
    band = None
    if record.water_offsite_l is not None and record.water_offsite_low_l is not None:
        band = band_of(record.water_offsite_l, record.water_offsite_low_l, record.water_offsite_high_l or 0.0)
    return "water " + water_split(record.water_total_l, record.water_onsite_l, record.water_onsite_source,
                                  record.water_offsite_l, band, record.water_offsite_source)


def embodied_text(record: "CellRecord") -> str:
    """'embodied 0.21 mg CO2e (0.15 .. 0.32 mg CO2e modelled)' beside the operational CO2 ('' when off)."""
    if record.embodied_kg is None:
        return ""
    band = band_of(record.embodied_kg, record.embodied_low_kg or 0.0, record.embodied_high_kg or 0.0)
    return f"embodied {banded(record.embodied_kg, band, co2)}"


def _power_parts(record: "CellRecord") -> list[str]:
    """'CPU 3.05 W (1.91 .. 5.48 W modelled)' per kind; a measured kind's power alone."""
    kinds = _kinds(record)
    bands = bands_of(record.bands, (kind for kind, _ in kinds if kind not in record.measured_kinds))
    return [f"{kind.upper()} {banded(watts, bands.get(kind), power)}" for kind, watts in kinds]


def _basis_parts(record: "CellRecord") -> list[tuple[str, str, bool]]:
    return [(kind, kind.upper(), kind in record.measured_kinds) for kind, _ in _kinds(record)]


@dataclass(frozen=True)
class _Figures:
    """A record's figures as the summary shows them, formatted once for its text and HTML."""

    duration: str
    energy: str
    co2: str
    embodied: str
    water: str
    power: str
    basis: list[tuple[str, str, bool]]
    intensity: str

    @classmethod
    def of(cls, record: "CellRecord") -> "_Figures":
        return cls(
            duration=duration(record.duration_s),
            energy=energy_text(record),
            co2=co2_text(record),
            embodied=embodied_text(record),
            water=water_text(record),
            power=", ".join(_power_parts(record)),
            basis=_basis_parts(record),
            intensity=intensity(record.intensity_g_per_kwh, record.intensity_source),
        )


def summary_text(record: "CellRecord", figures: _Figures | None = None) -> str:
    """One line: what the cell cost and why (status only when it did not end well)."""
    shown = figures or _Figures.of(record)
    items = [
        f"carbon: {record.label}",
        shown.duration,
        shown.energy,
        shown.co2,
        *filter(None, [shown.embodied, shown.water]),
        "avg " + shown.power,
        f"{whose_figures(record.machine_wide)}: {', '.join(basis_text(n, m) for _, n, m in shown.basis)}",
        shown.intensity,
    ]
    if record.status != "ok":
        items.append(record.status.upper())
    if record.provisional:
        items.append("provisional")
    return " | ".join(items)


def summary_html(record: "CellRecord", figures: _Figures | None = None) -> str:
    shown = figures or _Figures.of(record)
    colour = status_colour(record.status)
    status = "" if record.status == "ok" else f' <b style="color:{colour}">{record.status}</b>'
    return (
        f'<div class="carbon-magic-summary" style="{_BOX}border-left-color:{colour}">'
        f"<b>{html.escape(record.label)}</b>{status} &middot; {shown.duration} &middot; "
        f"<b>{html.escape(shown.energy)}</b> &middot; <b>{html.escape(shown.co2)}</b> &middot; "
        f"{''.join(f'{html.escape(part)} &middot; ' for part in (shown.embodied, shown.water) if part)}"
        f"avg {html.escape(shown.power)}"
        f'<br><span style="opacity:.7">{basis_html(record.machine_wide, shown.basis)} &middot; '
        f"{html.escape(shown.intensity)}"
        f"{' (provisional: a slow counter will settle it)' if record.provisional else ''}</span></div>"
    )


def summary_views(record: "CellRecord") -> tuple[str, str]:
    """``summary_text`` and ``summary_html`` of ``record``, its figures formatted once."""
    figures = _Figures.of(record)
    return summary_text(record, figures), summary_html(record, figures)


def show_summary(record: "CellRecord") -> None:
    show(*summary_views(record))


# -- tables ------------------------------------------------------------------------------------
def _text_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(map(str, row)) for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]], highlight: Sequence[bool] = ()) -> str:
    head = "".join(f'<th style="text-align:left">{html.escape(h)}</th>' for h in header)
    body = []
    for index, row in enumerate(rows):
        style = ' style="font-weight:bold"' if index < len(highlight) and highlight[index] else ""
        body.append(f"<tr{style}>" + "".join(f'<td style="text-align:left">{html.escape(str(c))}</td>' for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# -- %carbon config ----------------------------------------------------------------------------
def show_config(config: "Config", extra: Sequence[tuple[str, Any, str]] = (), only: Sequence[str] = ()) -> None:
    """Every parameter's value (secrets masked) and where it came from; set ones in bold.

    ``only``: show just these parameters.
    """
    rows = [(name, config.shown(name), config.source(name)) for name in config if not only or name in only]
    rows += [(name, repr(value), source) for name, value, source in extra if not only or name in only]
    header = ("parameter", "value", "source")
    changed = [source != "default" for _, _, source in rows]
    title = "carbon_magic configuration (priority: magic option > CarbonMagic traits > CODECARBON_* > ./.codecarbon.config > ~/.codecarbon.config > default)"
    show(
        title + "\n" + _text_table(header, rows),
        f'<div style="{_BOX}"><b>carbon_magic configuration</b> '
        f'<span style="opacity:.7">(bold: set somewhere; priority: magic option &gt; CarbonMagic traits '
        f"&gt; CODECARBON_* &gt; ./.codecarbon.config &gt; ~/.codecarbon.config &gt; default)</span>"
        f"{_html_table(header, rows, changed)}</div>",
    )


# -- %carbon status and the load line ----------------------------------------------------------
def short_method(method: str) -> str:
    """'TDP model x CPU load: ...' -> 'TDP model x CPU load'; 'modelled: SPECpower machine model
    (...); ...' -> 'SPECpower machine model (modelled)'."""
    kind, _, rest = method.partition(": ")
    if kind in ("measured", "modelled"):
        return f"{short_method(rest)} ({kind})"
    for stop in (":", "(", ";"):
        method = method.split(stop, 1)[0]
    return method.strip()


def hardware_phrase(methods: dict[str, str]) -> str:
    """'CPU by TDP model x CPU load, RAM by DIMM model, 2 GPUs by NVML energy counter (measured)'
    (GPUs grouped by how they are measured: a machine may have NVIDIA and AMD GPUs)."""
    from ..core.ledger import kind_of

    parts = []
    for component in ("cpu", "ram", "platform"):
        if component in methods:
            parts.append(f"{component.upper()} by {short_method(methods[component])}")
    gpu_methods = Counter(short_method(m) for c, m in methods.items() if kind_of(c) == "gpu")
    for how, count in gpu_methods.items():
        parts.append(f"{count} GPU{'s' if count > 1 else ''} by {how}")
    if not gpu_methods:
        parts.append("no GPU")
    return ", ".join(parts)


def location_phrase(location: Any, intensity_figure: Any) -> str:
    where = location.country_name or "no country set (use --country-iso-code)"
    if location.cloud_provider:
        where += f", {location.cloud_provider} {location.cloud_region or ''}".rstrip()
    return f"{where}; {intensity(intensity_figure.g_per_kwh, intensity_figure.source)}"


def _method_lines(methods: dict[str, str]) -> list[str]:
    """How each component is measured; the part every component shares (one model's basis and
    validation) said once, on its own line."""
    shared = os.path.commonprefix(list(methods.values())) if len(methods) > 1 else ""
    shared = shared[: shared.rfind("; ") + 1]  # whole clauses only ("" if none is shared)
    lines = [f"{', '.join(methods)}: {shared.rstrip('; ')}"] if shared else []
    return lines + [f"{component}: {method[len(shared):].strip()}" for component, method in methods.items()]


def footprint_lines(footprint: Any) -> list[str]:
    """``%carbon status``: which water intensity and WUE and why, the embodied method, lifetime and hardware."""
    lines = [f"water off-site: {footprint.water.offsite_text}", f"water on-site: {footprint.water.onsite_text}"]
    embodied = footprint.embodied
    if embodied is None:
        return [*lines, "embodied: off (embodied=False) or the machine could not be described (see errors)"]
    from ..core.embodied import total

    per_hour = total(dict(embodied.rates_g_per_s)).scaled(3600.0 / 1000.0)
    rate = banded(per_hour.value, band_of(per_hour.value, per_hour.low, per_hour.high), co2)
    return [*lines, f"embodied: {rate} per hour of use; {embodied.method_text()}"]


def status_view(
    *, version: str, sampler: Any, location: Any, intensity_figure: Any, config_error: str | None,
    location_status: Sequence[str], auto: str | None, active: Sequence["TrackedWindow"], records: int, files: Sequence[str],
    problems: Sequence["Problem"], now: float, panel: str | None = None, footprint: Any = None,
    cluster: Sequence[str] | None = None,
) -> tuple[str, str]:
    """``%carbon status``: how each component is measured, where, what runs, what went wrong."""
    sections: list[tuple[str, list[str]]] = []
    if sampler is None:
        sections.append(("Hardware", ["discovery still running; ask again in a moment"]))
    else:
        thread = "running" if sampler.running else "idle (starts with a tracked cell)"
        identity = sampler.facts.cpu_identity
        lines = [f"CPU: {identity.description}"] if identity is not None else []
        watts, bands, methods = sampler.power_now_w(), sampler.bands(), sampler.methods()
        lines += [f"{component}: {banded(watts[component], bands.get(component), power)} now" for component in methods]
        lines += _method_lines(methods)
        lines.append(f"sampler interval {sampler.interval_s:g} s, thread {thread}")
        lines += [f"note: {note}" for note in sampler.notes]
        sections.append(("Measured", lines))
    if location is not None:
        sections.append(("Location and intensity", [location_phrase(location, intensity_figure), *location_status]))
    if footprint is not None:
        sections.append(("Water and embodied emissions", footprint_lines(footprint)))
    if cluster is not None:
        sections.append(("Cluster hosts", list(cluster)))
    if config_error:
        sections.append(("Configuration problem", [config_error]))
    sections.append(("Auto mode (%carbon on)", [auto or "off"]))
    if panel is not None:
        sections.append(("Live panel", [panel]))
    running = [
        f"{w.kind} {w.label!r}: started {duration(max(now - w.started_at, 0.0))} ago in cell [{w.cell.execution_count}]"
        for w in active
    ]
    sections.append(("Tracking now", running or ["nothing"]))
    sections.append(("Records", [f"{records} this session", *files]))
    sections.append((
        "Errors and warnings",
        [f"{p.where}: {p.error_type} x{p.count}: {p.message}" for p in problems] or ["none"],
    ))
    text = [f"carbon_magic {version} status"]
    for title, lines in sections:
        text.append(f"{title}:")
        text += [f"  {line}" for line in lines]
    html_parts = [f'<div style="{_BOX}"><b>carbon_magic {html.escape(version)} status</b>']
    for title, lines in sections:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        html_parts.append(f'<div><b>{html.escape(title)}</b><ul style="margin:0">{items}</ul></div>')
    html_parts.append("</div>")
    return "\n".join(text), "".join(html_parts)
