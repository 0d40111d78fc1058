"""Print ``name==lowest`` for packages of pyproject.toml's dependencies, from their ``>=`` bounds.

`make test` installs the live panel's widget libraries at these versions in .cache/lowest-panel
(``python scripts/lowest_pins.py plotly ipywidgets anywidget``), and
tests/test_panel_lowest_versions.py runs the panel's Python side against them.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def lowest_pins(names: list[str]) -> list[str]:
    """``name==version`` for each name, from its ``name>=version`` bound in [project].dependencies."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    bounds = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", d.split(";")[0].strip()).groups()
                  for d in dependencies if ">=" in d)
    missing = [name for name in names if name not in bounds]
    if missing:
        raise SystemExit(f"no '>=' bound in {PYPROJECT.name}'s dependencies for {', '.join(missing)}")
    return [f"{name}=={bounds[name]}" for name in names]


if __name__ == "__main__":
    print(" ".join(lowest_pins(sys.argv[1:])))
