"""Real-world notebooks, tracked four ways, read as untracked: cell by cell the same outputs,
errors, results, execution counts and namespace (only carbon_magic's own summaries and live
panels left out).

The notebooks (tests/notebooks/) are adapted from IPython's example notebooks and autoawait
docs, numpy-100, the ipywidgets docs and matplotlib's inline backend. Each mode runs all of
them in one real kernel (nbclient), after one setup cell:

- ``untracked``: no extension;
- ``%carbon on --quiet`` and ``%carbon on``: every cell tracked;
- ``%%carbon``: ``%%carbon`` on top of every code cell.

Cells get one first line in every mode so that line numbers agree: ``%%carbon`` where it is
tracked that way, the comment ``# %%carbon`` elsewhere (cells that start with another cell
magic keep it first). ``seeded_random_capture_clear`` holds what issue 16's points 1-3 were
about (run ids drawn from the user's random generator, summaries captured by ``%%capture`` or
erased by a pending ``clear_output``).
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("ipykernel")
nbformat = pytest.importorskip("nbformat")

from .ipython_helpers import OFFLINE_ENV, plain_traceback  # noqa: E402

NOTEBOOKS = {path.stem: path for path in sorted((Path(__file__).parent / "notebooks").glob("*.ipynb"))}
SETUP = {
    "untracked": "pass",
    "%carbon on --quiet": "%load_ext carbon_magic\n%carbon on --quiet",
    "%carbon on": "%load_ext carbon_magic\n%carbon on",
    "%%carbon": "%load_ext carbon_magic",
}
TRACKED = [mode for mode in SETUP if mode != "untracked"]
NAMESPACE = "print('\\n'.join(f'{name} = {eval(name)!r}' for name in get_ipython().run_line_magic('who_ls', '')))"
UNTRACKED_LINE = "# %%carbon"

_NORMAL = [  # what differs between any two runs, tracked or not
    (re.compile(r"In\s*\[\d+\]"), "In[N]"),
    (re.compile(r"(?:/tmp/ipykernel_\d+/)?\b\d+\.py\b"), "<cell file>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x..."),
]


def _source(mode: str, code: str) -> str:
    if mode == "%%carbon":
        return f"%%carbon\n{code}"
    return code if code.startswith("%%") else f"{UNTRACKED_LINE}\n{code}"


def _normal(text: str) -> str:
    for pattern, replacement in _NORMAL:
        text = pattern.sub(replacement, text)
    return "\n".join(line.replace(UNTRACKED_LINE, "").rstrip() for line in text.split("\n"))


def _is_carbon(output: dict) -> bool:
    """A summary or live panel of carbon_magic (its text form starts 'carbon: ')."""
    return str(output.get("data", {}).get("text/plain", "")).startswith("carbon: ")


def _output(output: dict) -> dict:
    kind = output["output_type"]
    if kind == "stream":
        return {"stream": output["name"], "text": _normal(output["text"])}
    if kind == "error":
        return {"error": output["ename"], "value": _normal(output["evalue"]),
                "traceback": _normal("\n".join(plain_traceback(output)))}
    data = {mime: _normal(json.dumps(value, sort_keys=True)) for mime, value in output["data"].items()}
    if "application/vnd.jupyter.widget-view+json" in data:
        data["application/vnd.jupyter.widget-view+json"] = "a widget view"  # model ids are random
    return {kind: data, "metadata": output.get("metadata", {}), "count": output.get("execution_count")}


def _cells(mode: str) -> list[tuple[str, str]]:
    """(notebook, code) of every cell the mode runs: its sources, then a namespace dump, per notebook."""
    cells = [("setup", SETUP[mode])]
    for name, path in NOTEBOOKS.items():
        notebook = nbformat.read(path, as_version=4)
        cells += [(name, _source(mode, cell.source)) for cell in notebook.cells if cell.cell_type == "code"]
        cells.append((name, NAMESPACE))
    return cells


def _execute(mode: str, folder: Path, environment: dict[str, str]) -> dict[str, list]:
    """Run the mode's cells in a fresh kernel; per notebook, each cell's normalised outputs."""
    from nbclient import NotebookClient

    folder.mkdir()
    cells = _cells(mode)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code) for _, code in cells]
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute(env=environment)
    seen: dict[str, list] = {}
    for (name, _), cell in zip(cells, notebook.cells):
        outputs = _joined_streams([output for output in cell.outputs if not _is_carbon(output)])
        seen.setdefault(name, []).append((cell.execution_count, [_output(output) for output in outputs]))
    return seen


def _joined_streams(outputs: list) -> list:
    """Outputs as a front end shows them: text of one stream sent in pieces is one text."""
    joined: list = []
    for output in outputs:
        stream = (output["output_type"], output.get("name"))
        if joined and stream[0] == "stream" and (joined[-1]["output_type"], joined[-1].get("name")) == stream:
            joined[-1] = {**joined[-1], "text": joined[-1]["text"] + output["text"]}
        else:
            joined.append(output)
    return joined


@pytest.fixture(scope="module")
def runs(tmp_path_factory, closed_loopback_url) -> dict[str, dict[str, list]]:
    """Every notebook run in every mode (four kernels side by side), offline, in fresh folders."""
    root = tmp_path_factory.mktemp("notebooks")
    (root / "home").mkdir()
    environment = {name: value for name, value in os.environ.items() if not name.upper().startswith("CODECARBON_")}
    environment.update(OFFLINE_ENV, HOME=str(root / "home"), MPLCONFIGDIR=str(root / "matplotlib"),
                       CODECARBON_TELEMETRY_ENDPOINT=f"{closed_loopback_url}/telemetry",
                       CODECARBON_GEOLOCATION_ENDPOINT=f"{closed_loopback_url}/geolocation")
    with ThreadPoolExecutor(len(SETUP)) as pool:
        futures = {mode: pool.submit(_execute, mode, root / f"run{index}", environment)
                   for index, mode in enumerate(SETUP)}
        return {mode: future.result() for mode, future in futures.items()}


def _differences(name: str, untracked: list, tracked: list) -> list[str]:
    """Where a tracked run of notebook ``name`` differs: each cell by its first line, then the namespace."""
    notebook = nbformat.read(NOTEBOOKS[name], as_version=4)
    where = [f"{cell.id} ({cell.source.splitlines()[0]!r})" for cell in notebook.cells if cell.cell_type == "code"]
    assert len(untracked) == len(tracked) == len(where) + 1
    return [
        f"{place}:\n  untracked {expected}\n  tracked   {seen}"
        for place, expected, seen in zip([*where, "namespace"], untracked, tracked)
        if expected != seen
    ]


@pytest.mark.parametrize("mode", TRACKED)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_tracked_notebook_reads_as_untracked(runs, name, mode):
    differences = _differences(name, runs["untracked"][name], runs[mode][name])
    assert not differences, "\n".join(differences)


def test_the_comparison_sees_what_the_notebooks_do(runs):
    """The runs compared are real: errors, figures, widgets, warnings and awaits happened."""
    seen = json.dumps(runs["untracked"])
    for expected in ("ZeroDivisionError", "SyntaxError", "UsageError", "TimeoutError", "RuntimeWarning",
                     "image/png", "a widget view", "tick 2", "using DB", "'NotDefinedHere'"):
        assert expected in seen, expected
