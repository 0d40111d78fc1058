"""Secrets out of text: what may be shown, logged or counted of a URL, an error or a value.

Every form a credential takes in text is removed:

- a URL's password (``user:password@host``), however it is written: with quotes or a raw
  ``@`` in it (up to the last ``@`` of the word), percent-encoded, with or without a scheme;
- query values whose name says token, key, secret, password or auth (``?token=...``);
- the exact secrets a caller knows (API keys, tokens), the password as sent (percent-decoded)
  and its HTTP basic-auth base64 form, which a server may echo back in an error.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Iterable
from urllib.parse import unquote, urlsplit

MIN_SECRET_LENGTH = 4  # shorter values cannot be told from ordinary text
MASK = "***"

# user ':' password '@', the password running to the last '@' of the word (so a raw '@' in it
# is covered); the user part holds no separator, and a password never starts with '//' (that
# is a scheme, as in 'http://').
_URL_PASSWORD = re.compile(r"([^\s/@:'\"=(,]+):(?!//)(\S*)@(?=[^\s@]*(?:\s|$))")
_SECRET_QUERY = re.compile(r"([?&;][^=&\s]*(?:token|key|secret|password|passwd|auth)[^=&\s]*=)[^&\s'\"]+", re.IGNORECASE)


def mask_credentials(text: str) -> str:
    """``text`` with URL passwords and secret-looking query values replaced by ***."""
    text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    return _SECRET_QUERY.sub(rf"\1{MASK}", text)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets`` (those of at least MIN_SECRET_LENGTH characters),
    URL credentials or secret-looking query values."""
    for secret in sorted((s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_credentials(text)


def basic_auth_token(user: str | None, password: str | None) -> str | None:
    """The base64 form of ``user:password`` that HTTP basic auth sends (a server may echo it)."""
    if not password:
        return None
    return base64.b64encode(f"{user or ''}:{password}".encode()).decode()


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of ``url`` that may be secret: its password as written and as sent
    (percent-decoded), the basic-auth form of each, and its query string."""
    parts = urlsplit(url if "//" in url else "//" + url)
    found: list[str | None] = [parts.query]
    if parts.password:
        for user, password in ((parts.username, parts.password),
                               (unquote(parts.username or ""), unquote(parts.password))):
            found += [password, basic_auth_token(user, password)]
    return tuple(dict.fromkeys(part for part in found if part))


class CredentialsFilter(logging.Filter):
    """A logging filter that masks URL credentials in the records of a library's logger
    (urllib3 logs each request line, query string included, at debug level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = mask_credentials(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def mask_in_logger(name: str) -> None:
    """Add a CredentialsFilter to the logger ``name`` (once)."""
    target = logging.getLogger(name)
    if not any(isinstance(f, CredentialsFilter) for f in target.filters):
        target.addFilter(CredentialsFilter())
