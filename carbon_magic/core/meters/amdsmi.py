"""AMD GPUs through amdsmi (AMD's maintained Python binding of the AMD SMI library, ROCm).

Each GPU is one ledger component ``gpu:<index>``, numbered after the NVIDIA GPUs. Its energy
is ``amdsmi_get_energy_count``'s accumulator x its resolution (µJ; the key is
``energy_accumulator`` since amdsmi 6.2.1, ``power`` before); where a GPU has no counter its
power (``amdsmi_get_power_info``: ``current_socket_power``, else ``average_socket_power``, W)
is integrated. The counter's update period is measured (``vendor_gpu``): about 1 ms on an
MI300, final at once; slower on older cards, settled as NVML's. A counter that goes back is
a 32-bit wrap when it went back across 2^32 by less than half of it, otherwise a driver reset.
"""

from __future__ import annotations

from typing import Any, Iterable

from .gpu import GpuInfo, GpuLibraryUnavailable
from .vendor_gpu import VendorGpuMeter

WRAP_32 = 2**32


class AmdSmiUnavailable(GpuLibraryUnavailable):
    """No amdsmi, no ROCm library or driver, or no GPU; the message says which."""


def _one_line(error: BaseException) -> str:
    """amdsmi's errors read 'Error code:\\n\\t34 | AMDSMI_STATUS_...': one line of it."""
    return " ".join(str(error).split()) or type(error).__name__


def load_amdsmi() -> Any:
    """Import and initialise amdsmi (AMD GPUs only), or raise AmdSmiUnavailable."""
    try:
        import amdsmi
    except ImportError:
        raise AmdSmiUnavailable("amdsmi is not installed", installed=False) from None
    except Exception as error:  # OSError: libamd_smi.so not found; AttributeError: ROCm version mismatch
        raise AmdSmiUnavailable(f"amdsmi did not load ({type(error).__name__}: {_one_line(error)})") from None
    try:
        amdsmi.amdsmi_init()
    except Exception as error:  # AmdSmiLibraryException: driver not loaded, no permission, ...
        raise AmdSmiUnavailable(f"amdsmi did not start ({_one_line(error)})") from None
    return amdsmi


def _number(value: Any) -> float | None:
    """amdsmi's figure, or None for its 'N/A' (and anything else that is not a number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def socket_power_w(amdsmi: Any, handle: Any) -> float | None:
    """The GPU's power in watts: the instant figure (MI300), else the average (MI200 and older)."""
    info = amdsmi.amdsmi_get_power_info(handle)
    for key in ("current_socket_power", "average_socket_power"):
        power = _number(info.get(key))
        if power is not None:
            return power
    return None


def raw_energy(amdsmi: Any, handle: Any) -> tuple[int, float]:
    """The energy counter and its resolution in µJ per count."""
    count = amdsmi.amdsmi_get_energy_count(handle)
    raw = count["energy_accumulator"] if "energy_accumulator" in count else count["power"]
    return int(raw), float(count["counter_resolution"])


def _has_counter(amdsmi: Any, handle: Any) -> bool:
    try:
        return raw_energy(amdsmi, handle)[1] > 0
    except Exception:  # AMDSMI_STATUS_NOT_SUPPORTED, a key missing
        return False


def _memory_gb(amdsmi: Any, handle: Any) -> float:
    try:
        return float(amdsmi.amdsmi_get_gpu_vram_usage(handle)["vram_total"]) * 2**20 / 1e9  # MiB
    except Exception:
        return 0.0


def _name(amdsmi: Any, handle: Any) -> str:
    try:
        name = str(amdsmi.amdsmi_get_gpu_asic_info(handle)["market_name"]).strip()
    except Exception:
        return "AMD GPU"
    return name if name and name != "N/A" else "AMD GPU"


def gpu_infos(amdsmi: Any, first_index: int, notes: list[str]) -> list[tuple[GpuInfo, Any]]:
    """Every AMD GPU amdsmi sees that can be measured, with its handle, numbered from
    ``first_index``; one that has neither an energy counter nor a power figure is said in ``notes``."""
    found: list[tuple[GpuInfo, Any]] = []
    for position, handle in enumerate(amdsmi.amdsmi_get_processor_handles()):
        info = GpuInfo(
            index=first_index + len(found),
            name=_name(amdsmi, handle),
            uuid=str(amdsmi.amdsmi_get_gpu_device_uuid(handle)),
            has_counter=_has_counter(amdsmi, handle),
            memory_total_gb=_memory_gb(amdsmi, handle),
            vendor="AMD",
            vendor_index=position,
        )
        if not info.has_counter and socket_power_w(amdsmi, handle) is None:
            notes.append(f"AMD GPU {position} ({info.name}) not measured: amdsmi gives neither its energy "
                         "counter nor its power.")
            continue
        found.append((info, handle))
    return found


class AmdSmiGpuMeter(VendorGpuMeter):
    """One AMD GPU (see ``VendorGpuMeter`` and the module docstring)."""

    library = "amdsmi"

    def __init__(self, amdsmi: Any, handle: Any, info: GpuInfo, now: float, **kwargs: str):
        self._amdsmi = amdsmi
        self._handle = handle
        self._last_raw: int | None = None
        self._wraps = 0
        super().__init__(info, now, **kwargs)

    def _read_counter_j(self) -> float:
        raw, resolution_uj = raw_energy(self._amdsmi, self._handle)
        last = self._last_raw
        if last is not None and raw < last and last < WRAP_32 and (raw - last) % WRAP_32 < WRAP_32 // 2:
            self._wraps += 1
        self._last_raw = raw
        return (raw + self._wraps * WRAP_32) * resolution_uj / 1e6

    def _read_power_w(self) -> float | None:
        return socket_power_w(self._amdsmi, self._handle)

    def _read_utilisation(self) -> float | None:
        activity = _number(self._amdsmi.amdsmi_get_gpu_activity(self._handle)["gfx_activity"])
        return None if activity is None else activity / 100.0

    def _process_ids(self) -> Iterable[int]:
        """amdsmi 6.1+ lists dicts; older versions list process handles to ask about."""
        for process in self._amdsmi.amdsmi_get_gpu_process_list(self._handle):
            if not isinstance(process, dict):
                process = self._amdsmi.amdsmi_get_gpu_process_info(self._handle, process)
            yield int(process["pid"])

    def _without_counter(self, info: GpuInfo, now: float, why: str) -> AmdSmiGpuMeter:
        return AmdSmiGpuMeter(self._amdsmi, self._handle, info, now, no_counter=why)
