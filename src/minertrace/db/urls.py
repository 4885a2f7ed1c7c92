"""Database URL handling: driver selection and password redaction.

Every place that prints or logs a URL goes through `redact_url`, and every error that may
carry connection details goes through `scrub`, so a password never reaches a log or a message.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SYNC_DRIVER = "postgresql+psycopg"
REDACTED = "***"

_USERINFO_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@?#\s]*):(?P<pw>[^\s/?#]*)@"
)
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&;]+)", re.I
)


class InvalidDatabaseURLError(ValueError):
    """A database URL that cannot be parsed or is not PostgreSQL (message is redacted)."""


def redact_url(url: str | URL) -> str:
    """Return `url` with any password replaced by ``***``.

    Works on SQLAlchemy/libpq URLs (``postgresql://user:pw@host/db``), URLs with a
    ``password=`` query parameter and keyword DSNs (``host=x password=y``); an empty password
    (``user:@host``) is left as is since it reveals nothing.
    """
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)

    def userinfo(m: re.Match[str]) -> str:
        return f"{m['head']}:{REDACTED if m['pw'] else ''}@"

    text = _USERINFO_PASSWORD.sub(userinfo, text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}", text)


def scrub(message: str, *secrets: str | None) -> str:
    """Remove URLs' passwords and the given secret strings from an error message."""
    cleaned = redact_url(message)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, REDACTED)
    return cleaned


def parse_url(url: str | URL) -> URL:
    """Parse a PostgreSQL URL; errors never echo the URL's password."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise InvalidDatabaseURLError(f"not a database URL: {redact_url(str(url))}") from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres"):
        raise InvalidDatabaseURLError(
            f"minertrace needs PostgreSQL, got {backend!r} in {redact_url(parsed)}"
        )
    return parsed


def sync_url(url: str | URL) -> URL:
    """The URL with the synchronous driver (psycopg 3)."""
    return parse_url(url).set(drivername=SYNC_DRIVER)


def password_of(url: str | URL) -> str | None:
    """The URL's password, to be scrubbed from error messages (None when unparsable)."""
    try:
        password = parse_url(url).password
        return None if password is None else str(password)
    except InvalidDatabaseURLError:
        return None
