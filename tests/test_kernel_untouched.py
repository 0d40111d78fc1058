"""Tracking leaves a cell as it was, in real kernels: the user's random numbers, ``%%capture``,
``clear_output(wait=True)``, and no background warning in whichever cell runs (issue 16)."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("ipykernel")
pytest.importorskip("nbclient")

from .ipython_helpers import OFFLINE_ENV, outputs_text, read_csv, run_notebook  # noqa: E402
from .test_panel_kernel import kernel_environment  # noqa: E402


@pytest.fixture
def offline(monkeypatch):
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)


def test_tracking_neither_changes_nor_repeats_after_the_users_random_seed(isolated, offline):
    notebook = run_notebook(
        [
            "%load_ext carbon_magic",
            "%carbon on --quiet",
            "import random\nrandom.seed(1)",
            "print(repr(random.random()))",
            "random.seed(0)",
            "x = 1",
            "random.seed(0)",
            "x = 2",
            "%carbon off",
        ],
        isolated,
    )
    assert outputs_text(notebook.cells[3]).strip() == repr(random.Random(1).random())
    run_ids = [row["run_id"] for row in read_csv(isolated / "emissions.csv")[1]]
    assert len(run_ids) == 6 and len(set(run_ids)) == 6, run_ids


def test_capture_under_carbon_on_captures_none_of_the_summary(isolated, offline):
    notebook = run_notebook(
        [
            "%load_ext carbon_magic",
            "%carbon on",
            "%%capture cap\nprint('hidden')",
            "print(len(cap.outputs), repr(cap.stdout))",
            "%carbon off",
        ],
        isolated,
    )
    capturing, after = notebook.cells[2], notebook.cells[3]
    assert outputs_text(after).splitlines()[0] == "0 'hidden\\n'"
    assert outputs_text(capturing).startswith("carbon: cell 3 |") and "hidden" not in outputs_text(capturing)
    assert [row["execution_count"] for row in read_csv(isolated / "carbon_cells.csv")[1]] == ["3", "4"]


CLEAR = "from IPython.display import clear_output\n"


PANEL_PLACE = "%carbon on --panel-widgets always"  # a place kept at the top of each cell's output


@pytest.mark.parametrize("tracking, ipykernel", [("%carbon on", "7"), (None, "7"), ("%carbon on", "6"), (PANEL_PLACE, "7")],
                         ids=["carbon-on", "cell-magic", "carbon-on-ipykernel6", "carbon-on-panel-place"])
def test_a_summary_never_triggers_the_users_pending_clear(isolated, offline, monkeypatch, tracking, ipykernel):
    if ipykernel == "6":  # nbclient's kernel inherits the environment
        monkeypatch.setenv("PYTHONPATH", kernel_environment(ipykernel)["PYTHONPATH"])
    bodies = [
        "print('keep me')\nclear_output(wait=True)",  # the clear waits for an output that never comes
        "print('gone')\nclear_output(wait=True)\nprint('shown')",  # it came: the clear was done
        "for i in range(3):\n    clear_output(wait=True)\n    print(i)",
        "print('keep me too')\nclear_output(wait=True)\nclear_output(wait=True)",
        "print('old')\nclear_output()\nprint('new')",  # cleared at once
    ]
    cells = [body if tracking else f"%%carbon\n{body}" for body in bodies]
    version = "import ipykernel\nprint(ipykernel.__version__.split('.')[0])"
    notebook = run_notebook([version, "%load_ext carbon_magic\n" + CLEAR, *([tracking] if tracking else []), *cells], isolated)
    assert outputs_text(notebook.cells[0]) == f"{ipykernel}\n"
    shown = [outputs_text(cell) for cell in notebook.cells[-len(bodies):]]
    expected = ["keep me\n", "shown\n", "2\n", "keep me too\n", "new\n"]
    if tracking == PANEL_PLACE:  # the summary fills the place at the top, unless a done clear took it
        expected = ["carbon: cell", "shown\ncarbon: cell", "2\ncarbon: cell", "carbon: cell", "new\ncarbon: cell"]
        assert "keep me\n" in shown[0] and "keep me too\n" in shown[3], shown
    for text, start in zip(shown, expected):
        assert text.startswith(start) and "carbon: cell" in text, shown
    for cell in notebook.cells[-len(bodies):]:  # no empty place left behind
        assert all(output.get("data", {}).get("text/plain", "x") for output in cell.outputs), cell.outputs


WAIT_FOR_GEOLOCATION = (
    "import time\nfrom carbon_magic.core.problems import problems\n"
    "while not any(p.where == 'IP geolocation' for p in problems.all()):\n    time.sleep(0.02)\n"
    "time.sleep(0.2)"  # the warning is logged just after the problem is counted
)


def test_background_warnings_go_to_the_log_status_and_footnote_never_to_a_cell(isolated, tmp_path):
    """No country given: IP geolocation runs in the background and fails (a closed loopback port)."""
    from jupyter_client.manager import start_new_kernel

    from .ipython_helpers import execute_like_jupyterlab, texts

    log_path = tmp_path / "kernel.log"
    with open(log_path, "w") as log:
        manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated), stderr=log)
    try:
        cells = ["%load_ext carbon_magic", "%carbon on", WAIT_FOR_GEOLOCATION, "x = 1", "%carbon off", "%carbon status"]
        shown = [execute_like_jupyterlab(client, code)[1] for code in cells]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    streams = [m["content"]["text"] for messages in shown for m in messages if m["msg_type"] == "stream"]
    assert not [text for text in streams if "IP geolocation failed" in text], streams
    summaries = texts(shown[2] + shown[3])
    assert "background warning: carbon_magic: IP geolocation failed" in summaries, summaries
    assert "IP geolocation: " in texts(shown[5])  # %carbon status: where, error type, count, message
    assert "carbon_magic: IP geolocation failed" in log_path.read_text()
