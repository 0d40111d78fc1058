"""HTTP posts for the network outputs and telemetry (``requests``): short timeouts, answers
checked and read only up to ``core.http.MAX_BODY_BYTES`` within a total deadline, nothing
secret in messages.

``requests`` is imported on first use, on an output lane, never at package import.
Each lane thread keeps its own ``requests.Session`` (connections are reused per lane).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Container, Iterable, Mapping

from .http import MAX_BODY_BYTES
from .redact import basic_auth_token, mask_in_logger, scrub, url_secrets

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 3.0
_CHUNK_BYTES = 64 * 1024
__all__ = ["DeliveryError", "basic_auth_token", "post_json", "safe_url", "scrub", "url_secrets"]


def safe_url(url: str) -> str:
    """A URL as it may be shown: no password, no query string."""
    return scrub(url.split("?", 1)[0].split("#", 1)[0])


class DeliveryError(Exception):
    """An output could not deliver; the message is safe to log (no secrets)."""


_local = threading.local()


def _session() -> Any:
    session = getattr(_local, "session", None)
    if session is None:
        import requests

        mask_in_logger("urllib3.connectionpool")  # its debug lines show each URL with its query
        session = _local.session = requests.Session()
    return session


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    expected: Container[int] = (201,),
    secrets: Iterable[str | None] = (),
    timeout_s: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
) -> str:
    """POST ``payload`` as JSON; returns the answer's body text.

    Raises DeliveryError (scrubbed of ``secrets`` and URL credentials) when the request
    fails, times out, or the status is not one of ``expected``.
    """
    import requests

    secrets = tuple(secrets)
    shown = safe_url(url)
    deadline = time.monotonic() + sum(timeout_s)
    try:
        answer = _session().post(url, json=payload, headers=dict(headers or {}), timeout=timeout_s, stream=True)
        with answer:
            body = _read_text(answer, deadline, f"POST {shown}")
    except requests.RequestException as error:
        raise DeliveryError(f"POST {shown}: {type(error).__name__}: {scrub(str(error), secrets)[:200]}") from None
    if answer.status_code not in expected:
        shown_body = scrub(body, secrets)[:120].replace("\n", " ")  # scrubbed whole: a cut secret would show
        raise DeliveryError(f"POST {shown}: unexpected HTTP {answer.status_code}: {shown_body}")
    return body


def _read_text(answer: Any, deadline: float, where: str) -> str:
    """An answer's body as text, read in chunks: DeliveryError past ``MAX_BODY_BYTES`` or the
    deadline (a huge or trickling answer must not hold a lane or fill the memory)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_content(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise DeliveryError(f"{where}: answer larger than {MAX_BODY_BYTES} bytes (HTTP {answer.status_code})")
        if time.monotonic() > deadline:
            raise DeliveryError(f"{where}: answer too slow (HTTP {answer.status_code})")
        chunks.append(chunk)
    return b"".join(chunks).decode(answer.encoding or "utf-8", errors="replace")
