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

_WORDS = re.compile(r"(\s+)")
# Characters that may come just before a URL's user name when it has no scheme ('u:pw@host').
_BEFORE_USER = "'\"=(,<[{"
_SECRET_NAME = re.compile(r"token|key|secret|password|passwd|auth", re.IGNORECASE)
# A query parameter: its name (bounded, so that no text makes this slow) and its value.
_QUERY_VALUE = re.compile(r"([?&;][^=&\s?;]{0,100}=)([^&\s'\";]+)")


def _mask_password(word: str) -> str:
    """``word`` (no whitespace) with the password of its ``user:password@`` masked; the
    password runs to the last '@' of the word, so a raw '@' in it is covered."""
    at = word.rfind("@")
    if at < 0:
        return word
    scheme = word.find("//", 0, at)
    start = scheme + 2 if scheme >= 0 else 0
    colon = word.find(":", start, at)
    if colon < 0:
        return word
    if scheme < 0:
        start = max(word.rfind(c, 0, colon) for c in _BEFORE_USER) + 1
    user = word[start:colon]
    if not user or "/" in user:
        return word
    return f"{word[:colon + 1]}{MASK}{word[at:]}"


def _mask_query_value(match: re.Match[str]) -> str:
    return match.group(1) + MASK if _SECRET_NAME.search(match.group(1)) else match.group(0)


def mask_credentials(text: str) -> str:
    """``text`` with URL passwords and secret-looking query values replaced by ***
    (in time linear in the length of ``text``)."""
    if "@" in text:
        text = "".join(_mask_password(word) if "@" in word else word for word in _WORDS.split(text))
    return _QUERY_VALUE.sub(_mask_query_value, text)


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
