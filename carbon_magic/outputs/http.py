"""``emissions_endpoint``: a POST of a run's totals as JSON at every flush() and stop().

The body is CodeCarbon's: the 38 record fields plus ``user`` (the login name). Any 2xx
answer is success. A failed post is retried with backoff; a newer total of the same run
replaces one still waiting (totals are cumulative). After the last retry, what still waits
is dropped with a counted warning; so is the oldest when more than ``MAX_HELD_RUNS`` runs wait.
"""

from __future__ import annotations

import functools
import getpass
from collections import OrderedDict
from typing import Any, Iterable

from ..core.http_transport import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, DeliveryError, post_json, safe_url, url_secrets
from ..core.problems import problems
from ..core.record import EmissionsData
from .delivery import RETRY_DELAYS_S, RetryingOutput

MAX_HELD_RUNS = 100


class TotalDropped(Exception):
    """A run's totals the endpoint did not take in time, dropped."""


@functools.cache
def login_name() -> str:
    """The user name CodeCarbon adds to the payload ('' where there is none)."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no LOGNAME/USER (containers)
        return ""


def totals_payload(total: EmissionsData) -> dict[str, Any]:
    """The body of the POST: the record's CodeCarbon fields and ``user``."""
    return {**total.as_dict(), "user": login_name()}


class HTTPOutput(RetryingOutput):
    """POSTs each run's totals to ``endpoint_url`` (see the module doc)."""

    lane = "http"
    where = "output http"

    def __init__(
        self,
        endpoint_url: str,
        *,
        retry_delays_s: Iterable[float] = RETRY_DELAYS_S,
        timeout_s: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
    ):
        super().__init__(retry_delays_s)
        self.endpoint_url = endpoint_url
        self.timeout_s = timeout_s
        self._held: OrderedDict[str, EmissionsData] = OrderedDict()

    def __repr__(self) -> str:
        return f"HTTPOutput(endpoint_url={safe_url(self.endpoint_url)!r})"

    def _secrets(self) -> tuple[str | None, ...]:
        return url_secrets(self.endpoint_url)

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        held = self._held.get(total.run_id)
        if held is not None and total.duration <= held.duration:
            return
        self._held[total.run_id] = total
        if len(self._held) > MAX_HELD_RUNS:
            self._drop(next(iter(self._held)), f"more than {MAX_HELD_RUNS} runs waiting")
        self._send()

    def _deliver_some(self) -> bool:
        if not self._held:
            return False
        run_id, total = next(iter(self._held.items()))
        post_json(self.endpoint_url, totals_payload(total), expected=range(200, 300),
                  secrets=self._secrets(), timeout_s=self.timeout_s)
        if self._held.get(run_id) is total:
            del self._held[run_id]
        return bool(self._held)

    def _give_up(self, error: DeliveryError) -> None:
        for run_id in list(self._held):
            self._drop(run_id, f"still failing after {len(self.retry_delays_s)} retries")

    def _drop(self, run_id: str, reason: str) -> None:
        del self._held[run_id]
        problems.note(self.where, TotalDropped(f"totals of run {run_id} not sent: {reason}"))
