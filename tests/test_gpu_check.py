"""benchmarks/gpu_check.py runs end to end (fake NVML and a fake torch stand in for the GPU)."""

from __future__ import annotations

import bisect
import importlib.util
import re
import subprocess
import sys
import time
import types
from pathlib import Path


class WorkProfile:
    """A GPU whose energy follows the work done, as a real one under load: idle power plus a
    fixed energy per matrix product, whenever it ran (not how long Python took to queue it)."""

    def __init__(self, idle_w: float, joules_per_product: float):
        self.idle_w = idle_w
        self.joules_per_product = joules_per_product
        self.products: list[float] = []

    def run_product(self) -> None:
        time.sleep(0.001)
        self.products.append(time.monotonic())

    def energy_j(self, t0: float, t1: float) -> float:
        done = bisect.bisect_right(self.products, t1) - bisect.bisect_right(self.products, t0)
        return self.idle_w * (t1 - t0) + self.joules_per_product * done

    def power(self, t: float) -> float:
        return self.energy_j(t - 0.1, t) / 0.1


def fake_torch_module(gpu: WorkProfile) -> types.ModuleType:
    """Enough of torch for the script: each 'matrix product' is 1 ms of work on the fake GPU."""
    cuda = types.SimpleNamespace(
        is_available=lambda: True, init=lambda: None, is_initialized=lambda: True,
        device_count=lambda: 1, synchronize=lambda device=None: None,
    )
    module = types.ModuleType("torch")
    module.cuda = cuda
    module.__version__ = "fake"
    module.bfloat16 = "bfloat16"
    module.randn = lambda *shape, device=None, dtype=None: object()
    module.matmul = lambda a, b: gpu.run_product()
    return module


def load_gpu_check():
    """The script as a module named ``gpu_check`` (registered, as its dataclass needs), without
    running main()."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    gpu_check = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = gpu_check
    spec.loader.exec_module(gpu_check)
    return gpu_check


# Run in a fresh interpreter, as on the GPU machine: whether IPython gets imported is then the
# script's doing, not that of tests that ran before in this process.
DRIVER = """
import sys
sys.path.insert(0, {repo!r})
from tests.fakes.fake_pynvml import FakeGpu, FakeNvml
from tests.test_gpu_check import WorkProfile, fake_torch_module, load_gpu_check

work = WorkProfile(idle_w=50.0, joules_per_product=0.4)
sys.modules["pynvml"] = FakeNvml([FakeGpu(work, update_s=0.1)])
sys.modules["torch"] = fake_torch_module(work)
gpu_check = load_gpu_check()
gpu_check.REFERENCE_S = 2.0
gpu_check.QUICK_WINDOWS_S = (0.05, 0.5, 1.0)
sys.argv = ["gpu_check.py", "--quick"]
sys.exit(gpu_check.main())
"""


def test_gpu_check_prints_its_table_and_its_aligned_windows_agree_with_the_raw_counter():
    repo = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", DRIVER.format(repo=repo)], capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert done.returncode in (0, 1), done.stderr  # 1: a free window off its reference (printed)
    assert "on NVIDIA H100 80GB HBM3, driver 580.159.04, torch fake" in out
    assert "counter updates every 100 ms" in out
    rows = {tuple(line.split()[:2]): line.split() for line in out.splitlines() if re.match(r"\s*\d+\.\d+s ", line)}
    assert list(rows) == [(w, ends) for w in ("0.05s", "0.50s", "1.00s") for ends in ("aligned", "free")]
    for window in ("0.50s", "1.00s"):
        ours, raw = float(rows[(window, "aligned")][2]), float(rows[(window, "aligned")][3])
        assert abs(ours - raw) / raw < 0.01  # aligned ends: the raw reads are exact there
        ours, reference = float(rows[(window, "free")][2]), float(rows[(window, "free")][6])
        assert abs(ours - reference) / reference < 0.10
    # free ends: a raw read of a window shorter than one update sees 0 or 1 step, never the energy
    ours_short, raw_short = float(rows[("0.05s", "free")][2]), float(rows[("0.05s", "free")][3])
    assert raw_short == 0.0 or raw_short > 2 * ours_short
    assert "targets (windows >= 500 ms)" in out
    assert "IPython imported: no" in out
    assert "CodeCarbon: not importable" in out


def test_targets_apply_from_500_ms_to_aligned_windows_against_raw_and_free_ones_against_the_reference():
    gpu_check = load_gpu_check()

    def window(seconds, ends, ours, raw, reference=None):
        return gpu_check.Window(seconds, ends, ours, False, raw, raw, None, reference)

    assert not gpu_check.misses(window(0.5, "aligned", 100.9, 100.0))
    assert gpu_check.misses(window(0.5, "aligned", 101.5, 100.0))
    assert gpu_check.misses(window(2.0, "aligned", 10.0, 0.0))  # a raw read of 0 J cannot be compared
    assert not gpu_check.misses(window(0.15, "aligned", 150.0, 100.0))  # below 500 ms: shown, no target
    assert not gpu_check.misses(window(0.5, "free", 101.9, 150.0, reference=100.0))  # raw is off by a step
    assert gpu_check.misses(window(0.5, "free", 103.0, 103.0, reference=100.0))


def test_gpu_check_names_what_it_is_missing(monkeypatch, capsys):
    gpu_check = load_gpu_check()
    monkeypatch.setattr(gpu_check, "NEEDED", (("no_such_module_for_gpu_check", "a thing"),))
    assert gpu_check.main() == 2
    assert "gpu_check needs: no_such_module_for_gpu_check (a thing)" in capsys.readouterr().err
