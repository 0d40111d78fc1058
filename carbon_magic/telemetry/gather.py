"""Gathering a payload's inputs from the running process, then building it.

Called on the telemetry thread (and by ``%carbon telemetry preview``), never on a cell's
path. The environment facts that cannot change while the process runs are detected once;
what can (imports, the ledger, problems) is read at each build. Nothing here creates a
sampler, loads NVML or opens a socket.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from ..core.config import Config
from ..core.machine import machine_facts
from ..core.record import EmissionsData
from ..core.sampler import SamplerRegistry
from . import environment
from .consent import ConsentStore
from .environment import Probe, StaticEnvironment
from .levels import EXTENSIVE
from .payload import Context, PayloadInputs, build, gpus_of
from .session_facts import collect, location_of, session_sampler

# A per-process constant: the machine, OS and Python do not change while the process lives.
_static: StaticEnvironment | None = None
_static_lock = threading.Lock()


def static_environment(probe: Probe, nvml: Any) -> StaticEnvironment:
    """This process's StaticEnvironment, detected on first use."""
    global _static
    with _static_lock:
        if _static is None:
            _static = environment.static_environment(probe, nvml)
        return _static


def context(probe: Probe, shell_class: str | None, static: StaticEnvironment) -> Context:
    return Context(
        ide_used=environment.ide_used(probe, shell_class),
        notebook_environment=environment.notebook_environment(probe, shell_class),
        framework_detected=environment.framework_detected(probe),
        ml_framework_primary=environment.primary_framework(probe, static.frameworks_installed),
    )


def build_payload(
    level: str,
    config: Config,
    store: ConsentStore,
    *,
    samplers: SamplerRegistry,
    latest: EmissionsData | None = None,
    shell_class: str | None = None,
    probe: Probe | None = None,
) -> dict[str, Any]:
    """The ``level`` payload (minimal or extensive) for this process now.

    ``samplers``: the process's samplers (read, never made here); ``latest``: the latest
    tracked cell's record (its location and intensity are the session's); ``shell_class``:
    the IPython shell's class name (notebook and IDE detection).
    """
    probe = probe or Probe.current()
    sampler = session_sampler(config, samplers)
    gpus = sampler.gpus if sampler is not None else []
    # loaded by the sampler, never by us; its driver and CUDA versions are NVIDIA GPUs' only
    nvml = sys.modules.get("pynvml") if any(gpu.vendor == "NVIDIA" for gpu in gpus) else None
    static = static_environment(probe, nvml)
    extensive = level == EXTENSIVE
    fingerprint = None
    if extensive and store.choice().host_machine_hash:
        fingerprint = environment.machine_id(probe) or store.install_id()
    inputs = PayloadInputs(
        level=level,
        machine=sampler.facts if sampler is not None else machine_facts(),
        environment=static,
        location=location_of(latest, config),
        gpus=gpus_of(gpus),
        gpu_driver_version=environment.gpu_driver_version(nvml),
        secret=store.secret(),
        executable=sys.executable,
        session=collect(config, latest, samplers) if extensive else None,
        context=context(probe, shell_class, static) if extensive else None,
        host_fingerprint=fingerprint,
    )
    return build(inputs)
