"""Waiting for queued GPU work at window boundaries, so each window gets its own energy.

GPU work is asynchronous: a cell can end while its kernels still run, and that energy would
land in the next cell. Only frameworks the user has already imported AND initialised are
synchronised; none is ever imported here (importing torch alone takes seconds). torch built for
ROCm (``torch.version.hip`` set) keeps ``torch.cuda``'s names for AMD GPUs: the same calls
synchronise them.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

from .problems import problems


def _torch() -> bool:
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return False
    for device in range(cuda.device_count()):
        cuda.synchronize(device)
    return True


def _cupy() -> bool:
    cupy = sys.modules.get("cupy")
    cuda = getattr(cupy, "cuda", None)
    if cuda is None:
        return False
    for device in range(cuda.runtime.getDeviceCount()):
        with cuda.Device(device):
            cuda.runtime.deviceSynchronize()
    return True


def _jax() -> bool:
    jax = sys.modules.get("jax")
    if jax is None:
        return False
    bridge = sys.modules.get("jax._src.xla_bridge")
    initialised = getattr(bridge, "backends_are_initialized", None)
    if initialised is None or not initialised():
        return False
    jax.block_until_ready(jax.live_arrays())
    return True


FRAMEWORKS: dict[str, Callable[[], bool]] = {"torch": _torch, "cupy": _cupy, "jax": _jax}


def synchronize_frameworks() -> tuple[list[str], float]:
    """Synchronise every imported, initialised framework; (their names, seconds it took).

    A framework whose synchronise fails is counted in ``problems`` and skipped.
    """
    started = time.perf_counter()
    synchronised = []
    for name, synchronise in FRAMEWORKS.items():
        if name not in sys.modules:
            continue
        try:
            if synchronise():
                synchronised.append(name)
        except Exception as error:
            problems.note(f"{name} synchronise", error)
    return synchronised, time.perf_counter() - started
