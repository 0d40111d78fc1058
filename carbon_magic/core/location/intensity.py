"""Where the energy was used and how carbon-intensive its electricity is.

Every measurement carries a Location (with how it was found) and an Intensity (with its
source and kind), so a user can always see why a number is what it is.

The intensity order (REFERENCE.md): forced > cloud region table > live grid API (Electricity
Maps, with a token) > region (US state, Canadian or Chinese province, Nordic zone) > country
mix table > world average. ``choose_intensity`` applies it to what is known; it is pure and
does no I/O, so the location service can call it on a cell's path. The location that
parameters give is found by ``parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import tables

# Intensity kinds, in the order of precedence.
FORCED = "forced"
CLOUD = "cloud table"
LIVE = "live API"
REGION = "region table"
COUNTRY = "country table"
WORLD = "world average"
KINDS = (FORCED, CLOUD, LIVE, REGION, COUNTRY, WORLD)


@dataclass(frozen=True)
class Location:
    """Where this process runs; ``found_by`` says how that was established, in words."""

    country_iso_code: str | None = None
    country_name: str | None = None
    region: str | None = None
    cloud_provider: str | None = None
    cloud_region: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    found_by: str = ""

    @property
    def on_cloud(self) -> bool:
        return bool(self.cloud_provider)


class IntensitySignal:
    """A time-varying grid intensity (one live feed), weighed into the ledger by the sampler.

    ``g_per_kwh`` is the value in effect now, or None while there is none (not yet fetched, or
    the last good value is too old): energy used then is weighed when a record is built, by
    the best value known at that moment. Only the location service writes it.
    """

    __slots__ = ("key", "g_per_kwh")

    def __init__(self, key: str):
        self.key = key
        self.g_per_kwh: float | None = None

    def __repr__(self) -> str:
        return f"IntensitySignal({self.key!r}, {self.g_per_kwh!r})"


@dataclass(frozen=True)
class Intensity:
    """Grid carbon intensity in g CO2e/kWh, its source in words and its kind (see KINDS).

    ``signal`` is set when a live feed applies to this measurement: records then weigh each
    moment's energy by the value in effect at that moment (``Window.average_intensity_g_per_kwh``)
    and energy used while no value was in effect by ``g_per_kwh``.
    """

    g_per_kwh: float
    source: str
    kind: str = ""
    signal: IntensitySignal | None = field(default=None, compare=False, repr=False)

    @property
    def kg_per_kwh(self) -> float:
        return self.g_per_kwh / 1000.0


@dataclass(frozen=True)
class LiveState:
    """What a live feed offers the intensity order now.

    ``g_per_kwh`` is the value in effect (None when there is none), ``described`` says where
    it comes from ("Electricity Maps zone FR at 2024-05-01T10:00:00Z"), ``note`` why there is
    no fresh value ("pending", "request failed: HTTP 503"); empty when all is well.
    """

    signal: IntensitySignal
    g_per_kwh: float | None
    described: str
    note: str = ""


# --- the intensity order ---------------------------------------------------------------------


def _figure_source(kind: str, figure: tables.GridFigure) -> str:
    year = f" {figure.year}" if figure.year else ""
    return f"{kind}: {figure.source}{year}: {figure.label}"


def _with_notes(source: str, *notes: str) -> str:
    return "; ".join([source, *(note for note in notes if note)])


def choose_intensity(
    location: Location,
    *,
    forced_g_per_kwh: float | None = None,
    forced_from: str = "argument",
    live: LiveState | None = None,
) -> Intensity:
    """The intensity for ``location`` by the order of the module docstring.

    When ``live`` is given but has no value, the next rows are used and the signal is kept,
    so energy used meanwhile is re-weighed once a live value arrives.
    """
    found = f"location: {location.found_by}" if location.found_by else ""
    if forced_g_per_kwh is not None:
        return Intensity(
            forced_g_per_kwh,
            f"{FORCED}: force_carbon_intensity_g_co2e_kwh = {forced_g_per_kwh:g} g/kWh (from {forced_from})",
            FORCED,
        )
    if location.cloud_provider == "gcp" and location.cloud_region:
        try:
            figure = tables.gcp_region_intensity(location.cloud_region)
        except tables.UnknownLocation:
            pass
        else:
            return Intensity(figure.intensity_g_per_kwh, _with_notes(_figure_source(CLOUD, figure), found), CLOUD)
    signal = live.signal if live is not None else None
    if live is not None and live.g_per_kwh is not None:
        return Intensity(live.g_per_kwh, _with_notes(f"{LIVE}: {live.described}", live.note, found), LIVE, signal)
    live_note = f"live intensity {live.note}" if live is not None and live.note else ""
    table_figure, kind, why = _table_figure(location)
    if table_figure is None:
        world = tables.world_average()
        source = f"{WORLD}: {world.source} {world.year} ({why})"
        return Intensity(world.intensity_g_per_kwh, _with_notes(source, live_note, found), WORLD, signal)
    return Intensity(table_figure.intensity_g_per_kwh, _with_notes(_figure_source(kind, table_figure), live_note, found),
                     kind, signal)


def _table_figure(location: Location) -> tuple[tables.GridFigure | None, str, str]:
    """The region figure, else the country figure; (None, "", why) when neither exists."""
    iso3 = location.country_iso_code
    if not iso3:
        return None, "", "location unknown"
    if location.region and tables.has_regions(iso3):
        try:
            return tables.region_intensity(iso3, location.region), REGION, ""
        except tables.UnknownLocation:
            pass  # a geolocated region name outside the table: the country figure applies
    try:
        return tables.country_intensity(iso3), COUNTRY, ""
    except tables.UnknownLocation:
        return None, "", f"{location.country_name or iso3} has no figure in the country table"
