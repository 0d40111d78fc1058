"""The sidebar ships inside the Python package: in the wheel, and enabled once installed.

`make test` builds the bundle (the pip install's build hook) before pytest runs; these tests
check what users get from `pip install carbon_magic`, with no node involved.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from carbon_magic._version import __version__

REPO = Path(__file__).resolve().parents[1]
SHARE = "share/jupyter/labextensions/carbon-magic"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_jupyter_labextension_list_shows_the_sidebar_enabled_and_ok():
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    text = ANSI.sub("", listing.stdout + listing.stderr)
    assert re.search(rf"carbon-magic v{re.escape(__version__)} enabled\s+OK \(python, carbon_magic\)", text), text


def test_the_wheel_carries_the_built_sidebar(tmp_path):
    env = {**os.environ, "HATCH_JUPYTER_BUILDER_SKIP_NPM": "1"}  # built already; no node needed here
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )
    (wheel,) = tmp_path.glob("carbon_magic-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        data = f"carbon_magic-{__version__}.data/data/{SHARE}"
        package = json.loads(archive.read(f"{data}/package.json"))
        install = json.loads(archive.read(f"{data}/install.json"))
    assert package["name"] == "carbon-magic" and package["version"] == __version__
    assert package["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
    assert f"{data}/{package['jupyterlab']['_build']['load']}" in names
    assert install["packageName"] == "carbon_magic"
    assert not any(name.startswith(("labextension/", "node_modules/", "lib/")) for name in names)
