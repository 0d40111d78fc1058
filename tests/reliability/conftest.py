"""The reliability suite's fixtures, and the plugin that turns its runs into RELIABILITY.md figures.

Every case gets a ``figures`` object (harness.Figures) that its cells and CSV checks update.
When the session ends, each case's promise (its docstring), outcome and figures are written
to ``tests/artifacts/reliability.json``; ``scripts/reliability_table.py`` renders
RELIABILITY.md from that file, so the table always says what was actually run.
"""

from __future__ import annotations

import inspect
import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.ipython_helpers import OFFLINE_ENV

from .harness import Figures, KernelNotebook, Notebook

SUMMARY_PATH = Path(__file__).resolve().parents[1] / "artifacts" / "reliability.json"
_FIGURES = pytest.StashKey[Figures]()
_OUTCOME = pytest.StashKey[str]()
_DURATION = pytest.StashKey[float]()
_cases: list[dict] = []


def promise_of(function) -> str:
    """A case's promise: the first paragraph of its docstring, on one line."""
    doc = inspect.getdoc(function) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


@pytest.fixture(autouse=True)
def figures(request) -> Figures:
    found = request.node.stash[_FIGURES] = Figures()
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        item.stash[_OUTCOME] = report.outcome
        item.stash[_DURATION] = item.stash.get(_DURATION, 0.0) + report.duration
    if report.when == "teardown" and _FIGURES in item.stash:
        function = item.function
        _cases.append({
            "area": item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"),
            "case": function.__name__,
            "instance": item.name,
            "promise": promise_of(function),
            "outcome": item.stash.get(_OUTCOME, report.outcome),
            "duration_s": round(item.stash.get(_DURATION, 0.0), 2),
            **asdict(item.stash[_FIGURES]),
        })
    return report



def pytest_sessionfinish(session, exitstatus):
    if not _cases:
        return
    SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cases": _cases,
    }
    SUMMARY_PATH.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


# -- notebooks -----------------------------------------------------------------------------------


@pytest.fixture
def open_notebook(isolated, monkeypatch, figures):
    """``open_notebook(**environment)``: IPython's InteractiveShell with carbon_magic loaded
    (offline in France unless the environment says otherwise), unloaded at the end."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    loaded = []

    def open_(offline: bool = True, **environment: str) -> Notebook:
        for name, value in {**(OFFLINE_ENV if offline else {}), **environment}.items():
            monkeypatch.setenv(name, value)
        config = Config()
        config.HistoryManager.enabled = False
        shell = InteractiveShell.instance(config=config)
        shell.config.pop("CarbonMagic", None)
        shell.run_line_magic("colors", "nocolor")
        shell.run_line_magic("load_ext", "carbon_magic")
        loaded.append(shell)
        return Notebook(shell, figures)

    yield open_
    for shell in loaded:
        shell.extension_manager.unload_extension("carbon_magic")


@pytest.fixture
def kernel_notebook(isolated, monkeypatch, figures):
    """``kernel_notebook(**environment)``: a fresh python3 kernel (cwd: the test's folder),
    offline in France unless the environment says otherwise; shut down at the end."""
    pytest.importorskip("ipykernel")
    from jupyter_client.manager import start_new_kernel

    started = []

    def open_(offline: bool = True, **environment: str) -> KernelNotebook:
        for name, value in {**(OFFLINE_ENV if offline else {}), **environment}.items():
            monkeypatch.setenv(name, value)
        manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated))
        started.append(KernelNotebook(manager, client, figures))
        return started[-1]

    yield open_
    for kernel in started:
        kernel.shutdown()
