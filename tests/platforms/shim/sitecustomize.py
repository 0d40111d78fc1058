"""Makes this Python process look like Windows or macOS (``SIMULATED_PLATFORM``), for the real
test code of ``tests/platforms`` to run on: imported at start-up through ``PYTHONPATH``.

What Linux has and the other OS lacks is taken away (modules imported later fail as there;
attributes are deleted), the platform facts are set, and what only the other OS has is
stood in for by fakes answering like it: ``winreg``, ``msvcrt`` (its byte locks made of
``flock``s, so separate processes and separate descriptors exclude each other as on Windows;
the byte range itself is not modelled), ``sysctl`` and ``powermetrics`` (``tests/platforms/bin``)
and the IOReport energy counters (``ctypes.CDLL`` of its library: ``_fake_ioreport``). ``/proc``
and ``/sys`` cannot be opened, except by psutil, which stands for the OS's own APIs there.
Modules that pick their implementation by ``sys.platform`` when imported are imported first,
so that the test tools run on their Linux code.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import types

PLATFORM = os.environ.get("SIMULATED_PLATFORM", "")

# what each simulated OS says about itself: sys.platform, platform.system/machine/processor/platform
FACTS = {
    "windows": ("win32", "Windows", "AMD64", "Intel64 Family 6 Model 140 Stepping 1, GenuineIntel",
                "Windows-11-10.0.22631-SP0"),
    "macos": ("darwin", "Darwin", "arm64", "arm", "macOS-14.5-arm64-arm-64bit"),
}
# ``resource`` stays: carbon_magic never uses it, and the disk-full cases use its RLIMIT_FSIZE
# to fill the "disk" (a Windows disk fills by other means)
MISSING_MODULES = {"windows": ("fcntl", "pwd", "grp", "termios"), "macos": ()}
MISSING_OS_ATTRIBUTES = {
    "windows": ("pread", "pwrite", "preadv", "pwritev", "register_at_fork", "fork", "forkpty", "sched_getaffinity", "sysconf"),
    "macos": ("sched_getaffinity", "pidfd_open"),
}
# the registry's answers: SIMULATED_REGISTRY (JSON {"key\\path": {"value name": value}}) or these
DEFAULT_REGISTRY = {r"HARDWARE\DESCRIPTION\System\CentralProcessor\0":
                    {"ProcessorNameString": "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz  "}}
HIDDEN_TREES = ("/proc", "/sys")
PREIMPORTED = ("subprocess", "asyncio", "multiprocessing", "shutil", "tempfile", "uuid", "ctypes", "psutil",
               "pytest", "_pytest.capture", "IPython", "IPython.core.interactiveshell", "IPython.utils.process",
               "jupyter_client", "jupyter_client.launcher", "jupyter_client.provisioning.local_provisioner",
               "nbclient", "zmq", "tornado", "traitlets", "urllib.request", "http.server", "mimetypes")
KERNEL_PREIMPORTED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.parentpoller", "ipykernel.iostream",
                      "ipykernel.debugger")
# the Jupyter and test machinery keeps seeing Linux (its Windows code needs ctypes.windll): only
# carbon_magic and the tests see the simulated platform
TOOLS = ("pytest", "_pytest", "IPython", "jupyter_client", "jupyter_core", "nbclient", "ipykernel", "zmq",
         "tornado", "traitlets", "pluggy", "psutil", "multiprocessing", "asyncio", "subprocess", "debugpy")


def _preimport() -> None:
    import importlib

    kernel = "ipykernel" in " ".join(getattr(sys, "orig_argv", ()))
    for name in PREIMPORTED + (KERNEL_PREIMPORTED if kernel else ()):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


class _LinuxSys:
    """``sys`` for the tools: every attribute read and written through, but the real platform."""

    platform = sys.platform

    def __getattr__(self, name: str) -> object:
        return getattr(sys, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(sys, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(sys, name)


def _tools_keep_linux() -> None:
    real = _LinuxSys()
    for name, module in list(sys.modules.items()):
        if module is not None and name.split(".")[0] in TOOLS and getattr(module, "sys", None) is sys:
            module.sys = real  # type: ignore[attr-defined]


def _fake_winreg() -> types.ModuleType:
    registry = json.loads(os.environ.get("SIMULATED_REGISTRY") or "null") or DEFAULT_REGISTRY
    module = types.ModuleType("winreg")

    class Key:
        def __init__(self, values: dict):
            self.values = values

        def __enter__(self) -> "Key":
            return self

        def __exit__(self, *exc_info: object) -> None:
            return None

    def open_key(root: int, path: str, *args: object) -> Key:
        if path not in registry:
            raise FileNotFoundError(2, "The system cannot find the file specified", path)
        return Key(registry[path])

    def query_value_ex(key: Key, name: str) -> tuple[object, int]:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified", name)
        return key.values[name], 1  # REG_SZ

    module.HKEY_LOCAL_MACHINE = 0x80000002  # type: ignore[attr-defined]
    module.OpenKey = open_key  # type: ignore[attr-defined]
    module.QueryValueEx = query_value_ex  # type: ignore[attr-defined]
    return module


def _fake_msvcrt(fcntl: types.ModuleType) -> types.ModuleType:
    import errno
    import time

    module = types.ModuleType("msvcrt")
    module.LK_UNLCK, module.LK_LOCK, module.LK_NBLCK, module.LK_RLCK, module.LK_NBRLCK = range(5)  # type: ignore[attr-defined]

    def locking(fd: int, mode: int, nbytes: int) -> None:
        if mode == module.LK_UNLCK:  # type: ignore[attr-defined]
            fcntl.flock(fd, fcntl.LOCK_UN)
            return
        kind = fcntl.LOCK_SH if mode in (module.LK_RLCK, module.LK_NBRLCK) else fcntl.LOCK_EX  # type: ignore[attr-defined]
        tries = 10 if mode in (module.LK_LOCK, module.LK_RLCK) else 1  # type: ignore[attr-defined]
        for attempt in range(tries):  # as the C runtime: LK_LOCK tries 10 times, 1 s apart
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if attempt + 1 < tries:
                    time.sleep(1)
        raise OSError(errno.EDEADLK if tries > 1 else errno.EACCES, "Resource deadlock avoided" if tries > 1
                      else "Permission denied")

    module.locking = locking  # type: ignore[attr-defined]
    return module


def _hide_trees() -> None:
    real_open, real_os_open = builtins.open, os.open

    def hidden(path: object) -> bool:
        if isinstance(path, int):
            return False
        text = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
        return any(text == tree or text.startswith(tree + "/") for tree in HIDDEN_TREES) and \
            not sys._getframe(2).f_globals.get("__name__", "").startswith("psutil")

    def open_(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if hidden(file):
            raise FileNotFoundError(2, "No such file or directory (simulated platform)", str(file))
        return real_open(file, *args, **kwargs)

    def os_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if hidden(path):
            raise FileNotFoundError(2, "No such file or directory (simulated platform)", str(path))
        return real_os_open(path, *args, **kwargs)

    builtins.open = open_
    import io

    io.open = open_
    os.open = os_open


def _fake_ioreport() -> None:
    """``ctypes.CDLL`` of macOS's IOReport and CoreFoundation libraries gives fakes answering as
    there (``tests/fakes/fake_ioreport.py``) with the channels of SIMULATED_IOREPORT (JSON
    ``[[name, unit, watts], ...]``; unset: an M2 Pro's; ``absent``: no library, as on an Intel
    Mac), read at each load; every other library is loaded as usual."""
    import ctypes

    fakes: dict[str, object] = {}

    class CDLL(ctypes.CDLL):
        def __new__(cls, name: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            setting = os.environ.get("SIMULATED_IOREPORT", "")
            if setting != "absent" and isinstance(name, str) and name.startswith(("/usr/lib/", "/System/Library/")):
                from tests.fakes.fake_ioreport import M2_PRO, FakeIOReport

                if setting not in fakes:
                    fakes[setting] = FakeIOReport([tuple(c) for c in json.loads(setting)] if setting else M2_PRO)
                return fakes[setting].load(name)  # type: ignore[attr-defined]
            return super().__new__(cls)

    ctypes.CDLL = CDLL  # type: ignore[misc]


def simulate(name: str) -> None:
    import platform

    _preimport()
    import fcntl

    system_platform, system, machine, processor, full = FACTS[name]
    for module_name in MISSING_MODULES[name]:
        sys.modules[module_name] = None  # type: ignore[assignment]  # "import fcntl" raises ImportError
    for attribute in MISSING_OS_ATTRIBUTES[name]:
        if hasattr(os, attribute):
            delattr(os, attribute)
    if name == "windows":
        import io

        io._WindowsConsoleIO = type("_WindowsConsoleIO", (), {})  # type: ignore[attr-defined]  # pytest asks
        sys.modules["winreg"] = _fake_winreg()
        sys.modules["msvcrt"] = _fake_msvcrt(fcntl)
    else:
        bin_folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin")
        os.environ["PATH"] = bin_folder + os.pathsep + os.environ.get("PATH", "")
        _fake_ioreport()
    _tools_keep_linux()
    sys.platform = system_platform
    platform.system = lambda: system
    platform.machine = lambda: machine
    platform.processor = lambda: processor
    platform.platform = lambda *args, **kwargs: full
    _hide_trees()


if PLATFORM:
    simulate(PLATFORM)
