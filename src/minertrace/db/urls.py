"""Database URL handling: driver selection and password redaction.

Redaction parses; it never pattern-matches raw text. A URL is printed from its parsed parts
with the password (and any ``password``-like query value) hidden; text that does not parse
unambiguously prints as its scheme and ``***``. Messages that may echo a URL (driver errors)
go through `scrub`, which replaces the known URL's own text by its redacted form and withholds
the whole message if the password, in any spelling, is still in it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SYNC_DRIVER = "postgresql+psycopg"
REDACTED = "***"
WITHHELD = "(message withheld: it contained the database password)"
# Query values are percent-encoded when rendered; a placeholder of URL-safe letters survives.
_QUERY_PLACEHOLDER = "REDACTEDPASSWORD"
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


class InvalidDatabaseURLError(ValueError):
    """A database URL that cannot be parsed or is not PostgreSQL (message is redacted)."""


def _scheme(text: str) -> str | None:
    """The URL scheme when `text` starts with one (``name://``), else None."""
    scheme, sep, _ = text.partition("://")
    if sep and scheme and scheme[0].isalpha() and set(scheme) <= _SCHEME_CHARS:
        return scheme
    return None


def _is_secret_key(key: str) -> bool:
    return "password" in key.lower()


def _unambiguous(text: str) -> URL | None:
    """Parse `text` as a URL, or None when it does not parse or parses ambiguously.

    SQLAlchemy ends the password at the first ``@``; an unencoded ``@`` in a password would
    push the rest of it into the host, port or database. So the text after the scheme must hold
    at most one ``@``, and when it holds one the parse must have taken it as the end of the
    user info.
    """
    scheme = _scheme(text)
    if scheme is None:
        return None
    try:
        url = make_url(text)
    except (ArgumentError, ValueError, TypeError):
        return None
    ats = text.partition("://")[2].count("@")
    if ats > 1 or (ats == 1 and url.username is None):
        return None
    return url


def _render_hidden(url: URL) -> str:
    """`url` rendered with its password and every password-like query value as ``***``."""
    if url.password is not None and not str(url.password):
        # An empty password hides nothing; `user:***@` would suggest there is one.
        url = url._replace(password=None)
    secret_keys = [k for k in url.query if _is_secret_key(k)]
    if secret_keys:
        url = url.update_query_dict(dict.fromkeys(secret_keys, _QUERY_PLACEHOLDER))
    rendered = url.render_as_string(hide_password=True)
    return rendered.replace(_QUERY_PLACEHOLDER, REDACTED) if secret_keys else rendered


def redact_url(url: str | URL) -> str:
    """`url` printed with its password hidden: the only form of a URL to print or log.

    A `URL` object or text that parses unambiguously is rendered from its parts with the
    password and password-like query values as ``***``. Text that does not parse prints as
    ``scheme://***`` (or ``***`` without a scheme): nothing after the scheme is shown. A
    libpq keyword DSN (``host=h password=p``) is rendered from its parsed keywords.
    """
    if isinstance(url, URL):
        return _render_hidden(url)
    text = str(url)
    parsed = _unambiguous(text)
    if parsed is not None:
        return _render_hidden(parsed)
    scheme = _scheme(text)
    if scheme is not None:
        return f"{scheme}://{REDACTED}"
    keywords = _keyword_dsn(text)
    if keywords is not None:
        return " ".join(
            f"{k}={REDACTED if _is_secret_key(k) else _conninfo_quote(v)}"
            for k, v in keywords.items()
        )
    return REDACTED


def _keyword_dsn(text: str) -> dict[str, str] | None:
    if "=" not in text:
        return None
    try:
        from psycopg.conninfo import conninfo_to_dict

        return {k: str(v) for k, v in conninfo_to_dict(text).items()}
    except Exception:
        # Any parse failure means "not a keyword DSN"; the caller then prints nothing of it.
        return None


def _conninfo_quote(value: str) -> str:
    if value and not any(c in value for c in " '\\\t\n"):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def secrets_of(url: str | URL) -> list[str]:
    """The password-like values of `url` (user-info password, password query values).

    For text that does not parse unambiguously the whole text after the scheme is the secret.
    """
    if isinstance(url, URL):
        parsed: URL | None = url
        raw = None
    else:
        raw = str(url)
        parsed = _unambiguous(raw)
    if parsed is None:
        if raw is None:
            return []
        keywords = _keyword_dsn(raw)
        if _scheme(raw) is None and keywords is not None:
            return [v for k, v in keywords.items() if _is_secret_key(k) and v]
        rest = raw.partition("://")[2] or raw
        # Where the password ends is unknown: the widest candidate (first ':' to last '@')
        # and every '@'-separated piece of it.
        widest = rest[: rest.rfind("@")].partition(":")[2] if "@" in rest else ""
        return [s for s in (rest, widest, *widest.split("@")) if s]
    found = [] if parsed.password is None else [str(parsed.password)]
    for key, value in parsed.query.items():
        if _is_secret_key(key):
            found.extend([value] if isinstance(value, str) else list(value))
    if raw is not None:
        # The password as the user typed it (percent-encoded or not) is a spelling too.
        userinfo = raw.partition("://")[2].partition("@")
        if userinfo[1]:
            found.append(userinfo[0].partition(":")[2])
    return [s for s in found if s]


def spellings(secret: str) -> set[str]:
    """The ways `secret` may appear in a message: raw, percent-encoded, quoted or escaped."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote(secret, safe="").lower(),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),
        secret.encode("unicode_escape").decode("ascii"),
    }
    return {f for f in forms if f}


def scrub(message: str, *urls: str | URL | None, secrets: Iterable[str] = ()) -> str:
    """`message` safe to print: the given URLs redacted, and no trace of their passwords.

    Each URL's own text (as given, and as SQLAlchemy renders it) is replaced by its
    redacted form. If a password, or any of `secrets`, is still in the message in any
    spelling, the message is replaced by a notice: editing the text around the password's
    characters could itself reveal them.
    """
    cleaned = message
    hidden: list[str] = list(secrets)
    for url in urls:
        if url is None:
            continue
        forms = [url.render_as_string(hide_password=False)] if isinstance(url, URL) else [url]
        if isinstance(url, str) and (parsed := _unambiguous(url)) is not None:
            forms.append(parsed.render_as_string(hide_password=False))
        for form in sorted(forms, key=len, reverse=True):
            if form:
                cleaned = cleaned.replace(form, redact_url(form))
        hidden.extend(secrets_of(url))
    for secret in hidden:
        if any(form in cleaned for form in spellings(secret)):
            return WITHHELD
    return cleaned


def parse_url(url: str | URL) -> URL:
    """Parse a PostgreSQL URL; errors never echo the URL's password.

    Raises `InvalidDatabaseURLError` for text that is not a URL, parses ambiguously (an
    unencoded ``@`` in the password) or names another database.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = str(url)
        found = _unambiguous(text)
        if found is None:
            hint = (
                "; percent-encode '@' in the password as %40"
                if text.partition("://")[2].count("@") > 1
                else ""
            )
            raise InvalidDatabaseURLError(f"not a database URL: {redact_url(text)}{hint}")
        parsed = found
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


class SecretFilter(logging.Filter):
    """A handler filter that scrubs registered database URLs and passwords from log records.

    A record whose message or exception text holds a registered secret is rewritten through
    `scrub` (the exception text is formatted and scrubbed up front), so no handler it is
    attached to can print the password.
    """

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str | URL] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.urls:
            return True
        message = record.getMessage()
        cleaned = scrub(message, *self.urls)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, *self.urls)
        return True


_FILTER = SecretFilter()


def protect_logs(url: str | URL) -> None:
    """Keep `url` and its password out of every log line printed by the root logger's handlers.

    Registers the URL with the process-wide `SecretFilter` and attaches the filter to every
    root handler that lacks it (handlers configured later get it on the next call).
    """
    if url not in _FILTER.urls:
        _FILTER.urls.append(url)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def scrub_registered(message: str) -> str:
    """`message` scrubbed of every URL registered with `protect_logs` (see `scrub`)."""
    return scrub(message, *_FILTER.urls) if _FILTER.urls else message
