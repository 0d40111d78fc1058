"""Where the energy was used and how carbon-intensive its electricity is.

Every measurement carries a Location and an Intensity that says where its figure came from,
so a user can always see why a number is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError


@dataclass(frozen=True)
class Location:
    country_iso_code: str | None = None
    country_name: str | None = None
    region: str | None = None
    cloud_provider: str | None = None
    cloud_region: str | None = None
    longitude: float | None = None
    latitude: float | None = None

    @property
    def on_cloud(self) -> bool:
        return bool(self.cloud_provider)


@dataclass(frozen=True)
class Intensity:
    """Grid carbon intensity in g CO2e/kWh and its source in words."""

    g_per_kwh: float
    source: str

    @property
    def kg_per_kwh(self) -> float:
        return self.g_per_kwh / 1000.0


def forced_intensity(g_per_kwh: float) -> Intensity:
    return Intensity(g_per_kwh, "force_carbon_intensity_g_co2e_kwh")


def world_average_intensity(why: str = "") -> Intensity:
    from . import tables

    figure = tables.world_average()
    reason = f" ({why})" if why else ""
    return Intensity(figure.intensity_g_per_kwh, f"world average{reason}: {figure.source}")


def country_location(text: str, source: str) -> Location:
    """A Location for a country given as ISO3, ISO2 or English name (ConfigError if unknown)."""
    from . import tables

    try:
        iso3 = tables.normalise_country(text)
    except tables.UnknownLocation as error:
        raise ConfigError(f"{error} (country_iso_code from {source})", name="country_iso_code", source=source) from None
    return Location(country_iso_code=iso3, country_name=tables.country_name(iso3))


def country_intensity(location: Location) -> Intensity:
    from . import tables

    figure = tables.country_intensity(location.country_iso_code)
    year = f" {figure.year}" if figure.year else ""
    return Intensity(figure.intensity_g_per_kwh, f"{figure.source}{year}: {figure.label}")


def resolve_offline(config) -> tuple[Location, Intensity]:
    """Location and intensity from parameters alone: forced > country table > world average."""
    location = Location()
    if config["country_iso_code"]:
        location = country_location(config["country_iso_code"], config.source("country_iso_code"))
    forced = config["force_carbon_intensity_g_co2e_kwh"]
    if forced is not None:
        return location, forced_intensity(forced)
    if location.country_iso_code:
        return location, country_intensity(location)
    return location, world_average_intensity("no country given")
