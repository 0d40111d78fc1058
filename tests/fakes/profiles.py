"""Known power profiles: power in watts as a function of monotonic time, with exact integrals."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Constant:
    power_w: float

    def power(self, t: float) -> float:
        return self.power_w

    def energy_j(self, t0: float, t1: float) -> float:
        return self.power_w * (t1 - t0)


@dataclass(frozen=True)
class Step:
    """``before_w`` until ``at`` (monotonic seconds), then ``after_w``."""

    before_w: float
    after_w: float
    at: float

    def power(self, t: float) -> float:
        return self.before_w if t < self.at else self.after_w

    def energy_j(self, t0: float, t1: float) -> float:
        if t1 <= self.at:
            return self.before_w * (t1 - t0)
        if t0 >= self.at:
            return self.after_w * (t1 - t0)
        return self.before_w * (self.at - t0) + self.after_w * (t1 - self.at)


@dataclass(frozen=True)
class Square:
    """Alternates ``high_w`` and ``low_w`` every ``half_period_s`` from ``origin``."""

    high_w: float
    low_w: float
    half_period_s: float
    origin: float = 0.0

    def power(self, t: float) -> float:
        return self.high_w if int((t - self.origin) // self.half_period_s) % 2 == 0 else self.low_w

    def _cumulative(self, t: float) -> float:
        x = t - self.origin
        periods, rest = divmod(x, 2 * self.half_period_s)
        whole = periods * (self.high_w + self.low_w) * self.half_period_s
        if rest <= self.half_period_s:
            return whole + self.high_w * rest
        return whole + self.high_w * self.half_period_s + self.low_w * (rest - self.half_period_s)

    def energy_j(self, t0: float, t1: float) -> float:
        return self._cumulative(t1) - self._cumulative(t0)
