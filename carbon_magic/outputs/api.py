"""The CodeCarbon API output: a run, then the emissions added since the last successful post.

As CodeCarbon's: ``POST {api_endpoint}/runs`` once per run (``experiment_id`` and the
machine; the answer's ``id`` is the API's run id), then ``POST {api_endpoint}/emissions``
with the delta since the last successful post, every ``api_call_interval`` measurements
(live ticks) and at every flush() and stop(); ``api_call_interval=-1``: flush() and stop()
only. ``api_key`` goes in the ``x-api-token`` header; 201 is the expected answer. A tracker
started again is a new run here too.

While the API is down nothing is lost: each send that fails is retried with backoff, and
the totals that arrive meanwhile are held; what a run added since its last successful post
is one merged delta, sent when the API answers again. At most ``max_pending_deltas`` are
held; beyond that the oldest is dropped, with a counted warning. Whatever still waits at
interpreter exit gets one last try.

The API's EmissionCreate schema is CodeCarbon's and has no platform field, so, as in
``emissions.csv``: ``energy_consumed`` (and ``emissions_sum``) include the modelled platform
(board, fans, disks, power supply losses) while ``cpu_*``, ``gpu_*`` and ``ram_*`` do not:
``energy_consumed = cpu_energy + gpu_energy + ram_energy + platform energy``, the platform's
energy being the difference, and ``cpu_power + gpu_power + ram_power`` leaves the platform's
average power out. With ``count_platform=False`` there is no platform: ``energy_consumed`` is
``cpu_energy + gpu_energy + ram_energy``, CodeCarbon's figure.
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict, deque
from datetime import datetime
from typing import Any, Iterable

from ..core import record
from ..core.http_transport import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, DeliveryError, post_json, safe_url, url_secrets
from ..core.problems import problems
from ..core.record import EmissionsData
from .delivery import RETRY_DELAYS_S, RetryingOutput

MAX_PENDING_DELTAS = 1000
KEEP_API_RUNS = 64


class DeltaDropped(Exception):
    """A delta the API could not take in time, dropped to keep the backlog bounded."""


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat()


def _rounded(degrees: float | None) -> float | None:
    """Coordinates to 0.1 degree, as CodeCarbon sends them (privacy)."""
    return None if degrees is None else round(degrees, 1)


def run_payload(total: EmissionsData, experiment_id: str) -> dict[str, Any]:
    """CodeCarbon's RunCreate: the body of ``POST /runs``."""
    return {
        "timestamp": _now_iso(),
        "experiment_id": experiment_id,
        "os": total.os,
        "python_version": total.python_version,
        "codecarbon_version": total.codecarbon_version,
        "cpu_count": total.cpu_count,
        "cpu_model": total.cpu_model,
        "gpu_count": total.gpu_count,
        "gpu_model": total.gpu_model,
        "longitude": _rounded(total.longitude),
        "latitude": _rounded(total.latitude),
        "region": total.region,
        "provider": total.cloud_provider,
        "ram_total_size": total.ram_total_size,
        "tracking_mode": total.tracking_mode,
    }


def emission_payload(part: EmissionsData, api_run_id: str) -> dict[str, Any]:
    """CodeCarbon's EmissionCreate: the body of ``POST /emissions`` for a delta.

    The API takes whole seconds: the duration is rounded, and at least 1.
    """
    return {
        "timestamp": _now_iso(),
        "run_id": api_run_id,
        "duration": max(1, int(round(part.duration))),
        "emissions_sum": part.emissions,
        "emissions_rate": part.emissions_rate,
        "cpu_power": part.cpu_power,
        "gpu_power": part.gpu_power,
        "ram_power": part.ram_power,
        "cpu_energy": part.cpu_energy,
        "gpu_energy": part.gpu_energy,
        "ram_energy": part.ram_energy,
        "energy_consumed": part.energy_consumed,
        "cpu_utilization_percent": part.cpu_utilization_percent,
        "gpu_utilization_percent": part.gpu_utilization_percent,
        "ram_utilization_percent": part.ram_utilization_percent,
        "wue": part.wue,
    }


class PendingDeltas:
    """Totals not posted yet, oldest first; per run, the newest held and the last posted.

    A run's unposted part is ``delta(newest held total, last posted total)``: deltas held
    while the API is down merge into one. Holding more than ``bound`` drops the oldest (its
    part of the run is then never posted). ``add`` is O(1): it runs at every out() and
    every ``api_call_interval`` live ticks.
    """

    def __init__(self, bound: int = MAX_PENDING_DELTAS):
        self.bound = bound
        self._totals: deque[EmissionsData] = deque()
        self._held: Counter[str] = Counter()
        self._newest: dict[str, EmissionsData] = {}
        self._posted: OrderedDict[str, EmissionsData] = OrderedDict()

    def __len__(self) -> int:
        return len(self._totals)

    def add(self, total: EmissionsData) -> bool:
        """Hold ``total`` (ignored if not newer than one held or posted for its run);
        True if that dropped the oldest held delta."""
        run_id = total.run_id
        newest = self._newest.get(run_id) or self._posted.get(run_id)
        if newest is not None and total.duration <= newest.duration:
            return False
        self._totals.append(total)
        self._held[run_id] += 1
        self._newest[run_id] = total
        if len(self._totals) <= self.bound:
            return False
        oldest = self._totals.popleft()
        self._release(oldest.run_id, 1)
        self._mark_posted(oldest)
        return True

    def next_batch(self) -> tuple[EmissionsData, EmissionsData | None] | None:
        """(newest held total, last posted total) of the run waiting longest, or None."""
        if not self._totals:
            return None
        run_id = self._totals[0].run_id
        return self._newest[run_id], self._posted.get(run_id)

    def posted(self, total: EmissionsData) -> None:
        """``total`` reached the API: what it covers is no longer held."""
        kept = deque(t for t in self._totals if t.run_id != total.run_id or t.duration > total.duration)
        self._release(total.run_id, len(self._totals) - len(kept))
        self._totals = kept
        self._mark_posted(total)

    def _release(self, run_id: str, count: int) -> None:
        self._held[run_id] -= count
        if self._held[run_id] <= 0:
            del self._held[run_id]
            del self._newest[run_id]

    def _mark_posted(self, total: EmissionsData) -> None:
        """Remember what a run last posted; forget the oldest runs that hold nothing."""
        self._posted[total.run_id] = total
        self._posted.move_to_end(total.run_id)
        if len(self._posted) > KEEP_API_RUNS:
            for run_id in [r for r in self._posted if r not in self._held][: len(self._posted) - KEEP_API_RUNS]:
                del self._posted[run_id]


class CodeCarbonAPIOutput(RetryingOutput):
    """Sends runs and emission deltas to the CodeCarbon API (see the module doc)."""

    lane = "api"
    where = "output api"

    def __init__(
        self,
        endpoint_url: str,
        experiment_id: str,
        api_key: str | None = None,
        api_call_interval: int = 8,
        *,
        max_pending_deltas: int = MAX_PENDING_DELTAS,
        retry_delays_s: Iterable[float] = RETRY_DELAYS_S,
        timeout_s: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
    ):
        super().__init__(retry_delays_s)
        self.endpoint_url = endpoint_url.rstrip("/")
        self.experiment_id = experiment_id
        self._api_key = api_key
        self.api_call_interval = api_call_interval
        self.wants_live = api_call_interval != -1
        self.timeout_s = timeout_s
        self._pending = PendingDeltas(max_pending_deltas)
        self._api_runs: OrderedDict[str, str] = OrderedDict()
        self._measured_run: str | None = None
        self._measurements = 0

    def __repr__(self) -> str:
        key = "'***'" if self._api_key else "None"
        return (f"CodeCarbonAPIOutput(endpoint_url={safe_url(self.endpoint_url)!r}, "
                f"experiment_id={self.experiment_id!r}, api_key={key}, "
                f"api_call_interval={self.api_call_interval})")

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._api_key, *url_secrets(self.endpoint_url))

    # -- calls from the tracker (on the api lane) -------------------------------------------
    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._measurements = 0
        self._hold(total)

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        if total.run_id != self._measured_run:
            self._measured_run, self._measurements = total.run_id, 0
        self._measurements += 1
        if self._measurements >= self.api_call_interval:
            self._measurements = 0
            self._hold(total)

    def _hold(self, total: EmissionsData) -> None:
        if self._pending.add(total):
            problems.note(self.where, DeltaDropped(
                f"more than {self._pending.bound} deltas waiting for the API; the oldest was dropped"))
        self._send()

    # -- delivery -------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["x-api-token"] = self._api_key
        return headers

    def _post(self, path: str, payload: dict[str, Any]) -> str:
        return post_json(self.endpoint_url + path, payload, headers=self._headers(),
                         secrets=self._secrets(), timeout_s=self.timeout_s)

    def _api_run(self, total: EmissionsData) -> str:
        """The API's id of ``total``'s run, created on first use."""
        api_run = self._api_runs.get(total.run_id)
        if api_run is None:
            body = self._post("/runs", run_payload(total, self.experiment_id))
            try:
                api_run = json.loads(body)["id"]
            except (ValueError, TypeError, KeyError):
                api_run = None
            if not isinstance(api_run, str) or not api_run:
                raise DeliveryError(f"POST {safe_url(self.endpoint_url)}/runs: the answer has no run id")
            self._api_runs[total.run_id] = api_run
            while len(self._api_runs) > KEEP_API_RUNS:
                self._api_runs.popitem(last=False)
        return api_run

    def _deliver_some(self) -> bool:
        batch = self._pending.next_batch()
        if batch is None:
            return False
        newest, posted = batch
        part = record.delta(newest, posted)
        if part.duration > 0:
            self._post("/emissions", emission_payload(part, self._api_run(newest)))
        self._pending.posted(newest)
        return bool(self._pending)

    def _give_up(self, error: DeliveryError) -> None:
        """Keep the deltas: the next send (interval, flush, stop) or the exit (one last try)
        takes them."""
        if self._pending:
            self.services.lanes.on_exit(self._send, lane_name=self.lane, key=("api last try", id(self)))
