"""The location service: where this process runs and how carbon-intensive its electricity
is, resolved in the background and read in microseconds.

One LocationService per runtime (``carbon_magic.runtime``); trackers receive it. Closing it
stops its work: its threads still running publish nothing, and a new runtime starts afresh.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from ..config import Config
from ..params import affecting
from .board import Board
from .intensity import Intensity, Location, choose_intensity
from .live import FeedKey, LiveFeed, RequestLog
from .parameters import offline_mode, parameter_location
from .resolution import Resolution, ResolutionKey

logger = logging.getLogger("carbon_magic")

MEMO_SIZE = 256

# Parameters whose values (and sources) decide the answer of current(): the table's.
KEY_PARAMETERS = affecting("location")


@dataclass(frozen=True)
class _Entry:
    generation: int
    location: Location
    intensity: Intensity
    feed: LiveFeed | None


class LocationService:
    """Resolutions, live feeds and the memo of ``current()``, for one runtime.

    ``samplers_running`` says whether any sampler is running (an idle live feed refreshes
    only while one does, or while records are built).
    """

    def __init__(self, samplers_running: Callable[[], bool]):
        self._samplers_running = samplers_running
        self._board = Board()
        self._resolutions: dict[ResolutionKey, Resolution] = {}
        self._feeds: dict[FeedKey, LiveFeed] = {}
        self._memo: dict[tuple[object, ...], _Entry] = {}
        self._requests: RequestLog = {}
        self._warned_offline_token = False

    # -- reading, on a cell's path ------------------------------------------------------------
    def current(self, config: Config) -> tuple[Location, Intensity]:
        """The best (Location, Intensity) for ``config`` known now; microseconds, no I/O.

        The first call for a config validates its location parameters (ConfigError) and
        starts the background resolution it needs.
        """
        key = config.values_and_sources(KEY_PARAMETERS)
        entry = self._memo.get(key)
        if entry is None or entry.generation != self._board.generation:
            entry = self._compute(config, key)
        if entry.feed is not None:
            entry.feed.touch()
        return entry.location, entry.intensity

    def start_background_resolution(self, config: Config) -> None:
        """Start resolving ``config``'s location and intensity in the background; returns at once.

        Called when a tracker is created and when the IPython extension loads. Offline mode
        starts nothing. Raises ConfigError for bad location parameters.
        """
        self.current(config)

    def status(self) -> list[str]:
        """What each background resolution found or is waiting for, in words."""
        return ([r.describe() for r in list(self._resolutions.values())]
                + [f.describe() for f in list(self._feeds.values())])

    # -- waiting, for scripts and tests (never on a cell's path) ------------------------------
    def wait_resolved(self, timeout_s: float) -> bool:
        """Wait until every started location resolution is done and every live feed has tried
        once. True if all finished in time."""
        return _wait(list(self._resolutions.values()), list(self._feeds.values()), time.monotonic() + timeout_s)

    def wait_for(self, config: Config, timeout_s: float) -> bool:
        """Wait at most ``timeout_s`` until ``config``'s location resolution is done and its live
        feed has tried once (nothing to wait for offline or with location parameters). For a
        script's ``stop()``. True if all finished in time."""
        self.current(config)  # starts what config needs, if nothing did yet
        entry = self._memo.get(config.values_and_sources(KEY_PARAMETERS))
        resolving = not offline_mode(config) and parameter_location(config) is None
        resolutions = [self._resolution_for(config)] if resolving else []
        feeds = [entry.feed] if entry is not None and entry.feed is not None else []
        return _wait(resolutions, feeds, time.monotonic() + timeout_s)

    # -- life cycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop: threads still running publish nothing, sleeping live feeds end."""
        self._board.close()
        for feed in list(self._feeds.values()):
            feed.wake.set()

    def after_fork_in_child(self) -> None:
        """Threads do not survive fork: keep finished locations, restart the rest on demand."""
        self._board.after_fork_in_child()
        for key, resolution in list(self._resolutions.items()):
            if not resolution.done.is_set():
                del self._resolutions[key]
        self._feeds.clear()
        self._memo.clear()

    # -- inside ----------------------------------------------------------------------------------
    def _resolution_for(self, config: Config) -> Resolution:
        key = ResolutionKey(config["geolocation_endpoint"], config["cloud_metadata_url"],
                            config["location_timeout_secs"])
        with self._board.lock:
            resolution = self._resolutions.get(key)
            if resolution is None:
                resolution = self._resolutions[key] = Resolution(key, self._board)
                resolution.start()
        return resolution

    def _feed_for(self, config: Config, given: Location | None, resolution: Resolution | None) -> LiveFeed:
        key = FeedKey(config["electricitymaps_endpoint"], config["electricitymaps_api_token"],
                      config["country_2letter_iso_code"], config["location_timeout_secs"], given,
                      resolution.key if resolution is not None else None)
        with self._board.lock:
            feed = self._feeds.get(key)
            if feed is None:
                feed = self._feeds[key] = LiveFeed(key, resolution, self._board, self._requests,
                                                   self._samplers_running)
                feed.start()
        return feed

    def _warn_offline_token(self, config: Config) -> None:
        if config["electricitymaps_api_token"] and not self._warned_offline_token:
            self._warned_offline_token = True
            logger.warning(
                "carbon_magic: electricitymaps_api_token is not used in offline mode (offline=True or "
                "country_iso_code set): offline mode opens no network connection. For live intensity, "
                "use country_2letter_iso_code (an Electricity Maps zone) instead of country_iso_code."
            )

    def _compute(self, config: Config, key: tuple[object, ...]) -> _Entry:
        generation = self._board.generation  # read first: a result published meanwhile makes this entry stale
        given = parameter_location(config)
        feed = None
        if offline_mode(config):
            self._warn_offline_token(config)
            location = given if given is not None else Location(found_by="offline mode and no location parameter")
        else:
            resolution = None
            if given is None:
                resolution = self._resolution_for(config)
                location = resolution.best()
            else:
                location = given
            if config["electricitymaps_api_token"] and config["force_carbon_intensity_g_co2e_kwh"] is None:
                feed = self._feed_for(config, given, resolution)
        intensity = choose_intensity(
            location,
            forced_g_per_kwh=config["force_carbon_intensity_g_co2e_kwh"],
            forced_from=config.source("force_carbon_intensity_g_co2e_kwh"),
            live=feed.live_state() if feed is not None else None,
        )
        entry = _Entry(generation, location, intensity, feed)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = entry
        return entry


def _wait(resolutions: list[Resolution], feeds: list[LiveFeed], deadline: float) -> bool:
    for resolution in resolutions:
        if not resolution.done.wait(max(deadline - time.monotonic(), 0.0)):
            return False
    for feed in feeds:
        while feed.state.note == "pending":
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
    return True
