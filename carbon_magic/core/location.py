"""The process-wide location service: where this process runs and how carbon-intensive its
electricity is, resolved in the background and read in microseconds.

Public API (for trackers and the IPython extension):

- ``start_background_resolution(config)``: start whatever ``config`` needs (IP geolocation,
  cloud detection, live intensity) on background threads and return at once. Does nothing
  in offline mode. Raises ConfigError for bad location parameters (that is early and loud).
- ``current(config) -> (Location, Intensity)``: the best answer known now. No I/O, no
  waiting: a memo lookup, recomputed (pure table lookups) only after a background result
  arrived. Starts resolution if nothing did yet.
- ``status()``: what each background resolution is doing, in words (``%carbon status``).
- ``wait_resolved(timeout_s)``: block until every started resolution has its answer (scripts
  and tests only; never on a cell's path).
- ``wait_for(config, timeout_s)``: block until what ``config`` needs has answered (a script's
  ``stop()``, so that a short script's record is not built on a pending location).
- ``reset()``: forget everything (tests, extension unload).

Where the location comes from:

- Parameters (``country_iso_code``, ``region``, ``cloud_provider`` + ``cloud_region``) when
  given. Offline mode (``offline=True`` or ``country_iso_code``) opens no socket, ever.
- Otherwise, in the background and in parallel: cloud detection (metadata endpoints at
  ``cloud_metadata_url``, cached for the process), and IP geolocation
  (``geolocation_endpoint``, cached on disk for a day). Until geolocation answers, and if
  it fails, the country of the system time zone is the guess; without one, the world average.
  A placed cloud region beats geolocation (its grid is known more precisely).
- Live intensity: with ``electricitymaps_api_token`` (online), Electricity Maps for
  ``country_2letter_iso_code`` or the located zone, at most one request per zone per 15
  minutes (cached on disk across processes), refreshed while trackers run or records are
  built. A failed request keeps the last good value (up to a day old), then the tables.

Measurements made while a resolution is pending use the best value known so far; records
built after it arrives use the resolved figure (energy is exact; emissions follow). A live
feed's intensity is weighed into the ledger by the sampler (``Sampler.weigh_by``), energy
used before its first value by the value known when the record is built.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from .config import Config
from .intensity import (
    Intensity,
    IntensitySignal,
    LiveState,
    Location,
    choose_intensity,
    location_of_cloud,
    offline_mode,
    parameter_location,
)
from .problems import problems

if TYPE_CHECKING:
    from .electricitymaps import LiveValue
    from .geolocation import GeoAnswer

logger = logging.getLogger("carbon_magic")

LIVE_REFRESH_S = 15 * 60.0
LIVE_MAX_AGE_S = 24 * 3600.0
IDLE_CHECK_S = 60.0  # how often an idle live feed checks whether trackers run again
# Background threads first sleep this long, so that the code that started them (a tracker's
# constructor, a cell) finishes its step before they compete for the GIL: a thread holding
# the GIL can delay the cell's thread by up to the interpreter's switch interval (5 ms).
START_DELAY_S = 0.02
MEMO_SIZE = 256
THREAD_NAME = "carbon_magic-location"

# Parameters whose values (and sources) decide the answer of current().
KEY_PARAMETERS = (
    "offline", "country_iso_code", "region", "cloud_provider", "cloud_region",
    "force_carbon_intensity_g_co2e_kwh", "geolocation_endpoint", "cloud_metadata_url",
    "electricitymaps_endpoint", "electricitymaps_api_token", "country_2letter_iso_code",
    "location_timeout_secs",
)

_lock = threading.Lock()
_generation = 0  # bumped whenever a published answer changes: memo entries of older ones are stale
_epoch = 0  # bumped by reset(): threads of an older epoch publish nothing
_warned_offline_token = False
# Whether any sampler's thread runs (a window is open): live feeds keep refreshing meanwhile.
# Given by the runtime that owns the samplers (use_sampler_check).
_samplers_running: Callable[[], bool] = lambda: False  # noqa: E731


def use_sampler_check(samplers_running: Callable[[], bool]) -> None:
    """Live feeds ask ``samplers_running()`` whether a window still wants fresh intensity."""
    global _samplers_running
    _samplers_running = samplers_running


def _publish(epoch: int, change: Callable[[], None]) -> bool:
    """Apply ``change`` to the published state if ``epoch`` is current; bump the generation."""
    global _generation
    with _lock:
        if epoch != _epoch:
            return False
        change()
        _generation += 1
        return True


def _note_problem(epoch: int, where: str, error: BaseException) -> None:
    if epoch == _epoch:
        problems.note(where, error)


def _thread(target: Callable[[], None], suffix: str, epoch: int) -> threading.Thread:
    """Run ``target`` on a daemon thread; an unexpected error is counted, never raised."""

    def guarded() -> None:
        time.sleep(START_DELAY_S)
        try:
            target()
        except Exception as error:
            _note_problem(epoch, f"location service ({suffix})", error)

    thread = threading.Thread(target=guarded, name=f"{THREAD_NAME}-{suffix}", daemon=True)
    thread.start()
    return thread


# --- location resolution (geolocation, time zone, cloud) -------------------------------------


class _Resolution:
    """Background location resolution for one set of endpoints; read by current() without locks."""

    def __init__(self, geolocation_endpoint: str, metadata_url: str, timeout_s: float, epoch: int):
        self.geolocation_endpoint = geolocation_endpoint
        self.metadata_url = metadata_url
        self.timeout_s = timeout_s
        self.epoch = epoch
        self.zone_guess: Location | None = None
        self.zone_note = ""
        self.geolocated: Location | None = None
        self.geolocation_note = "IP geolocation pending"
        self.cloud: Location | None = None
        self.done = threading.Event()

    def start(self) -> None:
        _thread(self._run, "resolve", self.epoch)

    def _run(self) -> None:
        cloud = threading.Thread(target=self._detect_cloud, name=f"{THREAD_NAME}-cloud", daemon=True)
        cloud.start()
        try:
            self._geolocate()
        finally:
            cloud.join()
            self.done.set()

    def _geolocate(self) -> None:
        from . import geolocation
        from .http import FetchError, shown_url

        host = shown_url(self.geolocation_endpoint)
        cached = geolocation.cached_answer(self.geolocation_endpoint)
        if cached is not None:
            self._publish_geolocated(cached, f"IP geolocation ({host}, cached)")
            return
        self._guess_from_time_zone()
        try:
            answer = geolocation.request_answer(self.geolocation_endpoint, self.timeout_s)
        except FetchError as error:
            _note_problem(self.epoch, "IP geolocation", error)
            note = f"IP geolocation failed ({error})"
            _publish(self.epoch, lambda: setattr(self, "geolocation_note", note))
            return
        self._publish_geolocated(answer, f"IP geolocation ({host})")

    def _publish_geolocated(self, answer: GeoAnswer, how: str) -> None:
        from . import tables

        location = Location(
            country_iso_code=answer.country_iso3,
            country_name=tables.country_name(answer.country_iso3),
            region=answer.region,
            latitude=answer.latitude,
            longitude=answer.longitude,
            found_by=how,
        )

        def change() -> None:
            self.geolocated = location
            self.geolocation_note = ""

        _publish(self.epoch, change)

    def _guess_from_time_zone(self) -> None:
        from . import tables
        from .timezone_country import local_zone_name, zone_country_iso2

        try:
            zone = local_zone_name()
            iso2 = zone_country_iso2(zone) if zone else None
            iso3 = tables.normalise_country(iso2) if iso2 else None
        except (OSError, tables.UnknownLocation) as error:
            _note_problem(self.epoch, "time zone lookup", error)
            return
        if iso3 is None:
            note = f"time zone {zone} names no country" if zone else "no named system time zone"
            _publish(self.epoch, lambda: setattr(self, "zone_note", note))
            return
        guess = Location(country_iso_code=iso3, country_name=tables.country_name(iso3),
                         found_by=f"country guessed from the time zone {zone}")
        _publish(self.epoch, lambda: setattr(self, "zone_guess", guess))

    def _detect_cloud(self) -> None:
        from .cloud import detect

        try:
            found = detect(self.metadata_url, self.timeout_s)
        except Exception as error:  # a bug in a probe must not stop the resolution
            _note_problem(self.epoch, "cloud detection", error)
            found = None
        cloud = None
        if found is not None:
            cloud = location_of_cloud(found.provider, found.region, "cloud metadata") or Location(
                cloud_provider=found.provider, cloud_region=found.region,
                found_by=f"cloud metadata: {found.provider} {found.region} is not in the tables",
            )

        _publish(self.epoch, lambda: setattr(self, "cloud", cloud))

    def best(self) -> Location:
        """The best location known now (a cloud placed by the tables beats geolocation)."""
        cloud, geolocated = self.cloud, self.geolocated
        if cloud is not None and cloud.country_iso_code:
            if geolocated is not None and geolocated.country_iso_code == cloud.country_iso_code:
                return replace(cloud, latitude=geolocated.latitude, longitude=geolocated.longitude)
            return cloud
        base = geolocated or self.zone_guess
        notes = [] if geolocated is not None else [n for n in (self.geolocation_note, self.zone_note) if n]
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


# --- live intensity ----------------------------------------------------------------------------

# query key -> (monotonic time, note) of the last request: the rate limit, shared by all feeds
_last_request: dict[str, tuple[float, str]] = {}


class _LiveFeed:
    """Electricity Maps values for one zone (or "here"), refreshed every 15 minutes while wanted."""

    def __init__(self, endpoint: str, token: str, zone: str | None, timeout_s: float,
                 given: Location | None, resolution: _Resolution | None, epoch: int):
        from .http import shown_url

        self.endpoint = endpoint
        self.token = token
        self.zone = zone
        self.timeout_s = timeout_s
        self.given = given
        self.resolution = resolution
        self.epoch = epoch
        self.signal = IntensitySignal(f"electricitymaps {shown_url(endpoint)} {zone.upper() if zone else 'here'}")
        self.value: LiveValue | None = None  # the last good one
        self.note = "pending"
        self.wake = threading.Event()
        self.due = float("inf")  # monotonic time of the next refresh
        self.last_used = time.monotonic()

    def start(self) -> None:
        _thread(self._run, "live", self.epoch)

    def state(self) -> LiveState:
        value = self.value
        if value is None or not 0 <= time.time() - value.fetched_at < LIVE_MAX_AGE_S:
            return LiveState(self.signal, None, "", self.note)
        moment = f" at {value.datetime}" if value.datetime else ""
        return LiveState(self.signal, value.g_per_kwh, f"Electricity Maps zone {value.zone}{moment}",
                         f"{self.note}, last good value kept" if self.note else "")

    def touch(self) -> None:
        """Called by current(): marks the feed wanted and wakes it if a refresh is due."""
        self.last_used = now = time.monotonic()
        if now >= self.due:
            self.wake.set()

    def _wanted(self) -> bool:
        recently_used = time.monotonic() - self.last_used < LIVE_REFRESH_S
        return recently_used or _samplers_running()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            self._set(self.value, "failed unexpectedly (counted in the problems log)")
            raise

    def _loop(self) -> None:
        from . import electricitymaps
        from .intensity import CLOUD

        if self.resolution is not None:
            self.resolution.done.wait()
        while self.epoch == _epoch:
            location = self.given or (self.resolution.best() if self.resolution else Location())
            if choose_intensity(location).kind == CLOUD:
                self._set(None, "not used: the cloud region table ranks first")
                return
            query = electricitymaps.query_for(self.zone, location)
            if query is None:
                self._set(None, "unavailable: no zone (set country_2letter_iso_code)")
                return
            self._refresh(query)
            if not self._sleep_until_due():
                return

    def _refresh(self, query: dict[str, str]) -> None:
        from . import electricitymaps
        from .http import FetchError

        key = electricitymaps.query_key(self.endpoint, query)
        saved = electricitymaps.cached_value(key, LIVE_MAX_AGE_S)
        if saved is not None and time.time() - saved.fetched_at < LIVE_REFRESH_S:
            self._set(saved, "", due_in_s=LIVE_REFRESH_S - (time.time() - saved.fetched_at))
            return
        asked_at, note = _last_request.get(key, (-float("inf"), ""))
        if time.monotonic() - asked_at < LIVE_REFRESH_S:  # another feed asked: use its answer
            in_flight = note == "pending"  # look again (in the disk cache) once it has answered
            wait_s = self.timeout_s if in_flight else LIVE_REFRESH_S - (time.monotonic() - asked_at)
            self._set(self.value or saved, note, due_in_s=wait_s)
            return
        _last_request[key] = (time.monotonic(), "pending")
        try:
            value = electricitymaps.fetch_latest(self.endpoint, self.token, query, self.timeout_s)
        except FetchError as error:
            _note_problem(self.epoch, "Electricity Maps", error)
            note = f"request failed ({error})"
            _last_request[key] = (_last_request[key][0], note)
            self._set(self.value or saved, note)
            return
        electricitymaps.save_value(key, value)
        _last_request[key] = (_last_request[key][0], "")
        self._set(value, "")

    def _set(self, value: LiveValue | None, note: str, due_in_s: float | None = None) -> None:
        """Publish the last good value (or None) and a note; the next refresh is due in
        ``due_in_s`` (default LIVE_REFRESH_S)."""
        fresh = value is not None and 0 <= time.time() - value.fetched_at < LIVE_MAX_AGE_S
        due = time.monotonic() + (LIVE_REFRESH_S if due_in_s is None else due_in_s)

        def change() -> None:
            self.value = value
            self.note = note
            self.signal.g_per_kwh = value.g_per_kwh if fresh and value is not None else None
            self.due = due

        _publish(self.epoch, change)

    def _sleep_until_due(self) -> bool:
        """Sleep until a refresh is due and wanted; False when the service was reset."""
        while True:
            remaining = self.due - time.monotonic()
            if remaining <= 0 and self._wanted():
                return True
            self.wake.wait(remaining if remaining > 0 else IDLE_CHECK_S)
            self.wake.clear()
            if self.epoch != _epoch:
                return False

    def describe(self) -> str:
        state = self.state()
        if state.g_per_kwh is not None:
            return f"live intensity: {state.g_per_kwh:g} g/kWh, {state.described}" + (
                f" ({state.note})" if state.note else "")
        return f"live intensity ({self.signal.key}): {state.note}"


# --- the memo and the public API ---------------------------------------------------------------

_resolutions: dict[tuple[object, ...], _Resolution] = {}
_feeds: dict[tuple[object, ...], _LiveFeed] = {}


@dataclass(frozen=True)
class _Entry:
    generation: int
    location: Location
    intensity: Intensity
    feed: _LiveFeed | None


_memo: dict[tuple[object, ...], _Entry] = {}


def _resolution_for(config: Config) -> _Resolution:
    key = (config["geolocation_endpoint"], config["cloud_metadata_url"], config["location_timeout_secs"])
    with _lock:
        resolution = _resolutions.get(key)
        if resolution is None:
            resolution = _resolutions[key] = _Resolution(*key, _epoch)
            resolution.start()
    return resolution


def _feed_for(config: Config, given: Location | None, resolution: _Resolution | None) -> _LiveFeed:
    key = (config["electricitymaps_endpoint"], config["electricitymaps_api_token"],
           config["country_2letter_iso_code"], config["location_timeout_secs"], given, id(resolution))
    with _lock:
        feed = _feeds.get(key)
        if feed is None:
            feed = _feeds[key] = _LiveFeed(*key[:4], given, resolution, _epoch)
            feed.start()
    return feed


def _warn_offline_token(config: Config) -> None:
    global _warned_offline_token
    if config["electricitymaps_api_token"] and not _warned_offline_token:
        _warned_offline_token = True
        logger.warning(
            "carbon_magic: electricitymaps_api_token is not used in offline mode (offline=True or "
            "country_iso_code set): offline mode opens no network connection. For live intensity, "
            "use country_2letter_iso_code (an Electricity Maps zone) instead of country_iso_code."
        )


def _compute(config: Config, key: tuple[object, ...]) -> _Entry:
    generation = _generation  # read first: a result published meanwhile makes this entry stale
    given = parameter_location(config)
    feed = None
    if offline_mode(config):
        _warn_offline_token(config)
        location = given if given is not None else Location(found_by="offline mode and no location parameter")
    else:
        resolution = None
        if given is None:
            resolution = _resolution_for(config)
            location = resolution.best()
        else:
            location = given
        if config["electricitymaps_api_token"] and config["force_carbon_intensity_g_co2e_kwh"] is None:
            feed = _feed_for(config, given, resolution)
    intensity = choose_intensity(
        location,
        forced_g_per_kwh=config["force_carbon_intensity_g_co2e_kwh"],
        forced_from=config.source("force_carbon_intensity_g_co2e_kwh"),
        live=feed.state() if feed is not None else None,
    )
    entry = _Entry(generation, location, intensity, feed)
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()
    _memo[key] = entry
    return entry


def current(config: Config) -> tuple[Location, Intensity]:
    """The best (Location, Intensity) for ``config`` known now; microseconds, no I/O.

    The first call for a config validates its location parameters (ConfigError) and starts
    the background resolution it needs.
    """
    key = config.values_and_sources(KEY_PARAMETERS)
    entry = _memo.get(key)
    if entry is None or entry.generation != _generation:
        entry = _compute(config, key)
    if entry.feed is not None:
        entry.feed.touch()
    return entry.location, entry.intensity


def start_background_resolution(config: Config) -> None:
    """Start resolving ``config``'s location and intensity in the background; returns at once.

    Called when a tracker is created and when the IPython extension loads. Offline mode
    starts nothing. Raises ConfigError for bad location parameters.
    """
    current(config)


def status() -> list[str]:
    """What each background resolution found or is waiting for, in words."""
    return [r.describe() for r in list(_resolutions.values())] + [f.describe() for f in list(_feeds.values())]


def wait_resolved(timeout_s: float) -> bool:
    """Wait until every started location resolution is done and every live feed has tried once.

    For scripts and tests: never call this on a cell's path. True if all finished in time.
    """
    return _wait(list(_resolutions.values()), list(_feeds.values()), time.monotonic() + timeout_s)


def wait_for(config: Config, timeout_s: float) -> bool:
    """Wait at most ``timeout_s`` until ``config``'s location resolution is done and its live
    feed has tried once (nothing to wait for offline or with location parameters).

    For a script's ``stop()``: never call this on a cell's path. True if all finished in time.
    """
    current(config)  # starts what config needs, if nothing did yet
    entry = _memo.get(config.values_and_sources(KEY_PARAMETERS))
    resolving = not offline_mode(config) and parameter_location(config) is None
    resolutions = [_resolution_for(config)] if resolving else []
    feeds = [entry.feed] if entry is not None and entry.feed is not None else []
    return _wait(resolutions, feeds, time.monotonic() + timeout_s)


def _wait(resolutions: list[_Resolution], feeds: list[_LiveFeed], deadline: float) -> bool:
    for resolution in resolutions:
        if not resolution.done.wait(max(deadline - time.monotonic(), 0.0)):
            return False
    for feed in feeds:
        while feed.note == "pending":
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
    return True


def reset() -> None:
    """Forget every resolution, feed and memo; threads still running publish nothing."""
    global _epoch, _generation, _warned_offline_token
    with _lock:
        _epoch += 1
        _generation += 1
        feeds = list(_feeds.values())
        _resolutions.clear()
        _feeds.clear()
        _memo.clear()
        _last_request.clear()
        _warned_offline_token = False
    for feed in feeds:
        feed.wake.set()


def _after_fork_in_child() -> None:
    """Threads do not survive fork: keep finished locations, restart the rest on demand."""
    global _lock, _generation
    _lock = threading.Lock()
    for key, resolution in list(_resolutions.items()):
        if not resolution.done.is_set():
            del _resolutions[key]
    _feeds.clear()
    _memo.clear()
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
