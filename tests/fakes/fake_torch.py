"""A fake ``torch`` with an initialised ``torch.cuda`` whose ``synchronize`` takes a while (queued
kernels finishing). ``hip``: a ROCm build's ``torch.version.hip`` (ROCm's torch keeps CUDA's names)."""

from __future__ import annotations

import sys
import time
import types
from typing import Any


class FakeCuda:
    def __init__(self, delay_s: float):
        self.delay_s = delay_s
        self.synchronised: list[int] = []

    def is_initialized(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def synchronize(self, device: int) -> None:
        time.sleep(self.delay_s)  # queued kernels finishing
        self.synchronised.append(device)


def install(monkeypatch: Any, delay_s: float = 0.05, hip: str | None = None) -> FakeCuda:
    module = types.ModuleType("torch")
    module.cuda = FakeCuda(delay_s)  # type: ignore[attr-defined]
    module.version = types.SimpleNamespace(cuda=None if hip else "12.4", hip=hip)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", module)
    return module.cuda  # type: ignore[attr-defined, no-any-return]
