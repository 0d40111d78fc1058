"""The live panel in real ipykernel kernels: messages land in the right cell, stay small, and
nbclient (no widget front end) gets the static summary only."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")

from .ipython_helpers import OFFLINE_ENV, outputs_html, run_notebook  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
UPDATE_LIMIT_BYTES = 5_000


@pytest.fixture
def offline(monkeypatch):
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)


# ipykernel 6 (which keeps one parent for all threads) beside the venv's ipykernel 7
# (context variables): `make test` installs it here, alone, and kernels put it first on their path.
IPYKERNEL6 = Path(__file__).resolve().parents[1] / ".cache" / "ipykernel6"


def kernel_environment(ipykernel: str) -> dict[str, str]:
    """Environment variables of a kernel running ipykernel ``ipykernel`` ('6' or '7')."""
    if ipykernel == "7":
        return dict(os.environ)
    if not (IPYKERNEL6 / "ipykernel").is_dir():
        pytest.fail(f"ipykernel 6 is missing from {IPYKERNEL6}: `make test` installs it "
                    f"(pip install --no-deps --target {IPYKERNEL6} 'ipykernel>=6.20,<7')")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(IPYKERNEL6), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(params=["7", "6"], ids=lambda version: f"ipykernel{version}")
def lab_kernel(request, isolated, offline, monkeypatch):
    """A kernel started as jupyter_server starts one for JupyterLab (JPY_SESSION_NAME), with
    ipykernel 7 or 6, and a client that plays the front end."""
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("JPY_SESSION_NAME", str(isolated / "panel.ipynb"))
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated), env=kernel_environment(request.param))
    _, messages = execute(client, "import ipykernel; print(ipykernel.__version__)")
    [version] = [m["content"]["text"] for m in messages if m["msg_type"] == "stream"]
    assert version.split(".")[0] == request.param
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def execute(client, code: str) -> tuple[str, list[dict]]:
    """Run ``code``; every IOPub message until the kernel is idle again (any parent), and its id."""
    msg_id = client.execute(code)
    messages = []
    while True:
        message = client.get_iopub_msg(timeout=60)
        messages.append(message)
        if (message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
                and message["parent_header"].get("msg_id") == msg_id):
            return msg_id, messages


def size(message: dict) -> int:
    return len(json.dumps(message["content"]))


def answer_probe(client, messages: list[dict], theme: str) -> bool:
    """Do what a front end's widget manager does with the probe: answer it."""
    for message in messages:
        state = message["content"].get("data", {}).get("state", {}) if message["msg_type"] == "comm_open" else {}
        if state.get("_anywidget_id", "").endswith("FrontEndProbe"):
            content = {"comm_id": message["content"]["comm_id"],
                       "data": {"method": "custom", "content": {"event": "front-end", "theme": theme}}}
            client.session.send(client.shell_channel.socket, "comm_msg", content)
            return True
    return False


def live_view_made(message: dict) -> bool:
    """The last message of a live panel view's creation (its box gets the panel's CSS class)."""
    state = message["content"].get("data", {}).get("state", {}) if message["msg_type"] == "comm_msg" else {}
    return "carbon-magic-live-panel" in state.get("_dom_classes", ())


def test_panel_messages_land_in_the_cells_output_and_stay_small(lab_kernel):
    client = lab_kernel
    load_id, loading = execute(client, "%load_ext carbon_magic")
    # the widget libraries are imported on the kernel's own thread, right after the load
    # request (never on a thread racing the user's imports): done before the next request runs
    _, check = execute(client, "import sys; print('carbon_magic.ipython.panel.panel_widgets' in sys.modules)")
    assert [m["content"]["text"] for m in check if m["msg_type"] == "stream"] == ["True\n"]
    loading += check
    probe_messages = list(loading)
    deadline = time.monotonic() + 60  # the idle kernel prepares widgets after loading (imports, probe)
    while not answer_probe(client, probe_messages, "dark") and time.monotonic() < deadline:
        probe_messages.append(client.get_iopub_msg(timeout=60))
    status_id, status = execute(client, "%carbon status")
    assert any("front end renders them; dark theme" in m["content"].get("data", {}).get("text/plain", "")
               for m in status)
    seen = probe_messages + status
    while not any(live_view_made(m) for m in seen) and time.monotonic() < deadline:
        seen.append(client.get_iopub_msg(timeout=60))  # the idle kernel's one pooled view, made after the probe

    cell_id, messages = execute(client, "%%carbon --panel-update-secs 0.5\nimport time\ntime.sleep(3.5)")
    ours = [m for m in messages if m["parent_header"].get("msg_id") == cell_id]
    # the idle kernel's preparation (probe, one pooled view) is filed under the load cell
    earlier = {load_id, status_id}
    strays = [m["msg_type"] for m in messages if m["parent_header"].get("msg_id") not in {cell_id, *earlier}]
    assert strays == [], "every message of the panel carries the cell's parent"
    assert [m for m in ours if m["msg_type"] == "comm_open"] == [], "the widgets were made while idle"
    [place] = [m for m in ours if m["msg_type"] == "display_data"]  # kept at the top as the cell starts
    assert place["content"]["data"] == {"text/plain": ""}
    display_id = place["content"]["transient"]["display_id"]
    filled = [m for m in ours if m["msg_type"] == "update_display_data"]
    assert [m["content"]["transient"]["display_id"] for m in filled] == [display_id, display_id]
    shown, frozen = (m["content"]["data"] for m in filled)
    assert WIDGET_MIME in shown
    updates = [m for m in ours if m["msg_type"] == "comm_msg"]
    assert len(updates) >= 4  # numbers and chart, at least twice
    assert max(size(m) for m in updates) < UPDATE_LIMIT_BYTES
    assert WIDGET_MIME not in frozen and frozen["text/plain"].startswith("carbon: cell")  # the frozen panel is the summary
    assert "carbon-magic-panel" in frozen["text/html"] and 'src="data:image/png;base64,' in frozen["text/html"]

    first_model = shown[WIDGET_MIME]["model_id"]
    closed = [m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_close"]
    assert first_model in closed  # a frozen panel's widgets are closed: each view serves one cell
    second_id, second = execute(client, "%%carbon --panel-update-secs 0.5\nimport time\ntime.sleep(1.6)")
    opened = [m for m in second if m["msg_type"] == "comm_open" and m["parent_header"].get("msg_id") == second_id]
    assert opened == []  # the idle kernel made the second panel's widgets ahead
    [shown_again] = [m for m in second if m["msg_type"] == "update_display_data" and WIDGET_MIME in m["content"]["data"]]
    assert shown_again["content"]["data"][WIDGET_MIME]["model_id"] != first_model


def test_output_from_a_thread_goes_to_the_cell_its_route_was_captured_in(isolated, offline):
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated))
    try:
        first, _ = execute(client, (
            "import threading, time\n"
            "from IPython.display import display\n"
            "from carbon_magic.ipython.route import Route\n"
            "route = Route(get_ipython())\n"
            "def later():\n"
            "    time.sleep(1.0)\n"
            "    route.run(display, 'routed')\n"
            "    display('unrouted')\n"
            "threading.Thread(target=later).start()"
        ))
        second, messages = execute(client, "import time; time.sleep(2.5)")
        parents = {m["content"]["data"]["text/plain"]: m["parent_header"].get("msg_id")
                   for m in messages if m["msg_type"] == "display_data"}
        assert parents == {"'routed'": first, "'unrouted'": second}
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_nbclient_gets_the_static_summary_and_no_widget_state(isolated, offline):
    notebook = run_notebook([
        "%load_ext carbon_magic",
        "%%carbon --panel-update-secs 0.3\nimport time\ntime.sleep(1.5)",
        "%carbon panel",
    ], isolated)
    tracked, session = notebook.cells[1], notebook.cells[2]
    assert [sorted(o["data"]) for o in tracked.outputs] == [["text/html", "text/plain"]]
    assert "carbon-magic-summary" in outputs_html(tracked)
    assert WIDGET_MIME not in json.dumps(session.outputs) and "carbon-magic-session" in outputs_html(session)
    assert "widgets" not in notebook.metadata
