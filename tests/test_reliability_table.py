"""RELIABILITY.md is generated from a run of the reliability cases and says what that run
found: every case collected here is in it, its totals add up, and nothing was lost or broken."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from tests.reliability.plugin import is_case

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "RELIABILITY.md"
_spec = importlib.util.spec_from_file_location("reliability_table", ROOT / "scripts" / "reliability_table.py")
reliability_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reliability_table)

CASE_ROW = re.compile(r"^\| `(?P<instance>[^`]+)` \|.*\| (?P<outcome>\w+) \| (?P<inputs_tried>\d+) \| (?P<cells_run>\d+) / (?P<cells_broken>\d+) \| "
                      r"(?P<rows_written>\d+) / (?P<rows_lost>\d+) \| [\d.]+ \|$")
TOTALS_ROW = re.compile(r"^\| (?P<cases>\d+) \| (?P<passed>\d+) \| (?P<failed>\d+) \| (?P<inputs_tried>\d+) \| (?P<cells_run>\d+) \| "
                        r"(?P<cells_broken>\d+) \| (?P<rows_written>\d+) \| (?P<rows_lost>\d+) \|$")


def table_rows(text: str) -> tuple[dict, list[dict]]:
    lines = text.splitlines()
    [totals] = [match.groupdict() for line in lines if (match := TOTALS_ROW.match(line))]
    cases = [match.groupdict() for line in lines if (match := CASE_ROW.match(line))]
    for case_row in cases:
        case_row["instance"] = case_row["instance"].replace("\\|", "|")  # as the script escapes it
    return totals, cases


def case(instance: str, outcome: str = "passed", **figures: int) -> dict:
    return {"area": "meters", "case": instance.split("[")[0], "instance": instance, "file": "tests/x.py",
            "promise": "a | promise", "outcome": outcome, "duration_s": 0.5, "faults": ["a fault"],
            **{"cells_run": 0, "cells_broken": 0, "rows_written": 0, "rows_lost": 0, **figures}}


def test_the_script_renders_totals_that_add_up():
    summary = {"finished_at": "2026-01-01 00:00:00 UTC", "python": "3.11", "platform": "Linux",
               "cases": [case("test_a", cells_run=3, rows_written=6, inputs_tried=7), case("test_b[x]", "failed", cells_run=2,
                                                                         cells_broken=1, rows_written=2, rows_lost=2)]}
    totals, cases = table_rows(reliability_table.render(summary))
    assert totals == {"cases": "2", "passed": "1", "failed": "1", "inputs_tried": "7", "cells_run": "5", "cells_broken": "1",
                      "rows_written": "8", "rows_lost": "2"}
    assert [c["instance"] for c in cases] == ["test_a", "test_b[x]"]
    assert "a \\| promise" in reliability_table.render(summary)  # a pipe cannot break the table


def test_reliability_md_is_from_a_run_of_every_case_and_reports_no_loss(request):
    totals, cases = table_rows(TABLE.read_text(encoding="utf-8"))
    listed = {c["instance"] for c in cases}
    collected = {item.name for item in request.session.items if is_case(item)}
    missing = sorted(collected - listed)
    assert not missing, f"cases not in RELIABILITY.md (run `make reliability`): {missing[:5]}"
    assert int(totals["cases"]) == len(cases)
    for name in ("inputs_tried", "cells_run", "cells_broken", "rows_written", "rows_lost"):
        assert int(totals[name]) == sum(int(c[name]) for c in cases), name
    assert totals["failed"] == totals["rows_lost"] == totals["cells_broken"] == "0"
    assert {c["outcome"] for c in cases} == {"passed"}
