"""Intel/AMD RAPL energy counters through the Linux powercap tree.

Domains: ``package-N`` (default, one per socket), ``dram`` (with ``rapl_include_dram``),
``psys`` (with ``rapl_prefer_psys``: the whole platform, used alone). ``core`` and
``uncore`` are parts of a package and never added to it. Counters wrap at
``max_energy_range_uj``; the sampler reads often enough that a wrap is never missed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..load import LoadSample, read_small
from ..problems import problems
from .base import CounterWentBackwards, Meter

DEFAULT_ROOTS = ("/sys/class/powercap", "/sys/devices/virtual/powercap")
_DOMAIN_DIR = re.compile(r"^intel-rapl(:\d+)+$")
# A counter delta that would mean more than this many watts per domain is a reset, not a wrap.
_MAX_PLAUSIBLE_W = 5000.0
# Assumed worst-case power per domain when sizing the read interval against wrap-around.
_WRAP_SIZING_W = 1000.0


class RaplUnavailable(Exception):
    """No usable RAPL domain; the message says why (shown once to the user)."""


@dataclass(frozen=True)
class RaplDomain:
    name: str
    energy_path: str
    max_range_uj: int


def _read_int(path: str) -> int:
    return int(read_small(path, 64))


def _domain_dirs(root: Path) -> list[tuple[str, Path]]:
    """(name, folder) of every RAPL domain below ``root``, each physical domain once."""
    seen: set[str] = set()
    found: list[tuple[str, Path]] = []
    for folder, subfolders, _files in os.walk(root, followlinks=True):
        subfolders[:] = [s for s in subfolders if _DOMAIN_DIR.match(s) or s == "intel-rapl"]
        path = Path(folder)
        if not _DOMAIN_DIR.match(path.name):
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            name = (path / "name").read_text().strip()
        except OSError:
            continue
        found.append((name, path))
    return sorted(found, key=lambda item: str(item[1]))


def discover_domains(root: str | None, include_dram: bool, prefer_psys: bool) -> list[RaplDomain]:
    """The RAPL domains to sum, or RaplUnavailable saying why there are none."""
    roots = [root] if root else list(DEFAULT_ROOTS)
    existing = [Path(r) for r in roots if Path(r).is_dir()]
    if not existing:
        raise RaplUnavailable(f"no powercap tree at {' or '.join(roots)}")
    dirs = _domain_dirs(existing[0])
    if not dirs:
        raise RaplUnavailable(f"no RAPL domains under {existing[0]}")
    psys = [(n, p) for n, p in dirs if n == "psys"]
    if prefer_psys and psys:
        chosen = psys
    else:
        chosen = [(n, p) for n, p in dirs if n.startswith("package")]
        if include_dram:
            chosen += [(n, p) for n, p in dirs if n == "dram"]
    if not chosen:
        raise RaplUnavailable(f"no package domain under {existing[0]}")
    domains = []
    for name, path in chosen:
        energy = str(path / "energy_uj")
        try:
            _read_int(energy)
            max_range = _read_int(str(path / "max_energy_range_uj"))
        except PermissionError:
            raise RaplUnavailable(
                f"{energy} is not readable (root only since Linux 5.4; "
                f"`sudo chmod -R a+r {existing[0]}/intel-rapl*` allows it)"
            ) from None
        except (OSError, ValueError) as error:
            raise RaplUnavailable(f"cannot read {energy}: {error}") from None
        domains.append(RaplDomain(name=name, energy_path=energy, max_range_uj=max_range))
    return domains


class RaplMeter(Meter):
    """Sum of RAPL domain counters, made monotonic across wrap-arounds."""

    component = "cpu"
    exact = True

    def __init__(self, domains: list[RaplDomain], fallback_factory: Callable[[], Meter | None] | None = None):
        self._domains = domains
        self._fallback_factory = fallback_factory
        self._last_uj = [_read_int(d.energy_path) for d in domains]
        self._total_j = 0.0
        self._last_now: float | None = None
        self._power_w = 0.0
        names = ", ".join(d.name for d in domains)
        self.method = f"measured: RAPL energy counters ({names})"
        smallest_range_j = min(d.max_range_uj for d in domains) / 1e6
        self.max_interval_s = max(smallest_range_j / _WRAP_SIZING_W / 2, 0.05)

    def read(self, now: float, load: LoadSample) -> float:
        added_j = 0.0
        for index, domain in enumerate(self._domains):
            raw = _read_int(domain.energy_path)
            delta_uj = raw - self._last_uj[index]
            if delta_uj < 0:
                delta_uj = self._unwrap(domain, self._last_uj[index], raw, now)
            self._last_uj[index] = raw
            added_j += delta_uj / 1e6
        if self._last_now is not None and now > self._last_now:
            self._power_w = added_j / (now - self._last_now)
        self._last_now = now
        self._total_j += added_j
        return self._total_j

    def _unwrap(self, domain: RaplDomain, old: int, new: int, now: float) -> int:
        """A counter that went down wrapped, unless that would mean an absurd power."""
        wrapped = domain.max_range_uj - old + new
        elapsed = (now - self._last_now) if self._last_now is not None else 0.0
        if elapsed > 0 and wrapped / 1e6 / elapsed <= _MAX_PLAUSIBLE_W:
            return wrapped
        problems.note(f"{self.component} meter", CounterWentBackwards(
            f"RAPL counter {domain.name} went backwards ({old} -> {new} uJ) without a plausible "
            "wrap; 0 J counted for that interval"))
        return 0

    def power_w(self) -> float:
        return self._power_w

    def fallback(self) -> Meter | None:
        return self._fallback_factory() if self._fallback_factory else None
