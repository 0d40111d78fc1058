"""A small HTTP client for the location service's background requests (stdlib only).

Every request has a timeout, a total deadline and a size limit, and every failure becomes a
FetchError whose message is safe to log: it names the method, the URL without its query
string (which may hold a key) and what went wrong, never a header (tokens travel there).
Loopback and link-local hosts (tests, cloud metadata) are reached directly, never through a
proxy; other hosts honour the usual ``*_proxy`` environment variables.

Only background threads call this module: nothing here may run on a cell's path.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

MAX_BODY_BYTES = 1 << 20
_CHUNK_BYTES = 16384


class FetchError(Exception):
    """A request that gave no usable answer. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Response:
    """A 2xx answer: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, where: str) -> Any:
        """The body as JSON; FetchError naming ``where`` if it is not."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise FetchError(f"{where}: answer is not JSON ({self.body[:60]!r})") from None


def shown_url(url: str) -> str:
    """The URL as messages may show it: no query string, no user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _direct(host: str | None) -> bool:
    """True for hosts that must never go through a proxy (loopback, link-local)."""
    if not host:
        return True
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_link_local


def fetch(
    url: str,
    *,
    timeout_s: float,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One request; a Response for 2xx, FetchError for anything else (status, timeout, refusal...)."""
    import http.client
    import urllib.error
    import urllib.request

    where = f"{method} {shown_url(url)}"
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if method in ("PUT", "POST"):
        request.data = b""
    handlers = [urllib.request.ProxyHandler({})] if _direct(urlsplit(url).hostname) else []
    opener = urllib.request.build_opener(*handlers)
    deadline = time.monotonic() + timeout_s
    try:
        with opener.open(request, timeout=timeout_s) as answer:
            body = _read_body(answer, deadline, where)
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, body)
    except urllib.error.HTTPError as error:
        error.close()
        raise FetchError(f"{where}: HTTP {error.code}", status=error.code) from None
    except urllib.error.URLError as error:
        raise FetchError(f"{where}: {_reason(error.reason, timeout_s)}") from None
    except (socket.timeout, TimeoutError):
        raise FetchError(f"{where}: no answer within {timeout_s:g} s") from None
    except (OSError, ValueError, http.client.HTTPException) as error:  # resets, garbage answers, bad URLs
        raise FetchError(f"{where}: {type(error).__name__}: {error}") from None


def _reason(reason: Any, timeout_s: float) -> str:
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout_s:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def _read_body(answer: Any, deadline: float, where: str) -> bytes:
    """The body, read in chunks within the deadline and the size limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(f"{where}: answer too slow")
        chunk = answer.read(_CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(f"{where}: answer larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
