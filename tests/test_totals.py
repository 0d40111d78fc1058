"""The kernel's running totals (ipython/totals.py): sums kept one record at a time."""

from __future__ import annotations

import dataclasses

from carbon_magic.ipython.records import CellRecord
from carbon_magic.ipython.totals import FOOTPRINT_SUMS, KINDS, RunningTotals, Share


def a_record(run_id: str, seed: float, **changes) -> CellRecord:
    """A record whose every float field has a value of its own (footprint figures None: off)."""
    values = {f.name: seed + index / 7 for index, f in enumerate(dataclasses.fields(CellRecord)) if f.type == "float"}
    return CellRecord(**{**values, "kind": "cell", "label": run_id, "execution_count": 1, "cell_id": None,
                         "first_line": "", "status": "ok", "run_id": run_id, "intensity_source": "",
                         "provisional": False, "measured_kinds": frozenset({"cpu"}), "machine_wide": True,
                         **changes})


def test_the_totals_are_the_records_figures_added_in_order_a_final_record_replacing_its_provisional_one():
    """Exactly the sums written out (issue 17 sums them by map): each record's share added as it
    finishes, a provisional one's taken off and its final one's added; spans are not counted."""
    records = [a_record("a", 0.1), a_record("b", 2.3, water_offsite_l=0.5, embodied_kg=1e-9), a_record("c", 7e-6)]
    final_b = dataclasses.replace(records[1], energy_kwh=9.75, water_offsite_l=None, embodied_kg=3e-9)
    totals = RunningTotals()
    for record in records:
        totals.cell_finished(record)
    totals.cell_finished(a_record("span", 5.0, kind="span"))
    totals.cell_finalized(final_b)
    expected = [0.0] * len(Share.of(records[0]).sums())
    for share, sign in [(Share.of(r), 1) for r in records] + [(Share.of(records[1]), -1), (Share.of(final_b), 1)]:
        for index, value in enumerate(share.sums()):
            expected[index] += sign * value
    result = totals.totals()
    assert (result.energy_kwh, result.emissions_kg, result.water_l, result.duration_s) == tuple(expected[:4])
    assert list(result.energy_by_kind_kwh.values()) == expected[4:4 + len(KINDS)]
    assert (result.energy_low_kwh, result.energy_high_kwh, result.emissions_low_kg,
            result.emissions_high_kg) == tuple(expected[8:12])
    assert result.footprint == dict(zip(FOOTPRINT_SUMS, expected[12:]))
    assert result.footprint["water_offsite_l"] == 0.0 and result.footprint["embodied_kg"] == 1e-9 - 1e-9 + 3e-9
    assert (result.count, result.measured_runs["cpu"], result.machine_wide_runs) == (3, 3, 3)
