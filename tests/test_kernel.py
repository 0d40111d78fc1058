"""The extension in real Jupyter kernels (ipykernel via nbclient and jupyter_client)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ipykernel")
pytest.importorskip("nbclient")

from .ipython_helpers import (  # noqa: E402
    collect, execute_like_jupyterlab, outputs_html, outputs_text, plain_traceback, read_csv, run_notebook,
    texts,
)


def test_cell_ids_sent_by_the_front_end_are_recorded(kernel, isolated):
    _, client = kernel
    execute_like_jupyterlab(client, "%load_ext carbon_magic")
    execute_like_jupyterlab(client, "%%carbon --quiet\nx = 1", cell_id="0f3c-cell-a")
    execute_like_jupyterlab(client, "%carbon on --quiet")
    execute_like_jupyterlab(client, "y = 2", cell_id="0f3c-cell-b")
    _, messages = execute_like_jupyterlab(client, "df = %carbon report\nprint(df['cell_id'].tolist())")
    assert "['0f3c-cell-a', '0f3c-cell-b']" in texts(messages)


def test_kernel_tracks_cells_with_html_summaries(isolated, offline):
    notebook = run_notebook(
        [
            "%load_ext carbon_magic\n%carbon status",
            "%%carbon --name numbers\ntotal = sum(i * i for i in range(200000))\ntotal",
            "%carbon on",
            "squares = [i * i for i in range(1000)]",
            "%carbon off",
            "report = %carbon report\nprint(report[['label', 'cell_id', 'status']].to_string())",
        ],
        isolated,
    )
    load, tracked, _, auto, _, report = notebook.cells
    assert outputs_text(load).startswith("carbon_magic ")  # the load line, complete or not yet
    status = outputs_text(load)  # each component's power with its band, then how it is measured
    assert re.search(r"cpu: [0-9.]+ W \(.* modelled\) now\n", status) and re.search(r"\bcpu\b.*: modelled: ", status)
    assert "France" in status
    assert "carbon-magic-summary" in outputs_html(tracked) and "<b>numbers</b>" in outputs_html(tracked)
    assert str(sum(i * i for i in range(200000))) in outputs_text(tracked)
    assert "carbon: cell" in outputs_text(auto)
    assert "numbers" in outputs_text(report) and "cell 4" in outputs_text(report)
    rows = read_csv(isolated / "carbon_cells.csv")[1]
    assert [row["label"] for row in rows] == ["numbers", "cell 4"]
    assert [row["execution_count"] for row in rows] == ["2", "4"]
    assert len(read_csv(isolated / "emissions.csv")[1]) == 2


def test_kernel_shows_the_users_traceback_and_records_the_failed_cell(isolated, offline):
    notebook = run_notebook(
        [
            "%load_ext carbon_magic",
            "%%carbon --quiet\ndata = {}\ndata['missing']",
            "%carbon report",
        ],
        isolated,
        allow_errors=True,
    )
    error = [o for o in notebook.cells[1]["outputs"] if o["output_type"] == "error"][0]
    assert error["ename"] == "KeyError" and error["evalue"] == "'missing'"
    assert any("data['missing']" in line for line in plain_traceback(error))
    assert "failed" in outputs_html(notebook.cells[2])


def test_interrupting_a_kernel_in_a_tracked_cell_records_it_as_interrupted(kernel, isolated):
    manager, client = kernel
    execute_like_jupyterlab(client, "%load_ext carbon_magic")
    message_id = client.execute("%%carbon --name sleeper\nimport time\ntime.sleep(60)")
    time.sleep(1.5)  # let the cell start sleeping
    manager.interrupt_kernel()  # SIGINT, as the front end's stop button
    messages = collect(client, message_id)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert errors and errors[0]["ename"] == "KeyboardInterrupt"
    assert any("time.sleep(60)" in line for line in plain_traceback(errors[0]))
    summaries = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "display_data"]
    assert summaries and summaries[0].startswith("carbon: sleeper") and "INTERRUPTED" in summaries[0]
    _, messages = execute_like_jupyterlab(client, "df = %carbon report\nprint(df['status'].tolist())")
    assert "['interrupted']" in texts(messages)
    deadline = time.time() + 10
    while time.time() < deadline and not (isolated / "carbon_cells.csv").exists():
        time.sleep(0.1)
    assert read_csv(isolated / "carbon_cells.csv")[1][0]["status"] == "interrupted"


def test_kernel_config_file_sets_traits_and_autoloads_the_extension(isolated, monkeypatch):
    ipython_dir = isolated / "ipython-dir"
    profile = ipython_dir / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["carbon_magic"]\n'
        "c.CarbonMagic.pue = 1.7\n"
        'c.CarbonMagic.country_iso_code = "NOR"\n'
        "c.CarbonMagic.quiet = True\n"
    )
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    monkeypatch.setenv("CODECARBON_PUE", "1.3")  # traitlets config is above the environment
    notebook = run_notebook(["%%carbon\nx = 1", "%carbon config"], isolated)
    assert outputs_text(notebook.cells[0]) == ""  # quiet from the config file
    config_text = outputs_text(notebook.cells[1])
    pue_line = next(line for line in config_text.splitlines() if line.startswith("pue "))
    assert "1.7" in pue_line and "IPython config (c.CarbonMagic)" in pue_line
    row = read_csv(isolated / "emissions.csv")[1][0]
    assert row["pue"] == "1.7" and row["country_iso_code"] == "NOR"


def test_terminal_ipython_prints_text_summaries(isolated, offline):
    script = "%load_ext carbon_magic\n%carbon sum(range(100))\n%carbon status\nexit\n"
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--simple-prompt", "--quick", "--no-banner", "--colors=nocolor"],
        input=script, capture_output=True, text=True, timeout=120, cwd=isolated, env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    assert "carbon: statement" in done.stdout and "Out[2]: 4950" in done.stdout
    assert "Measured:" in done.stdout and "<div" not in done.stdout
    assert Path(isolated / "emissions.csv").exists()
