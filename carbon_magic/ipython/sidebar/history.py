"""What the sidebar shows of one kernel, kept up to date by the Session's listener calls.

Totals are the running sums of ``totals.RunningTotals`` (finished cells and statements, not
spans; O(1) per record) plus the figures so far of the windows still running: after cells
finish, they equal the sums of ``%carbon report``'s rows that are not spans.

Everything kept is bounded: the last MAX_CELLS records, the windows running now, and a power
trail of SPARK_POINTS averages over SPARK_STEP_S each. Listener calls come from the kernel's
main thread and the GPU poller thread; ``state`` from any thread (the sampler's). One lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Mapping

from ...core.problems import problems
from ..panel.presentation import CO2, ENERGY, WATER
from ..records import FOOTPRINT_FROM_DATA
from ..totals import FOOTPRINT_SUMS, RunningTotals, counted
from . import protocol

if TYPE_CHECKING:
    from ...core.record import EmissionsData
    from ..records import CellRecord, TrackedWindow

SPARK_POINTS = 60
SPARK_STEP_S = 2.0


class PowerTrail:
    """Average total power over consecutive SPARK_STEP_S steps, the last SPARK_POINTS of them."""

    def __init__(self, points: int = SPARK_POINTS, step_s: float = SPARK_STEP_S):
        self.step_s = step_s
        self.points: deque[float] = deque(maxlen=points)
        self._step_start: float | None = None
        self._sum_w = 0.0
        self._samples = 0

    def add(self, t_mono: float, power_w: float) -> None:
        if self._step_start is None:
            self._step_start = t_mono
        elif t_mono - self._step_start >= self.step_s:
            if self._samples:
                self.points.append(self._sum_w / self._samples)
            self._step_start, self._sum_w, self._samples = t_mono, 0.0, 0
        self._sum_w += power_w
        self._samples += 1


class KernelHistory:
    """Totals, running windows, last cells and power trail of one kernel (module docstring)."""

    def __init__(self, max_cells: int = protocol.MAX_CELLS):
        self._lock = threading.Lock()
        self.totals = RunningTotals()
        self._cells: deque["CellRecord"] = deque(maxlen=max_cells)
        self._running: dict[str, "TrackedWindow"] = {}  # run_id -> window
        self._power_w: Mapping[str, float] = {}
        self._measured: frozenset[str] = frozenset()
        self._trail = PowerTrail()
        self.generation = 0  # changes whenever a window starts or finishes

    # -- Session listener ----------------------------------------------------------------------
    def cell_started(self, window: "TrackedWindow") -> None:
        run_id = window.tracker.run_id
        if run_id is None:
            return
        with self._lock:
            self._running[run_id] = window
            self.generation += 1

    def cell_finished(self, record: "CellRecord", data: "EmissionsData") -> None:
        with self._lock:
            self._running.pop(record.run_id, None)
            self.generation += 1
            self._cells.append(record)
            self.totals.cell_finished(record)  # with the running window's removal: one step

    def cell_finalized(self, record: "CellRecord", data: "EmissionsData") -> None:
        with self._lock:
            for index, cell in enumerate(self._cells):
                if cell.run_id == record.run_id:
                    self._cells[index] = record
            self.totals.cell_finalized(record)

    # -- power ---------------------------------------------------------------------------------
    def power(self, t_mono: float, power_w: Mapping[str, float], measured: frozenset[str] = frozenset()) -> None:
        """The sampler's latest power per component (W) and the components a hardware counter
        measures (the others are modelled), from its thread."""
        with self._lock:
            self._power_w = dict(power_w)
            self._measured = measured
            self._trail.add(t_mono, sum(power_w.values()))

    # -- what is sent --------------------------------------------------------------------------
    def latest(self) -> "CellRecord | None":
        with self._lock:
            return self._cells[-1] if self._cells else None

    def state(self, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """The state for a message (protocol.state_message), with the figures so far of the
        windows running now; None if a window started or finished meanwhile (ask again)."""
        with self._lock:
            generation = self.generation
            running = list(self._running.items())
        now_wall = time.time()
        live = [(window, _so_far(run_id, window)) for run_id, window in running]
        with self._lock:
            if generation != self.generation:
                return None
            totals = self.totals.totals()
            energy_kwh, emissions_kg, water_l = totals.energy_kwh, totals.emissions_kg, totals.water_l
            band = [totals.energy_low_kwh, totals.energy_high_kwh, totals.emissions_low_kg, totals.emissions_high_kg]
            footprint = dict(totals.footprint)
            entries: list[dict[str, Any]] = []
            detail = protocol.ClusterDetail()  # running windows first, then the newest cells
            for window, data in live:
                if data is not None and counted(window.kind):
                    energy_kwh += data.energy_consumed
                    emissions_kg += data.emissions
                    water_l += data.water_consumed
                    band = [total + part for total, part in zip(band, (
                        data.energy_low, data.energy_high, data.emissions_low, data.emissions_high))]
                    for name in FOOTPRINT_SUMS:
                        footprint[name] = footprint.get(name, 0.0) + (getattr(data, FOOTPRINT_FROM_DATA[name]) or 0.0)
                if len(entries) < protocol.MAX_RUNNING:
                    entries.append(_running_entry(window, data, now_wall, detail))
            return {
                **meta,
                "time": now_wall,
                "totals": {
                    "energy_wh": ENERGY.of(energy_kwh), "co2_g": CO2.of(emissions_kg), "water_ml": WATER.of(water_l),
                    "duration_s": protocol.figure(totals.duration_s), "count": totals.count,
                    **protocol.totals_band_entry(*band),
                    "footprint": protocol.footprint_entry(footprint),
                },
                "running": entries,
                "running_count": len(live),
                "power_w": protocol.power_entry(self._power_w),
                "measured": protocol.measured_entry(self._measured, self._power_w),
                "cells": [protocol.cell_entry(cell, detail) for cell in reversed(self._cells)],
                "spark": protocol.spark_entry(self._trail.step_s, self._trail.points),
            }


def _so_far(run_id: str, window: "TrackedWindow") -> "EmissionsData | None":
    """A running window's figures so far (None once its tracker has moved on)."""
    tracker = window.tracker
    if tracker.run_id != run_id:
        return None
    try:
        data = tracker.current()
    except Exception as error:  # a live figure is never worth breaking anything for
        problems.note("sidebar live figures", error)
        return None
    return data if tracker.run_id == run_id else None


def _running_entry(window: "TrackedWindow", data: "EmissionsData | None", now_wall: float,
                   detail: protocol.ClusterDetail) -> dict[str, Any]:
    return {
        "n": window.cell.execution_count,
        "id": protocol.cell_id(window.cell.cell_id),
        "label": protocol.short(window.label, protocol.LABEL_CHARS),
        "kind": window.kind,
        "elapsed_s": protocol.figure(max(now_wall - window.started_at, 0.0)),
        "energy_wh": protocol.figure(ENERGY.of(data.energy_consumed)) if data is not None else 0.0,
        # its band so far (equal to energy_wh when all is measured)
        "energy_low_wh": protocol.figure(ENERGY.of(data.energy_low)) if data is not None else 0.0,
        "energy_high_wh": protocol.figure(ENERGY.of(data.energy_high)) if data is not None else 0.0,
        "co2_g": protocol.figure(CO2.of(data.emissions)) if data is not None else 0.0,
        "cluster": protocol.cluster_entry(data.cluster_hosts, data.cluster_missing, detail) if data is not None else None,
    }
