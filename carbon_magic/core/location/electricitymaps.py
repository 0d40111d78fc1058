"""Live grid carbon intensity from Electricity Maps.

``GET <electricitymaps_endpoint>?zone=FR`` (or ``?lat=..&lon=..``) with the token in the
``auth-token`` header; the answer's ``carbonIntensity`` is g CO2e/kWh for ``zone`` at
``datetime``. The token never leaves that header: not in URLs, caches, logs or errors.
Background only.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from .. import disk_cache, tables
from ..http import FetchError, fetch, shown_url
from .intensity import Location

CACHE_NAME = "electricitymaps"


@dataclass(frozen=True)
class LiveValue:
    """One answer: intensity (g CO2e/kWh), zone, the time it describes, when it was fetched (unix s)."""

    g_per_kwh: float
    zone: str
    datetime: str
    fetched_at: float


def query_for(zone: str | None, location: Location) -> dict[str, str] | None:
    """What to ask for: the ``country_2letter_iso_code`` zone, else the location's coordinates,
    else its country's ISO2 code; None when nothing is known."""
    if zone:
        return {"zone": zone.strip().upper()}
    if location.latitude is not None and location.longitude is not None:
        return {"lat": f"{location.latitude:.4f}", "lon": f"{location.longitude:.4f}"}
    if location.country_iso_code:
        iso2 = tables.country_iso2(location.country_iso_code)
        return {"zone": iso2} if iso2 else None
    return None


def query_key(endpoint: str, query: dict[str, str]) -> str:
    """The cache and rate-limit key of a query (no token in it)."""
    return f"{shown_url(endpoint)}?{urlencode(sorted(query.items()))}"


def parse_answer(data: Any, query: dict[str, str], fetched_at: float) -> LiveValue:
    """The LiveValue of a decoded answer; ValueError if it holds no usable intensity."""
    if not isinstance(data, dict):
        raise ValueError(f"answer is a JSON {type(data).__name__}, not an object")
    value = data.get("carbonIntensity")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"answer has no usable carbonIntensity ({value!r})")
    zone = data["zone"] if isinstance(data.get("zone"), str) else query.get("zone", "")
    moment = data["datetime"] if isinstance(data.get("datetime"), str) else ""
    return LiveValue(float(value), zone or f"{query.get('lat')},{query.get('lon')}", moment, fetched_at)


def fetch_latest(endpoint: str, token: str, query: dict[str, str], timeout_s: float) -> LiveValue:
    """The latest intensity for ``query``; FetchError with a safe message otherwise."""
    where = f"Electricity Maps {shown_url(endpoint)}"
    try:
        answer = fetch(f"{endpoint}?{urlencode(query)}", timeout_s=timeout_s,
                       headers={"auth-token": token, "Accept": "application/json"})
    except FetchError as error:
        if error.status in (401, 403):
            raise FetchError(f"{where}: token refused (HTTP {error.status})", error.status) from None
        raise
    try:
        return parse_answer(answer.json(where), query, time.time())
    except ValueError as error:
        raise FetchError(f"{where}: {error}") from None


def cached_value(key: str, max_age_s: float) -> LiveValue | None:
    """The value saved on disk for ``key`` (a query_key) less than ``max_age_s`` ago, else None."""
    cached = disk_cache.read_entry(CACHE_NAME, key, max_age_s)
    if cached is None:
        return None
    try:
        return LiveValue(**cached[0])
    except TypeError:
        return None


def save_value(key: str, value: LiveValue) -> None:
    """Save ``value`` for other processes (an unwritable cache only costs them a request)."""
    try:
        disk_cache.write_entry(CACHE_NAME, key, asdict(value))
    except OSError:
        pass
