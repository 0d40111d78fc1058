"""Live grid intensity for one zone (or "here"), from Electricity Maps, refreshed every 15
minutes while trackers run or records are built. A failed request keeps the last good value
(up to a day old), then the tables apply. At most one request per zone per 15 minutes: the
disk cache is shared across processes, the request log across a service's feeds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .board import Board
from .intensity import CLOUD, IntensitySignal, LiveState, Location, choose_intensity
from .resolution import Resolution, ResolutionKey

if TYPE_CHECKING:
    from .electricitymaps import LiveValue

LIVE_REFRESH_S = 15 * 60.0
LIVE_MAX_AGE_S = 24 * 3600.0
IDLE_CHECK_S = 60.0  # how often an idle live feed checks whether trackers run again

# query key -> (monotonic time, note) of the last request: the rate limit of a service's feeds
RequestLog = dict[str, tuple[float, str]]


@dataclass(frozen=True)
class FeedKey:
    """The parameters a live feed depends on (one feed per distinct key)."""

    endpoint: str
    token: str = field(repr=False)
    zone: str | None
    timeout_s: float
    given: Location | None  # the location parameters' answer, else None: the resolution's
    resolution: ResolutionKey | None


@dataclass(frozen=True)
class FeedState:
    """What a feed has published (replaced whole): the last good value, a note, the next refresh."""

    value: LiveValue | None = None
    note: str = "pending"
    due: float = float("inf")  # monotonic time


class LiveFeed:
    """Electricity Maps values for one FeedKey, refreshed every 15 minutes while wanted."""

    def __init__(self, key: FeedKey, resolution: Resolution | None, board: Board, requests: RequestLog,
                 samplers_running: Callable[[], bool]):
        from ..http import shown_url

        self.key = key
        self.resolution = resolution
        self._board = board
        self._requests = requests
        self._samplers_running = samplers_running
        zone = key.zone.upper() if key.zone else "here"
        self.signal = IntensitySignal(f"electricitymaps {shown_url(key.endpoint)} {zone}")
        self.state = FeedState()
        self.wake = threading.Event()
        self.last_used = time.monotonic()

    def start(self) -> None:
        self._board.start_thread(self._run, "live")

    def live_state(self) -> LiveState:
        state = self.state
        value = state.value
        if value is None or not 0 <= time.time() - value.fetched_at < LIVE_MAX_AGE_S:
            return LiveState(self.signal, None, "", state.note)
        moment = f" at {value.datetime}" if value.datetime else ""
        return LiveState(self.signal, value.g_per_kwh, f"Electricity Maps zone {value.zone}{moment}",
                         f"{state.note}, last good value kept" if state.note else "")

    def touch(self) -> None:
        """Called by current(): marks the feed wanted and wakes it if a refresh is due."""
        self.last_used = now = time.monotonic()
        if now >= self.state.due:
            self.wake.set()

    def _wanted(self) -> bool:
        recently_used = time.monotonic() - self.last_used < LIVE_REFRESH_S
        return recently_used or self._samplers_running()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            self._set(self.state.value, "failed unexpectedly (counted in the problems log)")
            raise

    def _loop(self) -> None:
        from . import electricitymaps

        if self.resolution is not None:
            self.resolution.done.wait()
        while not self._board.closed:
            location = self.key.given or (self.resolution.best() if self.resolution else Location())
            if choose_intensity(location).kind == CLOUD:
                self._set(None, "not used: the cloud region table ranks first")
                return
            query = electricitymaps.query_for(self.key.zone, location)
            if query is None:
                self._set(None, "unavailable: no zone (set country_2letter_iso_code)")
                return
            self._refresh(query)
            if not self._sleep_until_due():
                return

    def _refresh(self, query: dict[str, str]) -> None:
        from ..http import FetchError
        from . import electricitymaps

        endpoint, requests = self.key.endpoint, self._requests
        key = electricitymaps.query_key(endpoint, query)
        saved = electricitymaps.cached_value(key, LIVE_MAX_AGE_S)
        if saved is not None and time.time() - saved.fetched_at < LIVE_REFRESH_S:
            self._set(saved, "", due_in_s=LIVE_REFRESH_S - (time.time() - saved.fetched_at))
            return
        asked_at, note = requests.get(key, (-float("inf"), ""))
        if time.monotonic() - asked_at < LIVE_REFRESH_S:  # another feed asked: use its answer
            in_flight = note == "pending"  # look again (in the disk cache) once it has answered
            wait_s = self.key.timeout_s if in_flight else LIVE_REFRESH_S - (time.monotonic() - asked_at)
            self._set(self.state.value or saved, note, due_in_s=wait_s)
            return
        requests[key] = (time.monotonic(), "pending")
        try:
            value = electricitymaps.fetch_latest(endpoint, self.key.token, query, self.key.timeout_s)
        except FetchError as error:
            self._board.note_problem("Electricity Maps", error)
            note = f"request failed ({error})"
            requests[key] = (requests[key][0], note)
            self._set(self.state.value or saved, note)
            return
        electricitymaps.save_value(key, value)
        requests[key] = (requests[key][0], "")
        self._set(value, "")

    def _set(self, value: LiveValue | None, note: str, due_in_s: float | None = None) -> None:
        """Publish the last good value (or None) and a note; the next refresh is due in
        ``due_in_s`` (default LIVE_REFRESH_S)."""
        fresh = value is not None and 0 <= time.time() - value.fetched_at < LIVE_MAX_AGE_S
        due = time.monotonic() + (LIVE_REFRESH_S if due_in_s is None else due_in_s)
        with self._board.changing() as open_:
            if open_:
                self.state = FeedState(value, note, due)
                self.signal.g_per_kwh = value.g_per_kwh if fresh and value is not None else None

    def _sleep_until_due(self) -> bool:
        """Sleep until a refresh is due and wanted; False when the service was closed."""
        while True:
            remaining = self.state.due - time.monotonic()
            if remaining <= 0 and self._wanted():
                return True
            self.wake.wait(remaining if remaining > 0 else IDLE_CHECK_S)
            self.wake.clear()
            if self._board.closed:
                return False

    def describe(self) -> str:
        state = self.live_state()
        if state.g_per_kwh is not None:
            return f"live intensity: {state.g_per_kwh:g} g/kWh, {state.described}" + (
                f" ({state.note})" if state.note else "")
        return f"live intensity ({self.signal.key}): {state.note}"
