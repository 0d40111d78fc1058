"""CodeCarbon in a virtual environment of its own, cached under .bench/ (git-ignored).

CodeCarbon is a benchmark-only dependency: never a runtime or test one, never installed in
this repository's .venv. The same IPython version as ours is installed beside it, so both
tools' cells run in the same shell code.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

CODECARBON = "codecarbon==3.3.2"


def environment_folder(repo: Path) -> Path:
    return repo / ".bench" / CODECARBON.replace("==", "-")


def requirements() -> list[str]:
    return [CODECARBON, f"ipython=={metadata.version('ipython')}"]


def python_of(folder: Path) -> Path:
    return folder / "bin" / "python"


def _ready(folder: Path, wanted: list[str]) -> bool:
    marker = folder / "READY"
    return python_of(folder).exists() and marker.exists() and marker.read_text().split() == wanted


def ensure(repo: Path) -> Path:
    """The interpreter of the CodeCarbon environment, created (once) if needed."""
    folder = environment_folder(repo)
    wanted = requirements()
    if _ready(folder, wanted):
        return python_of(folder)
    print(f"creating {folder} with {' '.join(wanted)} (once; cached)", flush=True)
    pip = [str(python_of(folder)), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run(pip + wanted, check=True)
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"could not create CodeCarbon's environment {folder} ({' '.join(map(str, error.cmd))} "
            f"exited {error.returncode}): the first run needs PyPI to install {' '.join(wanted)}"
        ) from None
    (folder / "READY").write_text("\n".join(wanted) + "\n")
    return python_of(folder)
