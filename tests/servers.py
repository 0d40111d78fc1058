"""Real HTTP servers on 127.0.0.1 standing in for online services (geolocation, cloud metadata,
Electricity Maps) in tests and benchmarks.

    with LocalServer({("GET", "/geo"): Reply(body={"country_code3": "FRA"})}) as server:
        fetch(server.url + "/geo", ...)
        assert server.count("/geo") == 1

A route maps (method, path) to a Reply, or to a function of the Request returning one.
Unknown routes answer 404. Every request is recorded (method, path, query, headers).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """What a route answers: status, body (dict/list -> JSON, str -> UTF-8), headers, delay."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def encoded(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic() when received


Route = Union[Reply, Callable[[Request], Reply]]


class LocalServer:
    """A threading HTTP server on 127.0.0.1 with scripted routes; a context manager."""

    def __init__(self, routes: dict[tuple[str, str], Route] | None = None):
        self.routes: dict[tuple[str, str], Route] = dict(routes or {})
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with server._lock:
                    server.requests.append(request)
                route = server.routes.get((self.command, parts.path), Reply(404, {"error": "no route"}))
                reply = route(request) if callable(route) else route
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_PUT = do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="local-http-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, path: str | None = None) -> int:
        """How many requests were received (for ``path`` only, if given)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
