"""What the magics print: each view as plain text (terminals) and HTML (notebooks).

Every view is a mimebundle with ``text/plain`` and ``text/html``; front ends show the
richest they can. Figures are scaled to readable units (mWh, mg, mL) and say their units,
formatted and coloured as in every other view (``panel/presentation.py``).
"""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from IPython.core.display_functions import display

from .panel.presentation import (
    BRAND_COLOUR, band_of, banded, co2, duration, energy, intensity, power, status_colour, water,
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


def _power_parts(record: "CellRecord") -> list[str]:
    return [f"{kind.upper()} {power(watts)}" for kind, watts in _kinds(record)]


def _basis_parts(record: "CellRecord") -> list[tuple[str, str, bool]]:
    return [(kind, kind.upper(), kind in record.measured_kinds) for kind, _ in _kinds(record)]


def summary_text(record: "CellRecord") -> str:
    """One line: what the cell cost and why (status only when it did not end well)."""
    items = [
        f"carbon: {record.label}",
        duration(record.duration_s),
        energy_text(record),
        co2(record.emissions_kg),
        *([f"water {water(record.water_l)}"] if record.water_l else []),  # 0: wue unset, nothing measured
        "avg " + ", ".join(_power_parts(record)),
        f"{whose_figures(record.machine_wide)}: {', '.join(basis_text(n, m) for _, n, m in _basis_parts(record))}",
        intensity(record.intensity_g_per_kwh, record.intensity_source),
    ]
    if record.status != "ok":
        items.append(record.status.upper())
    if record.provisional:
        items.append("provisional")
    return " | ".join(items)


def summary_html(record: "CellRecord") -> str:
    colour = status_colour(record.status)
    status = "" if record.status == "ok" else f' <b style="color:{colour}">{record.status}</b>'
    return (
        f'<div class="carbon-magic-summary" style="{_BOX}border-left-color:{colour}">'
        f"<b>{html.escape(record.label)}</b>{status} &middot; {duration(record.duration_s)} &middot; "
        f"<b>{html.escape(energy_text(record))}</b> &middot; <b>{co2(record.emissions_kg)}</b> &middot; "
        f"{f'water {water(record.water_l)} &middot; ' if record.water_l else ''}"
        f"avg {html.escape(', '.join(_power_parts(record)))}"
        f'<br><span style="opacity:.7">{basis_html(record.machine_wide, _basis_parts(record))} &middot; '
        f"{html.escape(intensity(record.intensity_g_per_kwh, record.intensity_source))}"
        f"{' (provisional: a slow counter will settle it)' if record.provisional else ''}</span></div>"
    )


def show_summary(record: "CellRecord") -> None:
    show(summary_text(record), summary_html(record))


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


def hardware_phrase(methods: dict[str, str], exact: dict[str, bool]) -> str:
    """'CPU by TDP model x CPU load, RAM by DIMM model, 2 GPUs by NVML energy counter'."""
    from ..core.ledger import kind_of

    parts = []
    gpus = [c for c in methods if kind_of(c) == "gpu"]
    for component in ("cpu", "ram", "platform"):
        if component in methods:
            parts.append(f"{component.upper()} by {short_method(methods[component])}")
    if gpus:
        counted = sum(1 for c in gpus if exact.get(c))
        plural = "s" if len(gpus) > 1 else ""
        how = "NVML energy counter" if counted == len(gpus) else (
            "NVML power x time" if counted == 0 else f"NVML ({counted} by energy counter, {len(gpus) - counted} by power x time)")
        parts.append(f"{len(gpus)} GPU{plural} by {how}")
    else:
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


def status_view(
    *, version: str, sampler: Any, location: Any, intensity_figure: Any, config_error: str | None,
    location_status: Sequence[str], auto: str | None, active: Sequence["TrackedWindow"], records: int, files: Sequence[str],
    problems: Sequence["Problem"], now: float, panel: str | None = None, cluster: Sequence[str] | None = None,
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
