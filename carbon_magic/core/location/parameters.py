"""The location given by parameters (``country_iso_code``, ``region``, ``cloud_provider``,
``cloud_region``), checked against the tables when set, and offline mode.

Pure table lookups, no I/O: the location service calls these on a cell's path (memoised).
"""

from __future__ import annotations

from .. import tables
from ..config import Config, ConfigError
from .intensity import Location


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
