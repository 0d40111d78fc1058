"""``%load_ext carbon_magic`` in a fresh process: <= 150 ms added, no heavy imports.

Each sample is a new Python process that creates an InteractiveShell (not timed), then
times ``%load_ext carbon_magic``. An import hook notes which thread imported any of pandas,
plotly, pynvml, requests: none may be imported on the load path (the main thread); the
background hardware discovery that loading starts may import pynvml (NVML is how GPUs are
found). The baseline is the same process timing ``%load_ext`` of an extension that does
nothing (IPython's own cost of loading an extension).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import REPO, byte_compile_package, row

HEAVY = ("pandas", "plotly", "pynvml", "requests")
PROBE = r"""
import json, sys, time, contextlib, io, threading
HEAVY = %r
importers = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY:
            importers.setdefault(name, threading.current_thread().name)
        return None

sys.meta_path.insert(0, Spy())
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
with contextlib.redirect_stdout(io.StringIO()) as out:
    t0 = time.perf_counter()
    shell.run_line_magic("load_ext", sys.argv[1])
    elapsed = time.perf_counter() - t0
on_main = [name for name, thread in importers.items() if thread == "MainThread"]
in_background = [name for name, thread in importers.items() if thread != "MainThread" and name in sys.modules]
print(json.dumps({"ms": elapsed * 1e3, "heavy": on_main, "background": in_background, "said": out.getvalue()}))
""" % (HEAVY,)


def sample(extension: str, workdir: str) -> dict:
    # Offline (no geolocation request); the telemetry question as a new user has it.
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{workdir}", HOME=workdir,
               CODECARBON_COUNTRY_ISO_CODE="FRA")
    done = subprocess.run([sys.executable, "-c", PROBE, extension], capture_output=True, text=True,
                          check=True, cwd=workdir, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(runs: int = 7) -> dict:
    workdir = tempfile.mkdtemp(prefix="carbon_load_")
    with open(os.path.join(workdir, "empty_extension.py"), "w") as handle:
        handle.write("def load_ipython_extension(ip):\n    pass\n")
    byte_compile_package()  # as pip does at install
    baseline = [sample("empty_extension", workdir)["ms"] for _ in range(runs)]
    ours = [sample("carbon_magic", workdir) for _ in range(runs)]
    base = statistics.median(baseline)
    added = statistics.median(s["ms"] for s in ours) - base
    heavy = sorted({m for s in ours for m in s["heavy"]})
    background = sorted({m for s in ours for m in s["background"]})
    print(f"%load_ext carbon_magic in a fresh process ({runs} processes)")
    row("empty extension, median", f"{base:.1f} ms", "-", True)
    row("carbon_magic: median added", f"{added:.1f} ms", "<= 150 ms", added <= 150)
    row("heavy modules imported on the load path", ", ".join(heavy) or "none", "none", not heavy)
    row("imported by background discovery (by design)", ", ".join(background) or "none", "-", True)
    print(f"  it said: {ours[-1]['said'].strip()}")
    return {"added_ms": added, "heavy": heavy}


if __name__ == "__main__":
    main()
