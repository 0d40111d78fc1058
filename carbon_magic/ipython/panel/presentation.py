"""Every view's look, written once: colours (both themes), units and number formats.

Used by the summaries (``display``), the live panel and its frozen record, ``%carbon panel``,
``%carbon plot``, ``%carbon report`` and the sidebar protocol's figures, so that an energy
reads the same everywhere ('21.4 mWh'), a component has one colour, and a status one.

- Units: a record holds CodeCarbon's units (kWh, kg, L); the views and the report give
  energy in Wh, CO2e in g and water in mL (``ENERGY``, ``CO2``, ``WATER``), scaled with an SI
  prefix for reading (µg, mg, g, kg; mWh, Wh, kWh; mL, L).
- Colours: one per chart group and for CO2e, one per status, and per theme (JupyterLab Light
  and Dark) the charts' background, text and grid colours (``PALETTES``), every text at least
  4.5:1 against its background (WCAG AA). HTML views take the theme's colours from
  JupyterLab's ``--jp-*`` CSS variables (``MUTED``, ``TEXT_STYLE``); images and plotly figures,
  which cannot, take them from ``palette_of(theme)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ...core.ledger import kind_of


# -- units ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quantity:
    """A figure as views and reports give it: ``unit``, ``factor`` times the record's unit."""

    unit: str
    factor: float

    def of(self, value: float) -> float:
        """``value`` (in the record's CodeCarbon unit) in ``unit``."""
        return value * self.factor


ENERGY = Quantity("Wh", 1e3)  # from kWh
CO2 = Quantity("g", 1e3)  # from kg
WATER = Quantity("mL", 1e3)  # from L

PREFIXES = ((1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def prefix_of(value: float) -> tuple[float, str]:
    """(factor, prefix) of the SI prefix that ``value`` reads best in: 0.0214 -> (1e-3, 'm')."""
    magnitude = abs(value)
    for factor_prefix in PREFIXES:  # a loop, not a generator: a summary asks this some 30 times
        if magnitude >= factor_prefix[0]:
            return factor_prefix
    return PREFIXES[-1]


def significant(value: float) -> float:
    """``value`` rounded to 3 significant digits, as every figure is shown: 999.7 -> 1000.0."""
    return float(format(value, ".3g"))


def scaled(value: float, unit: str) -> str:
    """``value`` (in ``unit``) with an SI prefix and 3 significant digits: '21.4 mWh', and
    0.9997 Wh is '1 Wh' (rounded before the prefix is chosen)."""
    if value == 0 or not math.isfinite(value):
        return f"0 {unit}"
    rounded = significant(value)
    factor, prefix = prefix_of(rounded)
    return f"{significant(rounded / factor):g} {prefix}{unit}"


def energy(kwh: float) -> str:
    """'21.4 mWh', '1.2 kWh'."""
    return scaled(ENERGY.of(kwh), ENERGY.unit)


def co2_mass(kg: float) -> str:
    """'10.2 mg', '3.1 g' (where the label already says CO2e)."""
    return scaled(CO2.of(kg), CO2.unit)


def co2(kg: float) -> str:
    """'10.2 mg CO2e', '3.1 g CO2e'."""
    return co2_mass(kg) + " CO2e"


def water(litres: float) -> str:
    """'25 mL', '1.5 L'."""
    return scaled(litres, "L")


def power(watts: float) -> str:
    """'12.3 W', '712 W'."""
    return f"{watts:.3g} W" if watts < 100 else f"{watts:.0f} W"


def banded(value: float, band: tuple[float, float] | None, unit: Callable[[float], str]) -> str:
    """'8.6 W (5.4 .. 15.4 W modelled)': a figure and, for a modelled one (``band``: its low and
    high ratios), the range it implies; a measured figure (``band`` None) alone."""
    if band is None:
        return unit(value)
    return f"{unit(value)} ({band_range(value, band, unit)})"


def bands_of(bands: Iterable[tuple[str, tuple[float, float]]], keys: Iterable[str]) -> dict[str, tuple[float, float]]:
    """The (low, high) ratio band of each of ``keys`` (a component, or a kind: 'gpu' for every GPU)
    from ``bands``, those of the modelled components (``Sampler.bands``): the widest of its
    components'; none for a key whose components are all measured."""
    wanted = set(keys)
    found: dict[str, tuple[float, float]] = {}
    for component, (low, high) in bands:
        for key in {component, kind_of(component)} & wanted:
            known = found.get(key, (low, high))
            found[key] = (min(known[0], low), max(known[1], high))
    return found


def sum_band(power_w: Mapping[str, float], bands: Mapping[str, tuple[float, float]]) -> tuple[float, float] | None:
    """The ratio band of the sum of ``power_w``, whose parts in ``bands`` are modelled (the others
    measured: exact); None when none is."""
    total = sum(power_w.values())
    if total <= 0 or not bands.keys() & power_w.keys():
        return None
    ends = [sum(watts * bands.get(part, (1.0, 1.0))[end] for part, watts in power_w.items()) for end in (0, 1)]
    return ends[0] / total, ends[1] / total


def band_of(value: float, low: float, high: float) -> tuple[float, float] | None:
    """The (low, high) ratios of a figure's band; None when it has none (all measured: low == high)."""
    if value <= 0 or low == high:
        return None
    return low / value, high / value


def band_range(value: float, band: tuple[float, float], unit: Callable[[float], str]) -> str:
    """'5.4 .. 15.4 W modelled': the range a modelled figure's band (low, high ratios) implies."""
    low, high = unit(value * band[0]), unit(value * band[1])
    number, _, suffix = low.partition(" ")
    if suffix and high.endswith(" " + suffix):
        low = number  # '5.4 .. 15.4 W', not '5.4 W .. 15.4 W'
    return f"{low} .. {high} modelled"


def source_word(source_text: str) -> str:
    """The short name a footprint source text starts with ('France (country)', 'provider fleet')."""
    return source_text.split(":", 1)[0]


def place_of(source_text: str) -> str:
    """The place alone of an off-site water source text ('France', 'United States', 'world')."""
    return source_word(source_text).split(" (", 1)[0]


def water_split(total_l: float, onsite_l: float, onsite_source: str, offsite_l: float | None,
                offsite_band: tuple[float, float] | None, offsite_source: str) -> str:
    """'3.1 mL (off-site 3.1 mL (0.9 .. 8.2 mL modelled) France grid; on-site 0 L: none)'."""
    parts = []
    if offsite_l is not None:
        parts.append(f"off-site {banded(offsite_l, offsite_band, water)} {place_of(offsite_source)} grid")
    parts.append(f"on-site {water(onsite_l)}: {source_word(onsite_source) or 'wue'}")
    return f"{water(total_l)} ({'; '.join(parts)})"


def cluster_parts(hosts_json: str, missing: str) -> list[str]:
    """A record's cluster hosts as shown (``cluster_hosts``, ``cluster_missing`` of a record):
    'host-a 1.2 Wh 0.3 g' per host measured, then 'host-b missing (why)'."""
    if not hosts_json and not missing:
        return []
    from ...cluster.footprint import read_hosts, read_missing  # the cluster's code, with its first record

    parts = [f"{host} {energy(figures['energy_kwh'])} {co2_mass(figures['emissions_kg'])}"
             for host, figures in read_hosts(hosts_json).items()]
    return parts + [f"{host} missing ({why})" for host, why in read_missing(missing)]


def duration(seconds: float) -> str:
    """'850 ms', '2.31 s', '3 min 12 s', '1 h 05 min' (0.99995 s is '1 s', never '1e+03 ms')."""
    if significant(seconds * 1000) < 1000:
        return f"{significant(seconds * 1000):g} ms"
    if significant(seconds) < 60:
        return f"{significant(seconds):g} s"
    seconds = max(seconds, 60.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def intensity(g_per_kwh: float, source: str) -> str:
    return f"{g_per_kwh:.0f} g CO2e/kWh ({source})"


# -- chart axes -------------------------------------------------------------------------------
def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 x 10^k) giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power_of_ten = 10 ** math.floor(math.log10(raw))
    return next(m * power_of_ten for m in (1, 2, 5, 10) if m * power_of_ten >= raw)


def axis_range(largest: float) -> tuple[float, float]:
    """(top, step): a round axis from 0 holding ``largest``."""
    step = nice_step(largest) if largest > 0 else 1.0
    return step * max(math.ceil(largest / step - 1e-9), 1), step


def axis_unit(largest: float, unit: str) -> tuple[float, str]:
    """(factor, label): values times factor read in the label's unit ('mg', 'µg', 'g', ...),
    the prefix ``scaled`` gives the largest value."""
    factor, prefix = prefix_of(largest)
    return 1.0 / factor, f"{prefix}{unit}"


def tick_label(value: float) -> str:
    return f"{value:g}"


def time_axis(seconds: float) -> tuple[float, str]:
    """(divisor, unit) for a window of ``seconds``: s, min or h."""
    if seconds >= 7200:
        return 3600.0, "h"
    if seconds >= 180:
        return 60.0, "min"
    return 1.0, "s"


# -- colours ----------------------------------------------------------------------------------
GROUP_COLOURS = {"cpu": "#1f77b4", "ram": "#ff7f0e", "gpu": "#2ca02c", "gpu:0": "#2ca02c", "gpu:1": "#17becf",
                 "platform": "#8c564b"}
OTHER_COLOUR = "#7f7f7f"
CO2_COLOUR = "#8e6bb8"
# a window's state: the live panel's dot, the frozen record's and the summary's edge
STATUS_COLOURS = {"running": "#3a8d4f", "ok": "#6b7b8c", "failed": "#c0392b", "interrupted": "#d68910"}
BRAND_COLOUR = "#3a8d4f"  # the edge of carbon_magic's other views (%carbon config, status)


def group_name(group: str) -> str:
    """'cpu' -> 'CPU', 'gpu:1' -> 'GPU 1'."""
    kind, _, index = group.partition(":")
    return f"{kind.upper()} {index}".strip()


def group_colour(group: str) -> str:
    return GROUP_COLOURS.get(group, GROUP_COLOURS.get(kind_of(group), OTHER_COLOUR))


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, STATUS_COLOURS["ok"])


@dataclass(frozen=True)
class Palette:
    """The charts' colours on one theme's background (the live chart, the PNGs, the plot)."""

    background: str
    text: str
    co2_text: str  # the CO2 axis's labels, in a purple that reads on this background
    grid: str


# every text at least 4.5:1 against its background (WCAG AA); tests/test_presentation.py checks
PALETTES = {
    "light": Palette("#ffffff", "#454545", "#6a4c93", "#e3e3e3"),  # JupyterLab Light's --jp-layout-color1
    "dark": Palette("#212121", "#cfcfcf", "#b9a0dc", "#3a3a3a"),  # JupyterLab Dark's --jp-layout-color1
}


def palette_of(theme: str | None) -> Palette:
    """The palette of JupyterLab's 'light' or 'dark' theme (light while not known yet)."""
    return PALETTES.get(theme or "light", PALETTES["light"])


# -- HTML text styles (the theme's colours through JupyterLab's CSS variables) ----------------
FONT_FAMILY = "system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"
FONT = f"font-family:var(--jp-ui-font-family,{FONT_FAMILY})"
MUTED = "color:var(--jp-ui-font-color2,#777)"
TEXT_STYLE = f"{FONT};font-size:12px;line-height:1.4;color:var(--jp-ui-font-color1,#222)"
