"""The live panel's Python side with the lowest plotly, ipywidgets and anywidget that
pyproject.toml accepts (`make test` installs them alone in .cache/lowest-panel): a long
tracked cell shows the panel, updates it and freezes it, with no problem noted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .ipython_helpers import OFFLINE_ENV

REPO = Path(__file__).resolve().parents[1]
LOWEST = REPO / ".cache" / "lowest-panel"
PACKAGES = ("plotly", "ipywidgets", "anywidget")

SCRIPT = r"""
import json, sys
import anywidget, ipywidgets, plotly
from IPython.core.interactiveshell import InteractiveShell
from carbon_magic.core.problems import problems
from carbon_magic.ipython.panel import live_panel
import carbon_magic.ipython.panel.panel_widgets  # as an idle kernel does after %load_ext: the panel then shows at once
from carbon_magic.runtime import current_runtime

updates = []
original = live_panel.LiveCell.update
def update(cell, reading):
    original(cell, reading)
    updates.append(cell.updates)
live_panel.LiveCell.update = update
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "carbon_magic")
result = shell.run_cell("%%carbon --panel-widgets always --panel-update-secs 0.2\nimport time\ntime.sleep(2.0)")
current_runtime().lanes.lane("panel").drain(10.0)
print(json.dumps({
    "versions": {module.__name__: module.__version__ for module in (plotly, ipywidgets, anywidget)},
    "paths": {module.__name__: module.__file__ for module in (plotly, ipywidgets, anywidget)},
    "success": result.success, "updates": max(updates, default=0),
    "problems": [f"{p.where}: {p.error_type}: {p.message}" for p in problems.all()],
}))
"""


def test_panel_works_with_the_lowest_declared_widget_libraries(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from lowest_pins import lowest_pins
    finally:
        sys.path.pop(0)
    pins = " ".join(lowest_pins(list(PACKAGES)))
    installed = (LOWEST / "pins").read_text().strip() if (LOWEST / "pins").exists() else None
    if installed != pins:
        pytest.fail(f"{LOWEST} does not hold {pins} (it holds {installed}): `make lowest-panel` installs them")
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": os.pathsep.join([str(LOWEST), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    wanted = {pin.split("==")[0]: pin.split("==")[1] for pin in pins.split()}
    for name, version in wanted.items():
        assert found["paths"][name].startswith(str(LOWEST)), found["paths"]
        assert tuple(map(int, found["versions"][name].split(".")))[:len(version.split("."))] == \
            tuple(map(int, version.split(".")))
    assert found["success"] and found["problems"] == [], found
    assert found["updates"] >= 3
