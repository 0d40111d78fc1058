"""The first-run question: asked once where a person can answer, never under nbclient, in CI
or without stdin; stored and never asked again. Real shells and kernels where users have them:
IPython's InteractiveShell, terminal IPython on a pseudo-terminal, a Jupyter kernel driven as
JupyterLab drives it, and nbclient."""

from __future__ import annotations

import builtins
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carbon_magic.runtime import current_runtime
from carbon_magic.telemetry import lifecycle, prompt
from carbon_magic.telemetry.consent import consent_path
from carbon_magic.telemetry.levels import LEVELS, PROMPT_TEXTS
from tests import telemetry_schema
from tests.ipython_helpers import collect
from tests.servers import LocalServer, codecarbon_api
from tests.telemetry_support import OFFLINE_MEASURED, fresh_telemetry, measured_config  # noqa: F401

EXPECTED_TEXTS = ["Telemetry disabled", "Basic environment info only", "Full data + emissions shared publicly"]


class Terminal:
    """stdin of a terminal session (isatty); the answers come through ``input``."""

    def isatty(self) -> bool:
        return True


class NoTerminal:
    def isatty(self) -> bool:
        return False


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def answers(monkeypatch, *replies: str) -> list[str]:
    """Answer ``input()`` with ``replies`` in turn; returns the questions asked."""
    asked: list[str] = []
    queue = list(replies)

    def fake_input(question: str = "") -> str:
        asked.append(question)
        if not queue:
            raise EOFError
        return queue.pop(0)

    monkeypatch.setattr(builtins, "input", fake_input)
    return asked


def stored_level() -> str | None:
    path = consent_path()
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("level")


def test_the_three_texts_are_the_feature_requests():
    assert [PROMPT_TEXTS[level] for level in LEVELS] == EXPECTED_TEXTS


def test_terminal_question_stores_the_answer_and_is_never_asked_again(fresh_telemetry, shell, monkeypatch, capsys):
    asked = answers(monkeypatch, "maybe", "2")
    resolution = current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal())
    assert len(asked) == 2  # an unknown answer is asked again
    out = capsys.readouterr().out
    for text in EXPECTED_TEXTS:
        assert text in out
    assert "Please answer 1, 2 or 3" in out
    assert resolution.level == "minimal" and "your stored choice" in resolution.source
    assert stored_level() == "minimal"
    # a new kernel (fresh state), same user: not asked again
    monkeypatch.setattr(fresh_telemetry, "_kernel", lifecycle._Kernel())
    asked_again = answers(monkeypatch)
    assert current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal()).level == "minimal"
    assert asked_again == []


@pytest.mark.parametrize("reply, level", [("", "disabled"), ("3", "extensive"), ("Extensive", "extensive"),
                                          ("1", "disabled"), ("minimal", "minimal")])
def test_answers(fresh_telemetry, shell, monkeypatch, reply, level):
    answers(monkeypatch, reply)
    current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal())
    assert stored_level() == level


def test_no_answer_stores_nothing_and_asks_next_time(fresh_telemetry, shell, monkeypatch):
    answers(monkeypatch)  # end of input at once
    assert current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal()).level == "disabled"
    assert stored_level() is None
    monkeypatch.setattr(fresh_telemetry, "_kernel", lifecycle._Kernel())
    asked = answers(monkeypatch, "2")
    current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal())
    assert len(asked) == 1 and stored_level() == "minimal"


def test_not_asked_without_a_terminal(fresh_telemetry, shell, monkeypatch):
    asked = answers(monkeypatch, "3")
    resolution = current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=NoTerminal())
    assert asked == [] and resolution.level == "disabled" and stored_level() is None
    assert fresh_telemetry.question_outcome() == "not asked: no terminal to answer"


@pytest.mark.parametrize("variable, value", [("CI", "true"), ("GITHUB_ACTIONS", "true"), ("JENKINS_URL", "http://j/")])
def test_not_asked_in_ci(fresh_telemetry, shell, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    asked = answers(monkeypatch, "3")
    assert current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal()).level == "disabled"
    assert asked == [] and stored_level() is None
    assert fresh_telemetry.question_outcome().startswith("not asked in CI")


def test_not_asked_when_a_source_already_chose(fresh_telemetry, shell, monkeypatch):
    asked = answers(monkeypatch, "3")
    monkeypatch.setenv("CODECARBON_TELEMETRY", "minimal")
    assert current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal()).level == "minimal"
    monkeypatch.delenv("CODECARBON_TELEMETRY")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setattr(fresh_telemetry, "_kernel", lifecycle._Kernel())
    assert current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=Terminal()).level == "disabled"
    assert asked == [] and stored_level() is None


def test_widget_has_the_three_choices_and_a_click_stores_it(fresh_telemetry):
    ipywidgets = pytest.importorskip("ipywidgets")
    box = prompt.show_widget(lambda level: fresh_telemetry.choose(level, "prompt"))
    buttons = box.children[1].children
    assert [b.description for b in buttons] == EXPECTED_TEXTS
    assert all(isinstance(b, ipywidgets.Button) for b in buttons)
    buttons[2].click()
    assert stored_level() == "extensive"
    assert "extensive (Full data + emissions shared publicly), stored in" in box.children[1].value


def test_the_question_is_rich_text_with_a_plain_text_fallback_and_no_raw_backticks(fresh_telemetry, monkeypatch):
    pytest.importorskip("ipywidgets")
    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False, **_: shown.append((obj, raw)))
    box = prompt.show_widget(lambda level: fresh_telemetry.choose(level, "prompt"))
    [(bundle, raw)] = shown
    intro = box.children[0].value
    assert raw and "application/vnd.jupyter.widget-view+json" in bundle
    assert "`" not in intro and "<code>%carbon telemetry preview minimal</code>" in intro
    assert intro.count("<li>") == len(prompt.DETAILS)
    text = bundle["text/plain"]
    assert "`" not in text and "%carbon telemetry preview minimal" in text
    assert all(words in text for words in EXPECTED_TEXTS)


# --- real front ends ------------------------------------------------------------------------------


def kernel_environment(**extra: str) -> dict[str, str]:
    """The test's environment for a kernel or terminal: no CI, offline measuring."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CIRCLECI", "TF_BUILD")}
    environ.update(extra)
    return environ


SETUP = (
    "from carbon_magic.runtime import current_runtime\n"
    "telemetry = current_runtime().telemetry\n"
    "from carbon_magic.core.config import resolve_config\n"
    f"config = resolve_config({OFFLINE_MEASURED!r})\n"
    "resolution = telemetry.on_extension_loaded(get_ipython(), config)\n"
    "print('LEVEL', resolution.level, '|', telemetry.question_outcome())\n"
)
TRACKED_CELL = (
    "from carbon_magic.core.tracker import Tracker\n"
    "from carbon_magic.runtime import current_runtime\n"
    "tracker = Tracker(config, samplers=current_runtime().samplers, location=current_runtime().location, usage='magic')\n"
    "tracker.start(); sum(range(200000)); tracker.stop()\n"
    "telemetry.on_first_tracked_cell(tracker.final_emissions_data)\n"
)


def run_notebook(cells: list[str], workdir: Path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def cell_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")


def test_nbclient_kernel_is_never_asked(fresh_telemetry, isolated):
    pytest.importorskip("nbclient")
    notebook = run_notebook([SETUP, TRACKED_CELL], isolated)
    setup = notebook.cells[0]
    assert "LEVEL disabled | not asked: this kernel's client cannot answer" in cell_text(setup)
    widget_outputs = [o for o in setup.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget_outputs == []
    assert stored_level() is None


def test_nbclient_kernel_sends_first_cell_and_exit_summary(fresh_telemetry, isolated, monkeypatch):
    pytest.importorskip("nbclient")
    server = LocalServer(default=codecarbon_api())
    try:
        monkeypatch.setenv("CODECARBON_TELEMETRY", "extensive")
        monkeypatch.setenv("CODECARBON_TELEMETRY_ENDPOINT", f"{server.url}/telemetry")
        run_notebook([SETUP, TRACKED_CELL, TRACKED_CELL], isolated)  # the kernel exits at the end
        assert server.wait_for(lambda requests: len(requests) >= 2, 15.0)
        time.sleep(0.2)
        sent = [r.json for r in server.to("/telemetry", "POST")]
    finally:
        server.close()
    assert len(sent) == 2
    for payload in sent:
        assert telemetry_schema.problems(payload) == []
        assert payload["notebook_environment"] == "jupyter"
        assert payload["api_mode"] == "offline" and payload["country_iso_code"] == "FRA"
    assert sent[1]["duration_seconds"] >= sent[0]["duration_seconds"]


def test_jupyterlab_like_kernel_shows_the_widget_and_a_click_stores_the_choice(fresh_telemetry, isolated):
    pytest.importorskip("ipywidgets")
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated), env=kernel_environment())
    try:
        message_id = client.execute(SETUP, allow_stdin=True)  # as JupyterLab sends cells
        messages = collect(client, message_id)
        shown = [m for m in messages if m["msg_type"] == "display_data"
                 and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]]
        assert len(shown) == 1
        buttons = {m["content"]["data"]["state"]["description"]: m["content"]["comm_id"]
                   for m in messages if m["msg_type"] == "comm_open"
                   and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"}
        assert sorted(buttons) == sorted(EXPECTED_TEXTS)
        assert stored_level() is None  # nothing stored, nothing sent before a click
        click = client.session.msg("comm_msg", {"comm_id": buttons["Basic environment info only"],
                                                "data": {"method": "custom", "content": {"event": "click"}}})
        client.shell_channel.send(click)
        deadline = time.monotonic() + 20
        while stored_level() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored_level() == "minimal"
        reply_id = client.execute("print('NOW', telemetry.current_level().level)", allow_stdin=True)
        texts = "".join(m["content"].get("text", "") for m in collect(client, reply_id)
                        if m["msg_type"] == "stream")
        assert "NOW minimal" in texts
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


class PtyReader:
    """Reads a pseudo-terminal's output; ``until(marker)`` returns the text up to and including
    the marker's first unread occurrence, keeping what follows for the next call."""

    def __init__(self, fd: int):
        self.fd = fd
        self.pending = ""

    def until(self, marker: str, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while marker not in self.pending:
            remaining = deadline - time.monotonic()
            ready = select.select([self.fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
            chunk = b""
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the other side closed
                    pass
            if not chunk:
                raise AssertionError(f"{marker!r} not seen; terminal showed:\n{self.pending[-2000:]}")
            self.pending += chunk.decode("utf-8", "replace")
        end = self.pending.index(marker) + len(marker)
        text, self.pending = self.pending[:end], self.pending[end:]
        return text


def test_terminal_ipython_on_a_tty_asks_in_text(fresh_telemetry, isolated):
    primary, secondary = pty.openpty()
    command = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--simple-prompt",
               "--HistoryManager.enabled=False", "--no-confirm-exit"]
    process = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary, cwd=isolated,
                               env=kernel_environment(TERM="dumb"), close_fds=True)
    os.close(secondary)
    terminal = PtyReader(primary)
    try:
        terminal.until("In [1]:")
        line = SETUP.replace("\n", "; ").rstrip("; ")
        os.write(primary, (line + "\n").encode())
        shown = terminal.until("Your choice")
        for text in EXPECTED_TEXTS:
            assert text in shown
        os.write(primary, b"3\n")
        shown = terminal.until("LEVEL extensive")
        assert "extensive (Full data + emissions shared publicly), stored in" in shown
        terminal.until("In [2]:")
        os.write(primary, b"exit\n")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert stored_level() == "extensive"
