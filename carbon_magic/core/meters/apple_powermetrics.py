"""Apple silicon energy from ``powermetrics``, where it runs without a password prompt.

powermetrics needs root: it is used only when this process is root or ``sudo -n`` (no
prompt, never a password asked for) lets it run. It is started once, ``powermetrics --samplers
cpu_power,gpu_power -f plist -i <ms>``, and prints one plist per interval (NUL-separated)
whose ``processor`` dictionary has ``cpu_energy``, ``gpu_energy`` and ``ane_energy`` in mJ
for that interval. A reader thread adds them up; ``sample()`` gives the totals of the
samples printed so far, so a reading lags by up to one interval (``INTERVAL_MS``; said in
the method). powermetrics reports no DRAM energy: RAM stays with the machine model. A forked
child cannot read it (the reader thread stays in the parent): its meters fall back to the model.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import threading
from typing import IO, Callable, Mapping

from .apple_soc import AppleSocBinding, SocUnavailable

INTERVAL_MS = 100
FIRST_SAMPLE_TIMEOUT_S = 10.0  # discovery runs in the background: a cell never waits for it
# powermetrics' processor keys (mJ per interval) -> parts
ENERGY_KEYS = {"cpu": "cpu_energy", "gpu": "gpu_energy", "ane": "ane_energy"}
SUDO_CHECK_TIMEOUT_S = 5.0


def powermetrics_command(euid: int, which: Callable[[str], str | None] = shutil.which,
                         run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run) -> list[str]:
    """The command that runs powermetrics without a password prompt, or SocUnavailable saying
    why there is none. ``euid``: this process's effective user id (root needs no sudo)."""
    program = which("powermetrics")
    if program is None:
        raise SocUnavailable("no powermetrics command")
    command = [program, "--samplers", "cpu_power,gpu_power", "-f", "plist", "-i", str(INTERVAL_MS)]
    if euid == 0:
        return command
    sudo = which("sudo")
    if sudo is None:
        raise SocUnavailable("powermetrics needs root and there is no sudo")
    try:
        checked = run([sudo, "-n", program, "-h"], capture_output=True, timeout=SUDO_CHECK_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as error:
        raise SocUnavailable(f"sudo -n {program} failed ({error})") from None
    if checked.returncode != 0:
        raise SocUnavailable(f"powermetrics needs root and `sudo -n` would ask for a password "
                             f"(a sudoers NOPASSWD rule for {program} allows it)")
    return [sudo, "-n", *command]


class PowermetricsBinding(AppleSocBinding):
    """A running powermetrics' samples added up (see the module docstring)."""

    source = f"powermetrics energy per {INTERVAL_MS} ms sample (a reading lags by up to one sample)"

    def __init__(self, command: list[str], first_sample_timeout_s: float | None = None):
        if first_sample_timeout_s is None:
            first_sample_timeout_s = FIRST_SAMPLE_TIMEOUT_S
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)
        except OSError as error:
            raise SocUnavailable(f"powermetrics did not start ({error})") from None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._totals_j: dict[str, float] = {}
        self._first = threading.Event()
        self._ended: str | None = None
        assert self._process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self._process.stdout,),
                                        name="carbon_magic-powermetrics", daemon=True)
        self._reader.start()
        if not self._first.wait(first_sample_timeout_s) or self._ended is not None:
            self._process.kill()
            raise SocUnavailable(f"powermetrics gave no sample ({self._ended or f'none in {first_sample_timeout_s:g} s'})")
        self._channels = {part: (f"{key} (mJ)",) for part, key in ENERGY_KEYS.items() if part in self._totals_j}
        if not self._channels:
            self._process.kill()
            raise SocUnavailable("powermetrics' samples have no cpu_energy, gpu_energy or ane_energy")

    def _read(self, stream: IO[bytes]) -> None:
        pending = b""
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            pending += chunk
            *documents, pending = pending.split(b"\0")
            for document in documents:
                if document.strip():
                    self._add(document)
        stderr = self._process.stderr.read() if self._process.stderr else b""
        status = self._process.wait()
        self._ended = f"exit status {status}: {stderr.decode(errors='replace').strip()[:200]}"
        self._first.set()

    def _add(self, document: bytes) -> None:
        try:
            processor = plistlib.loads(document.strip()).get("processor", {})
        except Exception as error:  # a torn or foreign document: skipped, said once
            from ..problems import problems

            problems.note("powermetrics", error)
            return
        with self._lock:
            for part, key in ENERGY_KEYS.items():
                if key in processor:
                    self._totals_j[part] = self._totals_j.get(part, 0.0) + float(processor[key]) / 1e3
        self._first.set()

    def channels(self) -> Mapping[str, tuple[str, ...]]:
        return self._channels

    def close(self) -> None:
        """Stop powermetrics (it also ends by itself when this process does: its output pipe closes)."""
        self._process.kill()
        self._reader.join()

    def sample(self) -> Mapping[str, float]:
        if self._ended is not None:
            raise OSError(f"powermetrics ended ({self._ended})")
        if os.getpid() != self._pid:  # a forked child: the reader thread stayed in the parent
            raise OSError("powermetrics is read by the parent process, not this forked child")
        with self._lock:
            return dict(self._totals_j)


def open_powermetrics() -> PowermetricsBinding:
    """powermetrics when it runs without a password prompt, else SocUnavailable saying why."""
    geteuid = getattr(os, "geteuid", None)
    return PowermetricsBinding(powermetrics_command(geteuid() if geteuid else -1))
