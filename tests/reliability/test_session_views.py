"""The session views (``%carbon panel``, ``%carbon report``) in a long session: their cost
follows the records shown, not the square of the records that share a label."""

from __future__ import annotations

import time

import pytest

SMALL, LARGE = 1_000, 5_000
LOOP = ("for _ in range({n}):\n"
        "    get_ipython().run_line_magic('carbon', '--name step --quiet --save-to-file false _x = 1')")


def timed_panel(notebook) -> tuple[float, str]:
    started = time.perf_counter()
    shown = notebook.magic("panel")
    return time.perf_counter() - started, shown


@pytest.mark.reliability(area="session views")
def test_session_panel_cost_does_not_grow_with_records_sharing_a_label(open_notebook):
    """``%carbon panel`` stays quick however many records share a label (thousands of tracked
    statements in a loop): five times the records never costs more than four times as much,
    and it still counts every one of them."""
    notebook = open_notebook()
    notebook.run(LOOP.format(n=SMALL))
    small_s, _ = timed_panel(notebook)
    notebook.run(LOOP.format(n=LARGE - SMALL))
    large_s, shown = timed_panel(notebook)
    assert f"{LARGE} tracked runs" in shown, shown[:200]
    # quadratic (as before): 25x; linear: 5x; bounded by the bars shown: about 1x
    assert large_s <= max(4 * small_s, 0.5), (small_s, large_s)
