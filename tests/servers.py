"""The one local HTTP test server: real sockets on 127.0.0.1 standing in for every online
service (IP geolocation, cloud metadata, Electricity Maps, the CodeCarbon API, emissions
endpoints, telemetry) in tests and benchmarks.

    with LocalServer({("GET", "/geo"): Reply(body={"country_code3": "FRA"})}) as server:
        fetch(server.url + "/geo", ...)
        assert server.count("/geo") == 1

What a request gets, first match wins:

1. answers queued for its path with ``then(path, *replies)``, used once each, in order;
2. its route, ``routes[(method, path)]``: a Reply, or a function of the Request returning one;
3. the server's ``default`` (a Reply or such a function): 404 unless given, e.g.
   ``LocalServer(default=codecarbon_api())`` answers as the CodeCarbon API does.

Replies: ``Reply(status, body, headers, delay_s)`` (a dict or list body is sent as JSON), and
the scripted misbehaviours ``status(code, body)``, ``delay(seconds, reply)``, ``GARBAGE``
(bytes that are not HTTP), ``HANG_UP`` (close without answering) and ``huge(size)`` (a
body of ``size`` bytes, streamed; ``bytes_sent`` says how much the client really took).
Delays and held replies (``hold``) end early when the server closes. Every request is
recorded (method, path, query, headers, body) before it is answered.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union
from urllib.parse import parse_qs, urlsplit

_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """What a request gets: status, body (dict/list -> JSON, str -> UTF-8), headers, a delay
    before answering, and its ``kind``: "http" (a normal answer), "garbage", "hang_up" or
    "huge" (``size`` bytes of body, streamed)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    kind: str = "http"
    size: int = 0

    def encoded(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body


def status(code: int, body: Any = b"{}") -> Reply:
    """An answer with status ``code`` (body: JSON text, dict, list or bytes)."""
    return Reply(code, body)


def delay(seconds: float, reply: Reply | None = None) -> Reply:
    """``reply`` (default: 201 ``{}``) after ``seconds`` (less if the server closes first)."""
    reply = reply or status(201)
    return Reply(reply.status, reply.body, reply.headers, seconds, reply.kind, reply.size)


def huge(size: int = 256 << 20, code: int = 200) -> Reply:
    """A body of ``size`` bytes (declared in Content-Length), streamed until the client stops."""
    return Reply(code, kind="huge", size=size)


GARBAGE = Reply(kind="garbage")
HANG_UP = Reply(kind="hang_up")
NOT_FOUND = Reply(404, {"error": "no route"})


@dataclass(frozen=True)
class Request:
    """One request as received: query values are lists, header names lower-case, ``at`` is
    ``time.monotonic()`` on arrival."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        """The body decoded as JSON (None if empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


Route = Union[Reply, Callable[[Request], Reply]]


def codecarbon_api() -> Callable[[Request], Reply]:
    """Answers as the CodeCarbon API: ``POST .../runs`` 201 ``{"id": "api-run-<n>"}`` (n
    counting from 1), anything else 201 ``{}``."""
    runs = itertools.count(1)

    def answer(request: Request) -> Reply:
        if request.path.endswith("/runs"):
            return status(201, {"id": f"api-run-{next(runs)}"})
        return status(201)

    return answer


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalServer:
    """A threading HTTP server on 127.0.0.1 with scripted answers; a context manager."""

    def __init__(self, routes: dict[tuple[str, str], Route] | None = None, *,
                 default: Route = NOT_FOUND, port: int = 0):
        self.routes: dict[tuple[str, str], Route] = dict(routes or {})
        self.default = default
        self.requests: list[Request] = []
        self.bytes_sent: list[int] = []  # body bytes the clients of huge answers really took
        self.closing = threading.Event()
        self._queued: dict[str, list[Reply]] = {}
        self._lock = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                try:
                    owner._answer(self, request)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout test)

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="local-http-server", daemon=True)
        self._thread.start()

    # -- where it is ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` (a push gateway address, without scheme)."""
        return f"127.0.0.1:{self.port}"

    # -- scripting --------------------------------------------------------------------------
    def then(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` (any method) with ``replies``, once each."""
        with self._lock:
            self._queued.setdefault(path, []).extend(replies)

    def hold(self, reply: Reply, gate: threading.Event) -> Callable[[Request], Reply]:
        """A route answering ``reply`` once ``gate`` is set (or the server closes)."""

        def held(request: Request) -> Reply:
            while not (gate.wait(0.05) or self.closing.is_set()):
                pass
            return reply

        return held

    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            queued = self._queued.get(request.path)
            if queued:
                return queued.pop(0)
        route = self.routes.get((request.method, request.path), self.default)
        return route(request) if callable(route) else route

    def _answer(self, handler: BaseHTTPRequestHandler, request: Request) -> None:
        reply = self._reply_for(request)
        if reply.delay_s:
            self.closing.wait(reply.delay_s)
        if reply.kind == "garbage":
            handler.wfile.write(b"\x00\x13 this is not HTTP \xff\r\n\r\n")
            handler.close_connection = True
            return
        if reply.kind == "hang_up":
            handler.close_connection = True
            return
        body = reply.encoded()
        handler.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(reply.size if reply.kind == "huge" else len(body)))
        handler.end_headers()
        if reply.kind == "huge":
            self._stream(handler, reply.size)
        else:
            handler.wfile.write(body)

    def _stream(self, handler: BaseHTTPRequestHandler, size: int) -> None:
        chunk = b"x" * _CHUNK_BYTES
        sent = 0
        handler.close_connection = True
        try:
            while sent < size and not self.closing.is_set():
                part = chunk[: min(_CHUNK_BYTES, size - sent)]
                handler.wfile.write(part)
                sent += len(part)
        finally:
            with self._lock:
                self.bytes_sent.append(sent)

    # -- what was received ----------------------------------------------------------------------
    def count(self, path: str | None = None) -> int:
        """How many requests were received (for ``path`` only, if given)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def to(self, path: str, method: str | None = None) -> list[Request]:
        """The requests received for ``path`` (and ``method``), in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def wait_for(self, predicate: Callable[[list[Request]], bool], timeout_s: float = 10.0) -> bool:
        """Wait until ``predicate(requests so far)``; False if it still is not after ``timeout_s``."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(list(self.requests)), timeout_s)

    # -- life -----------------------------------------------------------------------------------
    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
