"""What a release is made of: the version written once (package.json), a wheel built from the
sdist without node even when unpacking did not keep file times, the licence and the type marker.

The builds run hatchling in this environment (`make test` installs the build plug-ins with the
test extras) on a copy of the working tree, with node and npm out of PATH.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import carbon_magic

REPO = Path(__file__).resolve().parents[1]
BUNDLE = "carbon_magic/labextension"
SHARE = "share/jupyter/labextensions/carbon-magic"
RELEASE = "9.8.7"  # a version only the copy's package.json says


def package_json_version(root: Path = REPO) -> str:
    return json.loads((root / "package.json").read_text())["version"]


def copy_working_tree(dest: Path) -> Path:
    """The files git would put in a commit now (tracked or new, not ignored), plus the built
    sidebar, which is a build artefact outside git."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert (REPO / BUNDLE / "static/style.js").is_file(), "build the sidebar first (make install)"
    shutil.copytree(REPO / BUNDLE, dest / BUNDLE)
    return dest


def without_node() -> dict[str, str]:
    """The environment with only this Python's own bin folder on PATH: no node, no npm."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HATCH_JUPYTER_BUILDER")}
    env["PATH"] = str(Path(sys.executable).parent)
    assert shutil.which("node", path=env["PATH"]) is None and shutil.which("npm", path=env["PATH"]) is None
    return env


def hatchling_build(target: str, source: Path, out: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(out)],
                          cwd=source, env=without_node(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("*.whl" if target == "wheel" else "*.tar.gz")
    return built


def test_the_installed_version_is_package_json_version():
    from importlib.metadata import version

    assert carbon_magic.__version__ == version("carbon_magic") == package_json_version()


def test_a_wheel_builds_from_the_sdist_without_node_after_tar_m(tmp_path):
    tree = copy_working_tree(tmp_path / "tree")
    package = json.loads((tree / "package.json").read_text())
    (tree / "package.json").write_text(json.dumps({**package, "version": RELEASE}, indent=2) + "\n")
    assert not (tree / "carbon_magic/_build_version.py").exists()  # written by the build only

    sdist = hatchling_build("sdist", tree, tmp_path / "sdist")
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    # -m: every file gets the time of unpacking, so the sources look newer than the bundle
    subprocess.run(["tar", "-xzmf", str(sdist), "-C", str(unpacked)], check=True)
    (root,) = unpacked.iterdir()
    wheel = hatchling_build("wheel", root, tmp_path / "wheel")

    assert wheel.name.startswith(f"carbon_magic-{RELEASE}-")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = email.message_from_bytes(archive.read(f"carbon_magic-{RELEASE}.dist-info/METADATA"))
        version_module = archive.read("carbon_magic/_build_version.py").decode()
        licence = archive.read(f"carbon_magic-{RELEASE}.dist-info/licenses/LICENSE").decode()
    data = f"carbon_magic-{RELEASE}.data/data/{SHARE}"
    assert {f"{data}/static/style.js", f"{data}/package.json", f"{data}/install.json"} <= names
    assert metadata["Version"] == RELEASE and f"'{RELEASE}'" in version_module
    assert metadata["License-Expression"] == "MIT"
    assert "Framework :: Jupyter :: JupyterLab :: Extensions :: Prebuilt" in metadata.get_all("Classifier")
    assert "carbon_magic/py.typed" in names
    assert "MIT License" in licence and "Code Carbon" in licence and "cpu_tdp.csv" in licence


def test_a_source_tree_never_built_reads_its_version_from_package_json(tmp_path):
    tree = copy_working_tree(tmp_path / "tree")
    package = json.loads((tree / "package.json").read_text())
    (tree / "package.json").write_text(json.dumps({**package, "version": RELEASE}))
    # -S: no site-packages, so the copy (not the installed package) is imported
    done = subprocess.run([sys.executable, "-S", "-c", "import carbon_magic; print(carbon_magic.__version__)"],
                          cwd=tree, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == RELEASE
