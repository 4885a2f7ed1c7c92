"""No output or log line of any command holds the database password (issue 11, section 1).

Passwords are drawn from every printable character (unicode, whitespace, ``@ : / % ? #``),
and put in the URL either raw or percent-encoded. A leak is the password, its encoded form,
or a 4+ character piece of it between URL delimiters showing up in the output; text that
also appears when a fixed, different password is used does not count (a password of
``000000`` is not leaked by a row count).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db import Database, DatabaseUnavailableError, redact_url
from minertrace.db.urls import WITHHELD, InvalidDatabaseURLError, parse_url, scrub, sync_url

PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc"))
PASSWORDS = st.text(alphabet=PRINTABLE, min_size=6, max_size=24)
BASELINE = ("Baseline-Pass-1", "Base@line:pw/2")
_DELIMITERS = "@:/?#% "


def _pieces(password: str) -> set[str]:
    pieces = {password, quote(password, safe=""), quote(password)}
    token = ""
    for char in password + "@":
        if char in _DELIMITERS:
            if len(token) >= 4:
                pieces.add(token)
            token = ""
        else:
            token += char
    return pieces


def leaks(password: str, text: str, baseline: str = "") -> list[str]:
    """Pieces of `password` found in `text` but not in `baseline` (nor in the fixed notice
    that replaces a withheld message)."""
    known = baseline + WITHHELD
    return sorted(p for p in _pieces(password) if p in text and p not in known)


def url_with(password: str, *, encoded: bool, base: str) -> str:
    """`base`'s URL with `password` in the user info, raw or percent-encoded."""
    parts = sync_url(base)
    user = parts.username or "postgres"
    secret = quote(password, safe="") if encoded else password
    where = (
        "" if parts.host is None else parts.host + ("" if parts.port is None else f":{parts.port}")
    )
    query = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in parts.query.items())
    return f"postgresql+psycopg://{user}:{secret}@{where}/{parts.database}" + (
        f"?{query}" if query else ""
    )


# ---------------------------------------------------------------- pure: redact and scrub


@settings(max_examples=400, deadline=None)
@given(password=PASSWORDS, encoded=st.booleans())
def test_redacted_urls_and_scrubbed_messages_never_hold_the_password(
    password: str, encoded: bool
) -> None:
    url = url_with(password, encoded=encoded, base="postgresql://alice@db.example:5432/mt")
    baseline = " ".join(
        redact_url(url_with(b, encoded=encoded, base="postgresql://alice@db.example:5432/mt"))
        for b in BASELINE
    )
    shown = redact_url(url)
    assert not leaks(password, shown, baseline), shown
    message = f"connection to {url} failed for {password!r} ({quote(password)})"
    assert not leaks(password, scrub(message, url), baseline)
    try:
        parsed = parse_url(url)
    except InvalidDatabaseURLError as exc:
        assert not leaks(password, str(exc), baseline)
    else:
        assert not leaks(password, redact_url(parsed), baseline)
        assert not leaks(password, scrub(str(parsed) + " " + repr(parsed), url), baseline)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://alice:p ss@h/mt", "postgresql://alice:***@h/mt"),
        ("postgresql://alice:p@ss@h/mt", "postgresql://***"),
        ("postgresql://alice:p@ss:x@h/mt", "postgresql://***"),
        ("postgresql://alice:pw@h:port/mt", "postgresql://***"),
        ("postgresql://al/ice:pw@h/mt", "postgresql://***"),
        ("postgresql://h/mt?user=a&password=s3cret", "postgresql://h/mt?password=***&user=a"),
        ("host=h user=alice password='a b'", "host=h user=alice password=***"),
        ("not a url p@ss", "***"),
        ("postgresql://alice@h:5432/mt", "postgresql://alice@h:5432/mt"),
    ],
)
def test_redaction_prints_parsed_parts_or_nothing_after_the_scheme(url: str, shown: str) -> None:
    assert sorted(redact_url(url).split()) == sorted(shown.split())


def test_an_ambiguous_url_is_an_input_error_with_a_hint() -> None:
    with pytest.raises(InvalidDatabaseURLError, match="percent-encode '@'") as excinfo:
        parse_url("postgresql://alice:p@zq7xk@h/mt")
    assert "zq7xk" not in str(excinfo.value)


def test_a_short_password_in_a_driver_message_withholds_the_message() -> None:
    url = "postgresql://alice:on@h/mt"
    cleaned = scrub("connection refused", url)
    assert "on" not in cleaned.replace("contained", "").replace("message", "")
    assert "withheld" in cleaned


# ---------------------------------------------------------------- commands


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner(env={"MINERTRACE_LOG_LEVEL": "DEBUG", "DATABASE_URL": None})


def _invoke(runner: CliRunner, caplog: pytest.LogCaptureFixture, args: list[str]) -> str:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    logs = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    return f"{result.output}\n{logs}"


COMMANDS: tuple[tuple[str, ...], ...] = (
    ("db", "status"),
    ("db", "upgrade"),
    ("db", "current"),
    ("status",),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(password=PASSWORDS, encoded=st.booleans())
def test_db_commands_never_print_the_password(
    migrated_db_url: str,
    runner: CliRunner,
    caplog: pytest.LogCaptureFixture,
    password: str,
    encoded: bool,
) -> None:
    for command in COMMANDS:
        baseline = " ".join(
            _invoke(
                runner,
                caplog,
                [*command, "--database-url", url_with(b, encoded=encoded, base=migrated_db_url)],
            )
            for b in BASELINE
        )
        url = url_with(password, encoded=encoded, base=migrated_db_url)
        out = _invoke(runner, caplog, [*command, "--database-url", url])
        assert not leaks(password, out, baseline), (command, out)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(password=PASSWORDS, encoded=st.booleans())
def test_connection_errors_never_print_the_password(
    runner: CliRunner, caplog: pytest.LogCaptureFixture, password: str, encoded: bool
) -> None:
    base = "postgresql://alice@127.0.0.1:1/mt?connect_timeout=2"
    baseline = " ".join(
        _invoke(
            runner,
            caplog,
            ["db", "current", "--database-url", url_with(b, encoded=encoded, base=base)],
        )
        for b in BASELINE
    )
    url = url_with(password, encoded=encoded, base=base)
    out = _invoke(runner, caplog, ["db", "current", "--database-url", url])
    assert not leaks(password, out, baseline), out
    try:
        Database.open(url)
    except (DatabaseUnavailableError, InvalidDatabaseURLError) as exc:
        assert not leaks(password, repr(exc) + str(exc), baseline)


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(password=PASSWORDS)
def test_the_run_banner_never_prints_the_password(
    migrated_db_url: str, runner: CliRunner, caplog: pytest.LogCaptureFixture, password: str
) -> None:
    def run_with(secret: str) -> str:
        url = url_with(secret, encoded=True, base=migrated_db_url)
        return _invoke(
            runner,
            caplog,
            ["run", "--hours", "0", "--miners", "4", "--validators", "0", "--database-url", url],
        )

    baseline = run_with(BASELINE[0])
    assert "minertrace service for hotkey" in baseline
    out = run_with(password)
    assert not leaks(password, out, baseline), out


def test_log_lines_never_hold_a_registered_password(migrated_db_url: str) -> None:
    password = "Zq9-log secret/x"
    url = url_with(password, encoded=True, base=migrated_db_url)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with Database.open(url):
            log = logging.getLogger("minertrace.test")
            log.error("connecting to %s with %s", url, password)
            try:
                raise RuntimeError(f"boom {quote(password, safe='')}")
            except RuntimeError:
                log.exception("failed")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "failed" in text and "withheld" in text
    assert not leaks(password, text), text
