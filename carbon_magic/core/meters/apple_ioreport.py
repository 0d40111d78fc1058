"""Apple silicon energy without sudo: the IOReport "Energy Model" counters, through ctypes.

What Zeus (zeus-apple-silicon) and macmon read: a subscription to the channel group "Energy
Model" of ``libIOReport.dylib``; each sample (``IOReportCreateSamples``) is a CoreFoundation
dictionary whose ``IOReportChannels`` array holds one dictionary per channel, with its name,
unit label (mJ, uJ or nJ; it differs between channels and chips) and integer counter. Two
samples give their difference (``IOReportCreateSamplesDelta``); the differences converted to
joules and summed per part are the cumulative joules ``sample()`` returns. Only the channels
that total a part are summed (``apple_soc.soc_part``); a channel of unknown unit is left out.
Every CoreFoundation object created here is released.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_bool, c_int, c_int64, c_long, c_uint32, c_uint64, c_void_p
from typing import Any, Callable, Iterator, Mapping

from .apple_soc import JOULES_PER_UNIT, AppleSocBinding, SocUnavailable, soc_part

IOREPORT_LIBRARY = "/usr/lib/libIOReport.dylib"
COREFOUNDATION_LIBRARY = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
GROUP = b"Energy Model"
CHANNELS_KEY = b"IOReportChannels"
UTF8 = 0x08000100  # kCFStringEncodingUTF8
NAME_BYTES = 256

# (library, function, result type, argument types)
SIGNATURES: tuple[tuple[str, str, Any, tuple[Any, ...]], ...] = (
    ("cf", "CFStringCreateWithCString", c_void_p, (c_void_p, ctypes.c_char_p, c_uint32)),
    ("cf", "CFStringGetCString", c_bool, (c_void_p, ctypes.c_char_p, c_long, c_uint32)),
    ("cf", "CFDictionaryGetCount", c_long, (c_void_p,)),
    ("cf", "CFDictionaryCreateMutableCopy", c_void_p, (c_void_p, c_long, c_void_p)),
    ("cf", "CFDictionaryGetValue", c_void_p, (c_void_p, c_void_p)),
    ("cf", "CFArrayGetCount", c_long, (c_void_p,)),
    ("cf", "CFArrayGetValueAtIndex", c_void_p, (c_void_p, c_long)),
    ("cf", "CFRelease", None, (c_void_p,)),
    ("io", "IOReportCopyChannelsInGroup", c_void_p, (c_void_p, c_void_p, c_uint64, c_uint64, c_uint64)),
    ("io", "IOReportCreateSubscription", c_void_p, (c_void_p, c_void_p, POINTER(c_void_p), c_uint64, c_void_p)),
    ("io", "IOReportCreateSamples", c_void_p, (c_void_p, c_void_p, c_void_p)),
    ("io", "IOReportCreateSamplesDelta", c_void_p, (c_void_p, c_void_p, c_void_p)),
    ("io", "IOReportSimpleGetIntegerValue", c_int64, (c_void_p, c_int)),
    ("io", "IOReportChannelGetChannelName", c_void_p, (c_void_p,)),
    ("io", "IOReportChannelGetUnitLabel", c_void_p, (c_void_p,)),
)


class _Api:
    """The CoreFoundation and IOReport functions, declared with their C signatures."""

    def __init__(self, load: Callable[[str], Any]):
        try:
            libraries = {"io": load(IOREPORT_LIBRARY), "cf": load(COREFOUNDATION_LIBRARY)}
        except OSError as error:
            raise SocUnavailable(f"no IOReport library ({error})") from None
        for library, name, result, arguments in SIGNATURES:
            try:
                function = getattr(libraries[library], name)
            except AttributeError:
                raise SocUnavailable(f"{IOREPORT_LIBRARY} or CoreFoundation lacks {name}") from None
            function.restype, function.argtypes = result, list(arguments)
            setattr(self, name, function)

    def __getattr__(self, name: str) -> Any:  # the functions set in __init__, for the type checker
        raise AttributeError(name)


class IOReportBinding(AppleSocBinding):
    """The "Energy Model" counters of this chip (see the module docstring). ``load`` opens a
    library by path (``ctypes.CDLL``); SocUnavailable says why there is nothing to read."""

    source = "IOReport Energy Model counters"

    def __init__(self, load: Callable[[str], Any] | None = None):
        self._api = api = _Api(load or ctypes.CDLL)
        self._key = api.CFStringCreateWithCString(None, CHANNELS_KEY, UTF8)
        group = api.CFStringCreateWithCString(None, GROUP, UTF8)
        channels = api.IOReportCopyChannelsInGroup(group, None, 0, 0, 0)
        api.CFRelease(group)
        if not channels:
            raise SocUnavailable('IOReport has no "Energy Model" channel group here')
        self._subscribed = api.CFDictionaryCreateMutableCopy(None, api.CFDictionaryGetCount(channels), channels)
        api.CFRelease(channels)
        chosen = c_void_p()  # the channels subscribed to, ours to release (the mutable copy is used)
        self._subscription = api.IOReportCreateSubscription(None, self._subscribed, byref(chosen), 0, None)
        if chosen.value:
            api.CFRelease(chosen.value)
        if not self._subscription:
            raise SocUnavailable('IOReport refused a subscription to "Energy Model"')
        self._previous = self._create_sample()
        found: dict[str, list[str]] = {}
        for name, unit, _value in self._items(self._previous):
            part = soc_part(name)
            if part is not None and unit in JOULES_PER_UNIT:
                found.setdefault(part, []).append(name)
        if not found:
            raise SocUnavailable('IOReport\'s "Energy Model" has no CPU, GPU, ANE or DRAM energy channel here')
        self._channels = {part: tuple(names) for part, names in found.items()}
        self._totals_j = dict.fromkeys(self._channels, 0.0)

    def channels(self) -> Mapping[str, tuple[str, ...]]:
        return self._channels

    def sample(self) -> Mapping[str, float]:
        api = self._api
        current = self._create_sample()
        delta = api.IOReportCreateSamplesDelta(self._previous, current, None)
        api.CFRelease(self._previous)
        self._previous = current
        if not delta:
            raise OSError("IOReportCreateSamplesDelta returned NULL")
        try:
            for name, unit, value in self._items(delta):
                part = soc_part(name)
                if part in self._totals_j and name in self._channels[part]:
                    self._totals_j[part] += value * JOULES_PER_UNIT[unit]
        finally:
            api.CFRelease(delta)
        return dict(self._totals_j)

    def _create_sample(self) -> int:
        sample = self._api.IOReportCreateSamples(self._subscription, self._subscribed, None)
        if not sample:
            raise OSError("IOReportCreateSamples returned NULL")
        return int(sample)

    def _items(self, sample: int) -> Iterator[tuple[str, str, int]]:
        """(channel name, unit label, integer value) of each channel of a sample."""
        api = self._api
        array = api.CFDictionaryGetValue(sample, self._key)
        if not array:
            return
        for index in range(api.CFArrayGetCount(array)):
            item = api.CFArrayGetValueAtIndex(array, index)
            yield (self._text(api.IOReportChannelGetChannelName(item)), self._text(api.IOReportChannelGetUnitLabel(item)),
                   int(api.IOReportSimpleGetIntegerValue(item, 0)))

    def _text(self, string: int | None) -> str:
        if not string:
            return ""
        buffer = ctypes.create_string_buffer(NAME_BYTES)
        if not self._api.CFStringGetCString(string, buffer, NAME_BYTES, UTF8):
            return ""
        return buffer.value.decode("utf-8", "replace")
