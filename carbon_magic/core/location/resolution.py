"""Where this machine is, found in the background for one set of endpoints: cloud detection
and IP geolocation in parallel; until geolocation answers (and if it fails), the country of
the system time zone is the guess. A placed cloud region beats geolocation (its grid is
known more precisely).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .board import THREAD_NAME, Board
from .intensity import Location
from .parameters import location_of_cloud

if TYPE_CHECKING:
    from .geolocation import GeoAnswer


@dataclass(frozen=True)
class ResolutionKey:
    """The parameters a resolution depends on (one resolution per distinct key)."""

    geolocation_endpoint: str
    metadata_url: str
    timeout_s: float


@dataclass(frozen=True)
class Found:
    """What a resolution has published so far (replaced whole: readers see one snapshot)."""

    zone_guess: Location | None = None
    zone_note: str = ""
    geolocated: Location | None = None
    geolocation_note: str = "IP geolocation pending"
    cloud: Location | None = None


class Resolution:
    """Background location resolution for one ResolutionKey; read without locks."""

    def __init__(self, key: ResolutionKey, board: Board):
        self.key = key
        self._board = board
        self.found = Found()
        self.done = threading.Event()

    def start(self) -> None:
        self._board.start_thread(self._run, "resolve")

    def _publish(self, **changes: Any) -> None:
        with self._board.changing() as open_:
            if open_:
                self.found = replace(self.found, **changes)

    def _run(self) -> None:
        cloud = threading.Thread(target=self._detect_cloud, name=f"{THREAD_NAME}-cloud", daemon=True)
        cloud.start()
        try:
            self._geolocate()
        finally:
            cloud.join()
            self.done.set()

    def _geolocate(self) -> None:
        from ..http import FetchError, shown_url
        from . import geolocation

        endpoint = self.key.geolocation_endpoint
        host = shown_url(endpoint)
        cached = geolocation.cached_answer(endpoint)
        if cached is not None:
            self._publish_geolocated(cached, f"IP geolocation ({host}, cached)")
            return
        self._guess_from_time_zone()
        try:
            answer = geolocation.request_answer(endpoint, self.key.timeout_s)
        except FetchError as error:
            self._board.note_problem("IP geolocation", error)
            self._publish(geolocation_note=f"IP geolocation failed ({error})")
            return
        self._publish_geolocated(answer, f"IP geolocation ({host})")

    def _publish_geolocated(self, answer: GeoAnswer, how: str) -> None:
        from .. import tables

        location = Location(
            country_iso_code=answer.country_iso3,
            country_name=tables.country_name(answer.country_iso3),
            region=answer.region,
            latitude=answer.latitude,
            longitude=answer.longitude,
            found_by=how,
        )
        self._publish(geolocated=location, geolocation_note="")

    def _guess_from_time_zone(self) -> None:
        from .. import tables
        from .timezone_country import local_zone_name, zone_country_iso2

        try:
            zone = local_zone_name()
            iso2 = zone_country_iso2(zone) if zone else None
            iso3 = tables.normalise_country(iso2) if iso2 else None
        except (OSError, tables.UnknownLocation) as error:
            self._board.note_problem("time zone lookup", error)
            return
        if iso3 is None:
            self._publish(zone_note=f"time zone {zone} names no country" if zone else "no named system time zone")
            return
        self._publish(zone_guess=Location(country_iso_code=iso3, country_name=tables.country_name(iso3),
                                          found_by=f"country guessed from the time zone {zone}"))

    def _detect_cloud(self) -> None:
        from .cloud import detect

        try:
            found = detect(self.key.metadata_url, self.key.timeout_s)
        except Exception as error:  # a bug in a probe must not stop the resolution
            self._board.note_problem("cloud detection", error)
            found = None
        cloud = None
        if found is not None:
            cloud = location_of_cloud(found.provider, found.region, "cloud metadata") or Location(
                cloud_provider=found.provider, cloud_region=found.region,
                found_by=f"cloud metadata: {found.provider} {found.region} is not in the tables",
            )
        self._publish(cloud=cloud)

    def best(self) -> Location:
        """The best location known now (a cloud placed by the tables beats geolocation)."""
        found = self.found
        cloud, geolocated = found.cloud, found.geolocated
        if cloud is not None and cloud.country_iso_code:
            if geolocated is not None and geolocated.country_iso_code == cloud.country_iso_code:
                return replace(cloud, latitude=geolocated.latitude, longitude=geolocated.longitude)
            return cloud
        base = geolocated or found.zone_guess
        notes = [] if geolocated is not None else [n for n in (found.geolocation_note, found.zone_note) if n]
        if base is None:
            base = Location(found_by=", ".join(notes) or "not found")
        elif notes:
            base = replace(base, found_by=f"{base.found_by} ({', '.join(notes)})")
        if cloud is not None:
            base = replace(base, cloud_provider=cloud.cloud_provider, cloud_region=cloud.cloud_region,
                           found_by=f"{base.found_by}; {cloud.found_by}")
        return base

    def describe(self) -> str:
        state = "done" if self.done.is_set() else "pending"
        return f"location ({state}): {self.best().found_by}"
