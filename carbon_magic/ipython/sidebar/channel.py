"""The kernel's end of the sidebar's comm target (schema: ``protocol``; docs/sidebar-protocol.md).

How a front end finds a kernel's carbon figures, in either order:

- ``%load_ext carbon_magic`` registers the target and opens an ``announce`` comm; every
  front end that registered the target on this kernel hears it, and gets ``hello`` and then
  ``state`` on that comm at once (it is a peer like any other).
- A front end that comes later (a sidebar opened afterwards, a page reload, a kernel
  started with the extension in its config) opens its comm to the target directly; before
  the extension is loaded ipykernel closes it at once, which the front end reads as "not
  loaded".

Each comm a front end opens is a peer. Its first message is ``hello`` (with the full state),
then ``state`` at most once per MIN_INTERVAL_S while anything changes: on every sampler tick
(the sidebar holds a 1 s sampling lease while a peer is attached), when a tracked window
starts or finishes, and after each execution. Peers must say ``refresh`` every KEEPALIVE_S
while the kernel is idle; one silent for PEER_EXPIRY_S of idle time (a closed browser tab) is
closed, so forgotten comms never pile up. A running cell holds front ends' requests back, so
its time counts only towards PEER_BUSY_EXPIRY_S of silence in all: a peer goes even while a
very long cell runs (an open sidebar asks again once the kernel reads requests). At most
MAX_PEERS are kept. A reply's parent header keeps only PARENT_HEADER_KEYS of the request's,
each cut to MAX_HEADER_VALUE_CHARS: what a front end sent is never echoed back unbounded.

Sending from the sampler thread: messages go through ``kernel.session.send`` on the kernel's
IOPub socket, which in ipykernel 6 and 7 is a thread-safe socket served by the IOPub thread,
with an explicit parent header: that of the peer's latest request. ipykernel 7 keeps the
parent in a context variable that a plain thread does not see (it falls back to the latest
shell request), so nothing is left to which thread sends.

What the channel reads of the loaded extension comes in one ``KernelSources``, built by the
extension: the Session's listeners, the shell's events, hardware discovery, the location and
whether ``%carbon on`` is active; it never sees the extension itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..._version import __version__
from ...core.config import ConfigError
from ...core.problems import problems
from . import protocol
from .history import KernelHistory

if TYPE_CHECKING:
    from ...core.ledger import Reading
    from ...core.record import EmissionsData
    from ..records import CellRecord, TrackedWindow

MAX_PEERS = 8
PEER_EXPIRY_S = 45.0
PEER_BUSY_EXPIRY_S = 900.0
PARENT_HEADER_KEYS = ("msg_id", "msg_type", "session", "username", "date", "version")
MAX_HEADER_VALUE_CHARS = 200
LIVE_INTERVAL_S = 1.0
WARMUP_WAIT_S = 120.0


class Listeners(Protocol):
    """Where the channel hears of tracked windows (the Session: ``cell_started``,
    ``cell_finished``, ``cell_finalized``)."""

    def add_listener(self, listener: Any) -> None: ...

    def remove_listener(self, listener: Any) -> None: ...


class Events(Protocol):
    """IPython's ``shell.events`` (``pre_execute``, ``post_execute``)."""

    def register(self, event: str, function: Callable[..., Any]) -> None: ...

    def unregister(self, event: str, function: Callable[..., Any]) -> None: ...


class Discovery(Protocol):
    """Hardware discovery running in the background (``warmup.Warmup``): the shared sampler
    once ``ready`` (None if discovery failed)."""

    sampler: Any

    @property
    def ready(self) -> bool: ...

    def wait(self, timeout_s: float) -> bool: ...


@dataclass(frozen=True)
class KernelSources:
    """What the channel reads of the kernel's loaded extension, each part narrowed to its use."""

    session: Listeners
    events: Events
    discovery: Discovery
    locate: Callable[[], tuple[Any, Any]]  # (Location, Intensity) now; raises ConfigError
    auto_on: Callable[[], bool]  # whether %carbon on tracks every cell


@dataclass
class Peer:
    """One front end's comm."""

    comm: Any
    parent: dict
    last_sent: float = float("-inf")
    silent_s: float = 0.0   # idle time since its last request
    silent_total_s: float = 0.0  # all time since its last request, running cells included
    greeted: bool = False
    seq: int = 0


class SidebarChannel:
    """The comm target, its peers and what they are sent (see the module docstring)."""

    def __init__(self, sources: KernelSources, kernel: Any):
        self.sources = sources
        self.kernel = kernel
        self.history = KernelHistory()
        self.peers: dict[str, Peer] = {}
        self.rejected = 0          # requests refused (malformed, unknown, hostile)
        self.sent = 0              # messages sent to peers
        self._lock = threading.RLock()
        self._meta: dict[str, Any] = {}
        self._executing = False
        self._last_tick: float | None = None
        self._lease: Any = None
        self._subscription: Any = None
        self._announcement: Any = None
        self._timer: threading.Timer | None = None
        self._closed = False

    # -- load / unload ------------------------------------------------------------------------
    def open(self) -> None:
        """Register the target, listen to the session and the shell, announce ourselves."""
        self.kernel.comm_manager.register_target(protocol.TARGET, self._on_comm_open)
        self.sources.session.add_listener(self)
        events = self.sources.events
        events.register("pre_execute", self._pre_execute)
        events.register("post_execute", self._post_execute)
        try:
            from comm import create_comm

            self._announcement = create_comm(target_name=protocol.TARGET, data=protocol.announce())
        except Exception as error:  # front ends still find us by opening their own comms
            problems.note("sidebar announce", error)
            return
        self._serve(self._announcement, {"header": _current_header(self.kernel)})

    def close(self) -> None:
        """Say goodbye to every peer and undo ``open`` (extension unload)."""
        with self._lock:
            self._closed = True
            peers, self.peers = list(self.peers.values()), {}
            self._stop_live()
            if self._timer is not None:
                self._timer.cancel()
        for peer in peers:
            self._close_comm(peer.comm, "unloaded")
        if self._announcement is not None:  # closing a comm twice does nothing (it was a peer)
            self._close_comm(self._announcement, "unloaded")
            self._announcement = None
        try:
            self.kernel.comm_manager.unregister_target(protocol.TARGET, self._on_comm_open)
        except Exception:  # already gone (kernel shutting down)
            pass
        self.sources.session.remove_listener(self)
        for event, callback in (("pre_execute", self._pre_execute), ("post_execute", self._post_execute)):
            try:
                self.sources.events.unregister(event, callback)
            except ValueError:
                pass

    # -- requests from front ends (kernel main thread) ------------------------------------------
    def _on_comm_open(self, comm: Any, message: dict) -> None:
        content = message.get("content") or {}
        if protocol.parse_request(content.get("data"), message.get("buffers")) is None:
            self.rejected += 1
            self._close_comm(comm, "invalid request")
            return
        self._serve(comm, _parent_of(message))

    def _serve(self, comm: Any, parent: dict) -> None:
        """Make ``comm`` a peer and greet it. The announce comm is one too: front ends that
        registered the target hear ``hello`` and then ``state`` on it at once, sent through
        IOPub from the sampler thread, whatever keeps the kernel's main thread busy after the
        load (a comm they open themselves is answered only when that thread is free)."""
        peer = Peer(comm, parent)
        comm.on_msg(self._on_comm_msg)
        comm.on_close(self._on_comm_close)
        with self._lock:
            closed = self._closed
            if not closed:
                self.peers[comm.comm_id] = peer
                dropped = self._over_limit()
                self._start_live()
        if closed:  # unloaded meanwhile
            self._close_comm(comm, "unloaded")
            return
        for old in dropped:
            self._close_comm(old.comm, "replaced")
        self._flush(main_thread=True)

    def _over_limit(self) -> list[Peer]:
        """Peers beyond MAX_PEERS, the longest silent first (removed from ``peers``)."""
        dropped = []
        while len(self.peers) > MAX_PEERS:
            comm_id = max(self.peers, key=lambda key: self.peers[key].silent_s)
            dropped.append(self.peers.pop(comm_id))
        return dropped

    def _on_comm_msg(self, message: dict) -> None:
        content = message.get("content") or {}
        peer = self.peers.get(str(content.get("comm_id")))
        if peer is None:
            return
        if protocol.parse_request(content.get("data"), message.get("buffers")) is None:
            self.rejected += 1
            return
        with self._lock:
            peer.parent = _parent_of(message)
            peer.silent_s = peer.silent_total_s = 0.0
        self._flush(main_thread=True)

    def _on_comm_close(self, message: dict) -> None:
        comm_id = str((message.get("content") or {}).get("comm_id"))
        with self._lock:
            if self.peers.pop(comm_id, None) is not None and not self.peers:
                self._stop_live()

    # -- the shell and the session (kernel main thread, GPU poller for cell_finalized) -------
    def _pre_execute(self) -> None:
        self._executing = True

    def _post_execute(self) -> None:
        self._executing = False
        if self.peers:
            self._flush(main_thread=True)

    # A window opens and closes inside a cell, after or before nothing that could change the
    # configuration: the meta refreshed at the last post_execute (or comm message) holds,
    # but for the intensity the cell that just finished used.
    def cell_started(self, window: "TrackedWindow") -> None:
        self.history.cell_started(window)
        if self.peers:
            self._flush(main_thread=False)

    def cell_finished(self, record: "CellRecord", data: "EmissionsData") -> None:
        self.history.cell_finished(record, data)
        if self.peers:
            with self._lock:
                self._meta = {**self._meta, "intensity": self._latest_intensity() or self._meta.get("intensity")}
            self._flush(main_thread=False)

    def cell_finalized(self, record: "CellRecord", data: "EmissionsData") -> None:
        self.history.cell_finalized(record, data)  # the next tick sends it

    # -- live figures (sampler thread) ---------------------------------------------------------
    def _start_live(self) -> None:
        """Ask the shared sampler for a reading a second while peers are attached."""
        if self._subscription is not None or self._closed:
            return
        discovery = self.sources.discovery
        if discovery.ready:
            self._subscribe(discovery.sampler)
        else:  # hardware discovery still running: subscribe when it is done
            self._subscription = "waiting"
            threading.Thread(target=self._subscribe_after_warmup, name="carbon_magic-sidebar", daemon=True).start()

    def _subscribe_after_warmup(self) -> None:
        discovery = self.sources.discovery
        discovery.wait(WARMUP_WAIT_S)
        with self._lock:
            if self._subscription == "waiting":
                self._subscription = None
                if self.peers and not self._closed:
                    self._subscribe(discovery.sampler)
            self._meta = {**self._meta, "methods": _methods(discovery.sampler),  # thread-safe part
                          "bands": _bands(discovery.sampler)}

    def _subscribe(self, sampler: Any) -> None:
        if sampler is None:  # discovery failed (shown by %carbon status): no live power
            return
        self._lease = sampler.request_interval(LIVE_INTERVAL_S)
        self._subscription = sampler.subscribe(self._on_tick)

    def _stop_live(self) -> None:
        subscription, self._subscription = self._subscription, None
        lease, self._lease = self._lease, None
        if subscription not in (None, "waiting"):
            subscription.close()
        if lease is not None:
            lease.release()

    def _on_tick(self, reading: "Reading") -> None:
        now = reading.t_mono
        self.history.power(now, reading.power_w, reading.measured)
        expired = []
        with self._lock:
            dt = 0.0 if self._last_tick is None else max(now - self._last_tick, 0.0)
            self._last_tick = now
            for comm_id, peer in list(self.peers.items()):
                peer.silent_total_s += dt
                if not self._executing:
                    peer.silent_s += dt
                if peer.silent_s > PEER_EXPIRY_S or peer.silent_total_s > PEER_BUSY_EXPIRY_S:
                    expired.append(self.peers.pop(comm_id))
            if expired and not self.peers:
                self._stop_live()
        for peer in expired:
            self._close_comm(peer.comm, "expired")
        self._flush(main_thread=False)

    # -- sending -------------------------------------------------------------------------------
    def _refresh_meta(self) -> None:
        """Methods, intensity and location (kernel main thread: ``locate`` reads the tracker pool,
        which is not thread-safe)."""
        meta: dict[str, Any] = {
            "methods": _methods(self.sources.discovery.sampler),
            "bands": _bands(self.sources.discovery.sampler),
            "location": None,
            "intensity": None,
            "config_error": None,
        }
        try:
            location, intensity = self.sources.locate()
            meta["location"] = protocol.short(location.country_name or "no country set", protocol.LABEL_CHARS)
            meta["intensity"] = {"g_per_kwh": protocol.figure(intensity.g_per_kwh),
                                 "source": protocol.short(intensity.source, protocol.TEXT_CHARS)}
        except ConfigError as error:
            meta["config_error"] = protocol.short(str(error), protocol.TEXT_CHARS * 2)
        meta["intensity"] = self._latest_intensity() or meta["intensity"]
        with self._lock:
            self._meta = meta

    def _latest_intensity(self) -> dict[str, Any] | None:
        """The intensity the latest cell used (None before any)."""
        latest = self.history.latest()
        if latest is None:
            return None
        return {"g_per_kwh": protocol.figure(latest.intensity_g_per_kwh),
                "source": protocol.short(latest.intensity_source, protocol.TEXT_CHARS)}

    def _live_meta(self) -> dict[str, Any]:
        """The parts read afresh for every message, from any thread: the mode and the problems."""
        return {"auto": self.sources.auto_on(),
                "problems": protocol.problems_entry(problems.all())}

    def _flush(self, main_thread: bool) -> None:
        """Send the state to every peer not sent anything for MIN_INTERVAL_S; those sent
        something more recently get it when they are due (a timer). On the main
        thread the configuration's part is refreshed first, whether or not a peer is due, so
        that the next message (from whichever thread) says what this cell changed."""
        if main_thread and self.peers:
            self._refresh_meta()
        with self._lock:
            now = time.monotonic()  # read under the lock: a caller may have waited for it
            due = [peer for peer in self.peers.values() if now - peer.last_sent >= protocol.MIN_INTERVAL_S]
            if len(due) < len(self.peers):
                self._flush_later(min(p.last_sent for p in self.peers.values()) + protocol.MIN_INTERVAL_S - now)
            if not due:
                return
            state = self.history.state({**self._meta, **self._live_meta()})
            if state is None:  # a window started or finished meanwhile: the next call sends
                return
            built = time.monotonic()  # after the state's own clock: the next one is a second later
            for peer in due:
                peer.seq += 1
                if peer.greeted:
                    data = protocol.state_message(peer.seq, state)
                else:
                    data = protocol.hello(__version__, peer.seq, state)
                    peer.greeted = True
                if self._send(peer, data):
                    peer.last_sent = built

    def _flush_later(self, delay_s: float) -> None:
        """Flush again after ``delay_s``: a peer greeted between two sampler ticks (the announce
        comm and a front end's own, say) would otherwise wait for every second tick."""
        if self._timer is not None:
            return
        self._timer = threading.Timer(max(delay_s, 0.0) + 0.01, self._timed_flush)
        self._timer.daemon = True
        self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            self._timer = None
        self._flush(main_thread=False)

    def _send(self, peer: Peer, data: dict) -> bool:
        """One comm_msg on IOPub with the peer's latest request as parent (module docstring)."""
        comm = peer.comm
        try:
            session, socket = self.kernel.session, self.kernel.iopub_socket
            content = {"data": data, "comm_id": comm.comm_id}
            session.send(socket, "comm_msg", content, parent=peer.parent, ident=comm.topic)
        except Exception as error:
            problems.note("sidebar send", error)
            return False
        self.sent += 1
        return True

    def _close_comm(self, comm: Any, reason: str) -> None:
        try:
            comm.close(data=protocol.goodbye(reason))
        except Exception as error:
            problems.note("sidebar close", error)


def _current_header(kernel: Any) -> dict:
    """The header of the request the kernel is running now (``%load_ext``'s), or {}."""
    try:
        header = kernel.get_parent().get("header")
    except Exception:  # an older kernel or a stand-in without get_parent
        return {}
    return header if isinstance(header, dict) else {}


def _parent_of(message: dict) -> dict:
    """The parts of a request that make a reply's parent header: PARENT_HEADER_KEYS with
    text values, each at most MAX_HEADER_VALUE_CHARS (a front end's header is not echoed whole)."""
    header = message.get("header")
    header = header if isinstance(header, dict) else {}
    kept = {key: header[key] for key in PARENT_HEADER_KEYS if isinstance(header.get(key), str)}
    return {"header": {key: value[:MAX_HEADER_VALUE_CHARS] for key, value in kept.items()}}


def _methods(sampler: Any) -> dict[str, str]:
    """How each component is measured, in a few words ({} until hardware discovery is done)."""
    from ..display import short_method

    if sampler is None:
        return {}
    return protocol.methods_entry({c: short_method(m) for c, m in sampler.methods().items()})


def _bands(sampler: Any) -> dict[str, list[float]]:
    """The power band of each modelled component ({} until hardware discovery is done)."""
    return {} if sampler is None else protocol.bands_entry(sampler.bands())


def attach(shell: Any, sources: KernelSources) -> SidebarChannel | None:
    """Open the sidebar's channel where ``shell`` runs in a Jupyter kernel (None elsewhere)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or getattr(kernel, "comm_manager", None) is None:
        return None  # a terminal IPython: no front end to talk to
    channel = SidebarChannel(sources, kernel)
    channel.open()
    return channel
