"""Wall-clock timestamps for monotonic instants, with clock jumps noted.

Durations use the monotonic clock and stay right; timestamps follow the wall clock. The wall
clock moving CLOCK_JUMP_S more (or less) than the monotonic clock between two readings was
set (an NTP step, a user) or the machine slept: the jump is noted so that a user can tell why.
"""

from __future__ import annotations

import time

from ..problems import problems

CLOCK_JUMP_S = 60.0


class ClockJump(Exception):
    """The wall clock jumped against the monotonic clock (see CLOCK_JUMP_S)."""


class WallClock:
    """Stamps monotonic instants with the wall-clock time, noting jumps between stamps."""

    def __init__(self, now_mono: float):
        self._wall_minus_mono = time.time() - now_mono

    def stamp(self, now_mono: float) -> float:
        """The wall-clock time now (``now_mono``: the monotonic time now)."""
        t_wall = time.time()
        wall_minus_mono = t_wall - now_mono
        jump_s = wall_minus_mono - self._wall_minus_mono
        if abs(jump_s) > CLOCK_JUMP_S:
            problems.note("wall clock", ClockJump(
                f"the wall clock moved {jump_s:+.0f} s against the monotonic clock (clock set, or the "
                "machine slept); durations use the monotonic clock, timestamps the wall clock"))
        self._wall_minus_mono = wall_minus_mono
        return t_wall
