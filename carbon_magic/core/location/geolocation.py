"""IP geolocation: the country, region and coordinates of this machine's public address.

The endpoint is the ``geolocation_endpoint`` parameter (default get.geojs.io). Answers are
read tolerantly: geojs (``country_code3``, ``region``, ``latitude``/``longitude`` as text),
ipinfo (``country``, ``loc``), ip-api (``countryCode``, ``regionName``, ``lat``/``lon``)
and the like. A good answer is cached on disk for a day, per endpoint. Background only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from .. import disk_cache, tables
from ..http import FetchError, fetch, shown_url

CACHE_NAME = "geolocation"
MAX_AGE_S = 24 * 3600.0
_COUNTRY_KEYS = ("country_code3", "country_code", "countryCode", "country_iso", "country")
_REGION_KEYS = ("region", "regionName", "region_name")
_COORDINATE_KEYS = (("latitude", "longitude"), ("lat", "lon"))


@dataclass(frozen=True)
class GeoAnswer:
    """What a geolocation service said: ISO3 country, region name as given, coordinates."""

    country_iso3: str
    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def _number(value: Any, limit: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def _coordinates(data: dict[str, Any]) -> tuple[float | None, float | None]:
    for lat_key, lon_key in _COORDINATE_KEYS:
        if lat_key in data and lon_key in data:
            return _number(data[lat_key], 90.0), _number(data[lon_key], 180.0)
    parts = str(data.get("loc", "")).split(",")
    if len(parts) == 2:
        return _number(parts[0], 90.0), _number(parts[1], 180.0)
    return None, None


def parse_answer(data: Any) -> GeoAnswer:
    """The GeoAnswer in a decoded JSON answer; ValueError saying what is missing."""
    if not isinstance(data, dict):
        raise ValueError(f"answer is a JSON {type(data).__name__}, not an object")
    for key in _COUNTRY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            try:
                iso3 = tables.normalise_country(value)
            except tables.UnknownLocation:
                continue
            break
    else:
        raise ValueError("answer names no known country")
    region = next((data[k].strip() for k in _REGION_KEYS if isinstance(data.get(k), str) and data[k].strip()), None)
    latitude, longitude = _coordinates(data)
    return GeoAnswer(iso3, region, latitude, longitude)


def cached_answer(endpoint: str, now: float | None = None) -> GeoAnswer | None:
    """The answer of ``endpoint`` saved on disk less than a day ago, else None."""
    cached = disk_cache.read_entry(CACHE_NAME, endpoint, MAX_AGE_S, now)
    if cached is None:
        return None
    try:
        answer = GeoAnswer(**cached[0])
        return replace(answer, country_iso3=tables.normalise_country(answer.country_iso3))
    except (TypeError, AttributeError, tables.UnknownLocation):
        return None  # an entry of another shape: ask again


def request_answer(endpoint: str, timeout_s: float, now: float | None = None) -> GeoAnswer:
    """Ask ``endpoint`` and save a good answer on disk; FetchError if there is none."""
    where = f"IP geolocation {shown_url(endpoint)}"
    response = fetch(endpoint, timeout_s=timeout_s, headers={"Accept": "application/json"})
    try:
        answer = parse_answer(response.json(where))
    except ValueError as error:
        raise FetchError(f"{where}: {error}") from None
    try:
        disk_cache.write_entry(CACHE_NAME, endpoint, asdict(answer), now)
    except OSError:
        pass  # an unwritable cache only costs a request next time
    return answer
