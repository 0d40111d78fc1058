"""Fake ``libIOReport.dylib`` and CoreFoundation, answering the C calls that
``carbon_magic.core.meters.apple_ioreport`` makes through ctypes as macOS does.

``FakeIOReport(channels).load`` stands for ``ctypes.CDLL``: the two Apple paths give fake
libraries whose functions take and return what the C ones do (CoreFoundation objects as
integer references, strings copied into the caller's buffer); any other path raises OSError as
dlopen does. Each channel is (name, unit label, watts): its counter is watts x seconds since
the fake was made, in the channel's unit, truncated to an integer (the chip's counters are
integers too). ``clock`` gives the seconds (``time.monotonic`` by default). ``fail`` makes
IOReportCreateSamples return NULL; ``live`` counts the CoreFoundation objects not yet released.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any, Callable, Sequence

from carbon_magic.core.meters.apple_ioreport import COREFOUNDATION_LIBRARY, IOREPORT_LIBRARY
from carbon_magic.core.meters.apple_soc import JOULES_PER_UNIT

# An M2 Pro's "Energy Model" channels that matter (the real group has dozens more: clusters, cores, SRAM)
M2_PRO = (
    ("ECPU", "mJ", 0.4), ("PCPU", "mJ", 3.6), ("CPU Energy", "mJ", 4.0), ("GPU Energy", "nJ", 2.0),
    ("GPU SRAM", "mJ", 0.1), ("ANE", "mJ", 0.5), ("DRAM", "mJ", 1.0), ("DISP", "mJ", 0.7),
)
Channel = tuple[str, str, float]


class _Function:
    """A C function as ctypes shows it: callable, with settable restype and argtypes."""

    def __init__(self, body: Callable[..., Any]):
        self.body = body
        self.restype: Any = None
        self.argtypes: Any = None

    def __call__(self, *arguments: Any) -> Any:
        return self.body(*arguments)


class _Library:
    def __init__(self, functions: dict[str, Callable[..., Any]]):
        for name, body in functions.items():
            setattr(self, name, _Function(body))


class FakeIOReport:
    def __init__(self, channels: Sequence[Channel] = M2_PRO, clock: Callable[[], float] = time.monotonic):
        self.channels = list(channels)
        self.clock = clock
        self.started = clock()
        self.fail = False
        self.loads: list[str] = []
        self._objects: dict[int, Any] = {}
        self._owned: dict[int, list[int]] = {}
        self._next = 0x1000
        cf = {name: getattr(self, name) for name in (
            "CFStringCreateWithCString", "CFStringGetCString", "CFDictionaryGetCount", "CFDictionaryCreateMutableCopy",
            "CFDictionaryGetValue", "CFArrayGetCount", "CFArrayGetValueAtIndex", "CFRelease")}
        io = {name: getattr(self, name) for name in (
            "IOReportCopyChannelsInGroup", "IOReportCreateSubscription", "IOReportCreateSamples",
            "IOReportCreateSamplesDelta", "IOReportSimpleGetIntegerValue", "IOReportChannelGetChannelName",
            "IOReportChannelGetUnitLabel")}
        self._libraries = {COREFOUNDATION_LIBRARY: _Library(cf), IOREPORT_LIBRARY: _Library(io)}

    # -- what the tests use -----------------------------------------------------------------
    def load(self, path: str) -> Any:
        """``ctypes.CDLL(path)``."""
        self.loads.append(path)
        if path not in self._libraries:
            raise OSError(f"dlopen({path}, 0x0006): tried: '{path}' (no such file)")
        return self._libraries[path]

    @property
    def live(self) -> int:
        """CoreFoundation objects created and not released (their parts not counted)."""
        return len(self._owned)

    def counter(self, channel: Channel, at: float) -> int:
        name, unit, watts = channel
        return int(watts * (at - self.started) / JOULES_PER_UNIT.get(unit, 1e-3))

    # -- object references ------------------------------------------------------------------
    def _new(self, value: Any, owner: int | None = None) -> int:
        self._next += 16
        self._objects[self._next] = value
        if owner is None:
            self._owned[self._next] = []
        else:
            self._owned[owner].append(self._next)
        return self._next

    def _get(self, reference: Any) -> Any:
        key = reference.value if isinstance(reference, ctypes.c_void_p) else reference
        if key not in self._objects:
            raise AssertionError(f"use of a released or unknown CoreFoundation object {key!r}")
        return self._objects[key]

    def _string(self, text: str, owner: int) -> int:
        return self._new(("string", text), owner)

    def _channel_array(self, values: Sequence[int]) -> int:
        sample = self._new(None)
        items = [self._new(("channel", self._string(name, sample), self._string(unit, sample), value), sample)
                 for (name, unit, _watts), value in zip(self.channels, values)]
        array = self._new(("array", items), sample)
        self._objects[sample] = ("dict", {"IOReportChannels": array}, tuple(values))
        return sample

    # -- CoreFoundation -----------------------------------------------------------------------
    def CFStringCreateWithCString(self, allocator: Any, text: bytes, encoding: int) -> int:
        return self._new(("string", text.decode()))

    def CFStringGetCString(self, string: int, buffer: Any, size: int, encoding: int) -> bool:
        kind, text = self._get(string)
        data = text.encode()
        if kind != "string" or len(data) + 1 > size:
            return False
        ctypes.memmove(buffer, data + b"\0", len(data) + 1)
        return True

    def CFDictionaryGetCount(self, dictionary: int) -> int:
        return len(self._get(dictionary)[1])

    def CFDictionaryCreateMutableCopy(self, allocator: Any, capacity: int, dictionary: int) -> int:
        return self._new(("dict", dict(self._get(dictionary)[1]), None))

    def CFDictionaryGetValue(self, dictionary: int, key: int) -> int | None:
        return self._get(dictionary)[1].get(self._get(key)[1])

    def CFArrayGetCount(self, array: int) -> int:
        return len(self._get(array)[1])

    def CFArrayGetValueAtIndex(self, array: int, index: int) -> int:
        return self._get(array)[1][index]

    def CFRelease(self, reference: int) -> None:
        self._get(reference)
        for part in self._owned.pop(reference, []):
            del self._objects[part]
        del self._objects[reference]

    # -- IOReport -----------------------------------------------------------------------------
    def IOReportCopyChannelsInGroup(self, group: int, subgroup: Any, a: int, b: int, c: int) -> int | None:
        if self._get(group)[1] != "Energy Model" or not self.channels:
            return None
        return self._new(("dict", {"IOReportChannels": None, "group": "Energy Model"}, None))

    def IOReportCreateSubscription(self, unused: Any, channels: int, subscribed: Any, d: int, e: Any) -> int:
        """Also sets ``*subscribed`` (passed ``byref``) to a new dictionary of the channels chosen."""
        self._get(channels)
        subscribed._obj.value = self._new(("dict", dict(self._get(channels)[1]), None))
        return self._new(("subscription", {}))

    def IOReportCreateSamples(self, subscription: int, channels: int, unused: Any) -> int | None:
        self._get(subscription)
        if self.fail:
            return None
        now = self.clock()
        return self._channel_array([self.counter(channel, now) for channel in self.channels])

    def IOReportCreateSamplesDelta(self, first: int, second: int, unused: Any) -> int:
        before, after = self._get(first)[2], self._get(second)[2]
        return self._channel_array([b - a for a, b in zip(before, after)])

    def IOReportSimpleGetIntegerValue(self, item: int, index: int) -> int:
        return self._get(item)[3]

    def IOReportChannelGetChannelName(self, item: int) -> int:
        return self._get(item)[1]

    def IOReportChannelGetUnitLabel(self, item: int) -> int:
        return self._get(item)[2]
