"""The pytest plugin that turns reliability cases into the figures of RELIABILITY.md.

A reliability case is any test under ``tests/reliability/`` or any test elsewhere marked
``@pytest.mark.reliability`` (optionally ``area=...`` and ``promise=...``; by default the area
is the module's name and the promise the first paragraph of the test's docstring). Every case
gets a ``figures`` object (``harness.Figures``) that its cells and CSV checks update.

When the session ends, each case's promise, outcome and figures are written to
``tests/artifacts/reliability.json``; ``scripts/reliability_table.py`` renders RELIABILITY.md
from that file (``make reliability`` does both), so the table always says what was run.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from .harness import Figures

# a run on a simulated platform (tests/platforms) writes its own summary, set by this variable
SUMMARY_PATH = Path(os.environ.get("RELIABILITY_SUMMARY_PATH") or Path(__file__).resolve().parents[1] / "artifacts" / "reliability.json")
SUITE_FOLDER = Path(__file__).resolve().parent
MARKER = "reliability"
_FIGURES = pytest.StashKey[Figures]()
_OUTCOME = pytest.StashKey[str]()
_DURATION = pytest.StashKey[float]()
_cases: list[dict] = []


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{MARKER}(area=None, promise=None): a reliability case, counted in RELIABILITY.md")


def pytest_collection_modifyitems(items):
    """Every test of the reliability folder is a case (so ``-m reliability`` selects them all)."""
    for item in items:
        if SUITE_FOLDER in Path(str(item.fspath)).resolve().parents:
            item.add_marker(MARKER)


def is_case(item) -> bool:
    return item.get_closest_marker(MARKER) is not None


def promise_of(function) -> str:
    """A case's promise: the first paragraph of its docstring, on one line."""
    doc = inspect.getdoc(function) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def describe(item) -> dict:
    """A case's name, area and promise (from its marker, else its module and docstring)."""
    marker = item.get_closest_marker(MARKER)
    function = item.function
    return {
        "area": marker.kwargs.get("area") or item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", " "),
        "case": function.__name__,
        "instance": item.name,
        "file": Path(str(item.fspath)).resolve().relative_to(SUITE_FOLDER.parents[1]).as_posix(),
        "promise": marker.kwargs.get("promise") or promise_of(function),
    }


@pytest.fixture
def figures(request) -> Figures:
    """What the case tried and what came of it (cells run and broken, rows written and lost)."""
    return request.node.stash.setdefault(_FIGURES, Figures())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if not is_case(item):
        return report
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        item.stash[_OUTCOME] = report.outcome
    item.stash[_DURATION] = item.stash.get(_DURATION, 0.0) + report.duration
    if report.when == "teardown":
        if report.outcome != "passed":
            item.stash[_OUTCOME] = "failed"
        _cases.append({
            **describe(item),
            "outcome": item.stash.get(_OUTCOME, report.outcome),
            "duration_s": round(item.stash.get(_DURATION, 0.0), 2),
            **asdict(item.stash.get(_FIGURES, Figures())),
        })
    return report


def pytest_sessionfinish(session, exitstatus):
    if not _cases:
        return
    SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cases": _cases,
    }
    SUMMARY_PATH.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
