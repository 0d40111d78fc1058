"""Delivery for the network outputs: tried on their own lane, retried on a schedule.

A network output notes new data, then calls ``_send()`` on its lane. If a retry is already
scheduled, the new data waits for it (so a destination that is down gets at most one
request per backoff delay, and the lane is never held by ``sleep``). Failures are counted
and logged once in ``core.problems``; after the last retry the output's ``_give_up`` rule
decides what happens to what is still waiting (kept for the next send, or dropped).
"""

from __future__ import annotations

from typing import Iterable

from ..core.http_transport import DeliveryError, scrub
from ..core.problems import problems
from .base import BaseOutput

RETRY_DELAYS_S = (1.0, 2.0, 4.0)


class RetryingOutput(BaseOutput):
    """Base of the network outputs; subclasses implement ``_deliver_some`` and ``_give_up``.

    Every method runs on the output's lane (one thread), so no locking is needed here.
    ``supersedes``: a newer out()/live_out() for a run carries everything an older queued
    one did (totals are cumulative), so the Dispatcher lets the lane merge them.
    """

    supersedes = True
    where = "output"

    def __init__(self, retry_delays_s: Iterable[float] = RETRY_DELAYS_S):
        self.retry_delays_s = tuple(retry_delays_s)
        self._failures = 0
        self._retry_scheduled = False

    def _deliver_some(self) -> bool:
        """Send what waits (or a part); True if more waits. Raise DeliveryError on failure."""
        raise NotImplementedError

    def _give_up(self, error: DeliveryError) -> None:
        """The retries are used up: keep or drop what still waits."""
        raise NotImplementedError

    def _secrets(self) -> tuple[str | None, ...]:
        """Values that must never appear in a message (API keys, passwords)."""
        return ()

    def _send(self) -> None:
        """Try now, unless a scheduled retry will carry the new data."""
        if not self._retry_scheduled:
            self._attempt()

    def _attempt(self) -> None:
        try:
            more = self._deliver_some()
        except Exception as error:
            failure = error if isinstance(error, DeliveryError) else DeliveryError(
                scrub(f"{type(error).__name__}: {error}", self._secrets())[:300])
            self._failed(failure)
            return
        self._failures = 0
        if more:
            self.services.lanes.lane(self.lane).submit(self.where, self._send, key=(id(self), "more"))

    def _failed(self, error: DeliveryError) -> None:
        problems.note(self.where, error)
        if self._failures < len(self.retry_delays_s):
            delay_s = self.retry_delays_s[self._failures]
            self._failures += 1
            self._retry_scheduled = True
            self.services.lanes.lane(self.lane).submit_after(delay_s, self.where, self._retry)
        else:
            self._failures = 0
            self._give_up(error)

    def _retry(self) -> None:
        self._retry_scheduled = False
        self._attempt()
