"""benchmarks/gpu_check.py runs end to end (fake NVML and a fake torch stand in for the GPU)."""

from __future__ import annotations

import bisect
import sys
import time
import types

from tests.fakes.fake_pynvml import FakeGpu, install


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


def fake_torch(monkeypatch, gpu: WorkProfile) -> None:
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
    monkeypatch.setitem(sys.modules, "torch", module)


def test_gpu_check_prints_its_table_and_meets_targets_on_a_steady_gpu(monkeypatch, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)

    work = WorkProfile(idle_w=50.0, joules_per_product=0.4)
    install(monkeypatch, [FakeGpu(work, update_s=0.1)])
    fake_torch(monkeypatch, work)
    monkeypatch.setattr(gpu_check, "REFERENCE_S", 2.0)
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", "--quick"])
    gpu_check.main()
    out = capsys.readouterr().out
    assert "counter updates every 100 ms" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip().endswith("%")}
    assert list(rows) == ["0.05s", "0.15s", "0.50s", "2.00s"]
    assert rows["0.05s"][2] == "0.0"  # a raw read cannot see a window shorter than one update
    ours, raw = float(rows["2.00s"][1]), float(rows["2.00s"][2])
    assert abs(ours - raw) / raw < 0.12  # raw is itself off by up to one 40 J step at each end
    assert "targets (>= 500 ms)" in out
