"""Helpers for the extension's tests: a real InteractiveShell and real Jupyter kernels."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

# What every test kernel/shell uses: offline, a known country, a fixed CPU power.
OFFLINE_ENV = {
    "CODECARBON_OFFLINE": "true",
    "CODECARBON_COUNTRY_ISO_CODE": "FRA",
    "CODECARBON_POWERCAP_ROOT": "/nonexistent",
}


def loaded_shell(monkeypatch, environment: dict[str, str] = OFFLINE_ENV, display_pub=None):
    """IPython's InteractiveShell (no history, no colours) with carbon_magic loaded under
    ``environment``, displays going to ``display_pub`` if given; the caller unloads it."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.config.pop("CarbonMagic", None)  # %config merges into the shell's config too
    if display_pub is not None:
        monkeypatch.setattr(shell, "display_pub", display_pub)
    shell.run_line_magic("colors", "nocolor")
    shell.run_line_magic("load_ext", "carbon_magic")
    return shell


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def drain_outputs() -> None:
    """Wait until every output lane has run what was queued (CSV, custom handlers, network)."""
    from carbon_magic.runtime import current_runtime

    for lane in current_runtime().lanes.all():
        assert lane.drain(10.0), lane


def run_notebook(cells: list[str], workdir: Path, timeout: int = 120, **client_options):
    """Execute ``cells`` in a fresh python3 kernel (nbclient), cwd ``workdir``; the notebook."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}}, **client_options)
    client.execute()
    return notebook


def outputs_text(cell) -> str:
    """Everything a cell showed as text: streams, text/plain, errors."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("display_data", "execute_result"):
            parts.append(output["data"].get("text/plain", ""))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain_traceback(error: dict) -> list[str]:
    """An error output's (or error message's) traceback as the user reads it: lines, no colours."""
    return _ANSI.sub("", "\n".join(error["traceback"])).splitlines()


def outputs_html(cell) -> str:
    return "".join(
        output["data"].get("text/html", "")
        for output in cell.get("outputs", [])
        if output["output_type"] in ("display_data", "execute_result")
    )


# -- real kernels through jupyter_client, messages as JupyterLab sends them -----------------------


def execute_like_jupyterlab(client, code: str, cell_id: str | None = None) -> tuple[str, list[dict]]:
    """Send an execute_request with the cell id in its metadata (as JupyterLab does); its messages."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    message = client.session.msg("execute_request", content, metadata={"cellId": cell_id} if cell_id else {})
    client.shell_channel.send(message)
    return message["header"]["msg_id"], collect(client, message["header"]["msg_id"])


def collect(client, message_id: str) -> list[dict]:
    """IOPub messages of one request, until the kernel is idle again."""
    messages = []
    while True:
        message = client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return messages


def texts(messages: list[dict]) -> str:
    parts = []
    for message in messages:
        content = message["content"]
        if message["msg_type"] == "stream":
            parts.append(content["text"])
        elif message["msg_type"] in ("display_data", "execute_result"):
            parts.append(content["data"].get("text/plain", "") + "\n")
    return "".join(parts)
