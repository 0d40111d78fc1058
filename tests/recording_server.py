"""A real HTTP server on 127.0.0.1 that records every request and answers as scripted.

Default answers: ``POST /runs`` 201 ``{"id": "api-run-<n>"}``, any other request 201 with an
empty JSON object. ``then(path, *answers)`` queues answers for a path, used once each:
``status(code, body)``, ``delay(seconds, answer)``, ``GARBAGE`` (bytes that are not HTTP)
and ``HANG_UP`` (close without answering). Delays end early when the server is closed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    t_mono: float
    json: Any = field(default=None)


@dataclass(frozen=True)
class Answer:
    kind: str  # "status", "garbage", "hang_up"
    code: int = 201
    body: bytes = b"{}"
    delay_s: float = 0.0


def status(code: int, body: bytes | str = b"{}") -> Answer:
    return Answer("status", code, body.encode() if isinstance(body, str) else body)


def delay(seconds: float, answer: Answer | None = None) -> Answer:
    answer = answer or status(201)
    return Answer(answer.kind, answer.code, answer.body, seconds)


GARBAGE = Answer("garbage")
HANG_UP = Answer("hang_up")


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingServer:
    def __init__(self, port: int = 0):
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Answer]] = defaultdict(deque)
        self._runs = 0
        self._lock = threading.Condition()
        self.closing = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner._answer(self, body)

            do_POST = do_PUT = do_DELETE = do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def then(self, path: str, *answers: Answer) -> None:
        with self._lock:
            self._scripts[path].extend(answers)

    def _default(self, path: str) -> Answer:
        if path.endswith("/runs"):
            self._runs += 1
            return status(201, json.dumps({"id": f"api-run-{self._runs}"}))
        return status(201)

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            decoded = json.loads(body) if body else None
        except ValueError:
            decoded = None
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(Recorded(handler.command, path, {k.lower(): v for k, v in handler.headers.items()},
                                          body, time.monotonic(), decoded))
            self._lock.notify_all()
            script = self._scripts.get(path)
            answer = script.popleft() if script else self._default(path)
        if answer.delay_s:
            self.closing.wait(answer.delay_s)
        if answer.kind == "garbage":
            handler.wfile.write(b"\x00\x13 this is not HTTP \xff\r\n\r\n")
            handler.close_connection = True
        elif answer.kind == "hang_up":
            handler.close_connection = True
        else:
            handler.send_response(answer.code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)

    def to(self, path: str, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout_s: float = 10.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: predicate(list(self.requests)), timeout_s)

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
