"""Where the energy was used and how carbon-intensive its electricity is.

Every measurement carries a Location (with how it was found) and an Intensity (with its
source and kind), so a user can always see why a number is what it is.

The intensity order (REFERENCE.md): forced > cloud region table > live grid API (Electricity
Maps, with a token) > region (US state, Canadian or Chinese province, Nordic zone) > country
mix table > world average. ``choose_intensity`` applies it to what is known; it is pure and
does no I/O, so the location service can call it on a cell's path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .. import tables
from ..config import Config, ConfigError

logger = logging.getLogger("carbon_magic")

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


# --- the location given by parameters --------------------------------------------------------


def _config_error(config: Config, name: str, error: Exception) -> ConfigError:
    source = config.source(name)
    return ConfigError(f"{error} ({name} from {source})", name=name, source=source)


def parameter_location(config: Config) -> Location | None:
    """The location that ``country_iso_code``, ``region``, ``cloud_provider`` and
    ``cloud_region`` describe, or None when none of them is set.

    Raises ConfigError (with the closest valid values) for an unknown country, region or
    cloud region, a region that needs a country, or a country that contradicts the cloud
    region. AWS and Azure regions have no intensity table: they resolve through their place
    (US state, province or Nordic zone where published, else country), as ``found_by`` says.
    """
    country, region = config["country_iso_code"], config["region"]
    provider, cloud_region = config["cloud_provider"], config["cloud_region"]
    if not (country or region or provider or cloud_region):
        return None
    cloud = _parameter_cloud(config, provider, cloud_region) if (provider or cloud_region) else None
    iso3 = cloud.country_iso3 if cloud else None
    if country:
        try:
            given = tables.normalise_country(country)
        except tables.UnknownLocation as error:
            raise _config_error(config, "country_iso_code", error) from None
        if cloud is not None and given != cloud.country_iso3:
            raise ConfigError(
                f"country_iso_code {country!r} (from {config.source('country_iso_code')}) contradicts "
                f"cloud_region {cloud.region!r}, which is in {tables.country_name(cloud.country_iso3)} "
                f"({cloud.country_iso3}); "
                "give one or the other",
                name="country_iso_code", source=config.source("country_iso_code"),
            )
        iso3 = given
    if region:
        iso3, region = _parameter_region(config, iso3, region)
    elif cloud is not None:
        region = cloud.grid_region
    assert iso3 is not None  # from country_iso_code, the region or the cloud region, checked above
    return Location(
        country_iso_code=iso3,
        country_name=tables.country_name(iso3),
        region=region,
        cloud_provider=cloud.provider if cloud else None,
        cloud_region=cloud.region if cloud else None,
        found_by=_parameter_found_by(config, cloud),
    )


def _parameter_cloud(config: Config, provider: str | None, region: str | None) -> tables.CloudRegion:
    if not region:
        assert provider  # called only when a provider or a region is given
        raise ConfigError(
            f"cloud_provider {provider!r} (from {config.source('cloud_provider')}) needs cloud_region, "
            f"e.g. one of {', '.join(tables.valid_cloud_regions(provider)[:3])}",
            name="cloud_region", source=config.source("cloud_provider"),
        )
    if not provider:
        providers = tables.cloud_providers_of(region)
        if len(providers) != 1:
            raise ConfigError(
                f"cloud_region {region!r} (from {config.source('cloud_region')}) needs cloud_provider "
                f"(one of {', '.join(tables.CLOUD_PROVIDERS)})",
                name="cloud_provider", source=config.source("cloud_region"),
            )
        provider = providers[0]
    try:
        return tables.cloud_region(provider, region)
    except tables.UnknownLocation as error:
        raise _config_error(config, "cloud_region", error) from None


def _parameter_region(config: Config, iso3: str | None, region: str) -> tuple[str, str]:
    """(country, canonical region label) for the ``region`` parameter."""
    if iso3 is None:
        countries = tables.countries_with_region(region)
        if len(countries) != 1:
            named = f"matches regions of {', '.join(countries)}" if countries else "is no known region"
            raise ConfigError(
                f"region {region!r} (from {config.source('region')}) {named}: set country_iso_code "
                "(regions exist for USA, CAN, CHN, SWE, NOR, FIN)",
                name="region", source=config.source("region"),
            )
        iso3 = countries[0]
    try:
        tables.region_intensity(iso3, region)
    except tables.UnknownLocation as error:
        raise _config_error(config, "region", error) from None
    return iso3, region


def _parameter_found_by(config: Config, cloud: tables.CloudRegion | None) -> str:
    names = [n for n in ("country_iso_code", "region", "cloud_provider", "cloud_region") if config[n]]
    given = ", ".join(f"{n} (from {config.source(n)})" for n in names)
    if cloud is None:
        return given
    if cloud.provider == "gcp":
        return f"{given}: gcp {cloud.region} ({cloud.place})"
    where = f"{cloud.grid_region}, {cloud.country_iso3}" if cloud.grid_region else cloud.country_iso3
    return (f"{given}: {cloud.provider} {cloud.region} ({cloud.place}) has no intensity table, "
            f"so its place's figure is used ({where})")


def location_of_cloud(provider: str, region: str, found_by: str) -> Location | None:
    """The Location of a detected cloud region (None if the tables do not place it)."""
    try:
        cloud = tables.cloud_region(provider, region)
    except tables.UnknownLocation:
        return None
    if provider == "gcp":
        how = f"{found_by}: gcp {cloud.region} ({cloud.place})"
    else:
        how = (f"{found_by}: {provider} {cloud.region} ({cloud.place}) has no intensity table, "
               f"so its place's figure is used")
    return Location(
        country_iso_code=cloud.country_iso3,
        country_name=tables.country_name(cloud.country_iso3),
        region=cloud.grid_region,
        cloud_provider=provider,
        cloud_region=cloud.region,
        found_by=how,
    )


def offline_mode(config: Config) -> bool:
    """Offline: ``offline=True`` (OfflineEmissionsTracker) or a ``country_iso_code`` given.

    Offline mode opens no socket, ever.
    """
    return bool(config["offline"] or config["country_iso_code"])
