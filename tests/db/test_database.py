"""Database access: embedded server lifecycle, engines, and password redaction."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from minertrace.db import Database, DatabaseUnavailableError, redact_url
from minertrace.db.embedded import EmbeddedServer
from minertrace.db.urls import InvalidDatabaseURLError, parse_url, scrub

SECRET = "Sup3r-Secret_pw"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://alice:{SECRET}@db.example:5432/mt",
        f"postgresql+psycopg://alice:{SECRET}@/mt?host=/var/run/postgresql",
        f"postgres://alice:{SECRET}@h/mt?sslmode=require",
        f"postgresql://h/mt?user=alice&password={SECRET}",
        f"host=h user=alice password={SECRET} dbname=mt",
    ],
)
def test_redact_url_hides_passwords(url: str) -> None:
    redacted = redact_url(url)
    assert SECRET not in redacted
    assert "***" in redacted
    assert "alice" in redacted or "user=alice" in redacted


def test_redact_url_keeps_urls_without_password() -> None:
    url = "postgresql://alice@h:5432/mt"
    assert redact_url(url) == url


def test_scrub_redacts_the_url_and_withholds_a_message_holding_the_password() -> None:
    url = f"postgresql://alice:{SECRET}@h/mt"
    cleaned = scrub(f"error connecting to {url}: refused", url)
    assert cleaned == "error connecting to postgresql://alice:***@h/mt: refused"
    assert SECRET not in scrub(f"boom {SECRET} boom", url)
    assert SECRET not in scrub(f"boom {SECRET} boom", secrets=[SECRET])


def test_invalid_url_errors_do_not_echo_the_password() -> None:
    with pytest.raises(InvalidDatabaseURLError) as excinfo:
        parse_url(f"mysql://alice:{SECRET}@h/mt")
    assert SECRET not in str(excinfo.value)


def _full_error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def test_down_server_error_has_no_password() -> None:
    url = f"postgresql://alice:{SECRET}@127.0.0.1:1/mt?connect_timeout=2"
    with pytest.raises(DatabaseUnavailableError) as excinfo:
        Database.open(url)
    assert SECRET not in _full_error_text(excinfo.value)
    assert "alice:***@127.0.0.1:1" in str(excinfo.value)


def test_wrong_password_error_has_no_password(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "pgdata", delete_on_stop=True)
    try:
        admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE ROLE pwuser LOGIN PASSWORD 'the-right-one'"))
            hba = Path(conn.execute(text("SHOW hba_file")).scalar_one())
            hba.write_text("local all pwuser scram-sha-256\n" + hba.read_text())
            conn.execute(text("SELECT pg_reload_conf()"))
        admin.dispose()
        good = server.url("postgres").set(username="pwuser", password="the-right-one")
        with Database.open(good) as db:
            assert db.ping().startswith("PostgreSQL")
            assert "the-right-one" not in db.display_url
            assert "the-right-one" not in repr(db)
        bad = good.set(password=SECRET)
        with pytest.raises(DatabaseUnavailableError) as excinfo:
            Database.open(bad)
        text_of_error = _full_error_text(excinfo.value)
        assert "password authentication failed" in text_of_error
        assert SECRET not in text_of_error
    finally:
        server.stop()


def test_open_a_url(migrated_db_url: str, tmp_path: Path) -> None:
    with Database.open(migrated_db_url, tmp_path) as db:
        assert db.embedded is None
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM node_table")).scalar() == 0
        assert db.display_url == redact_url(migrated_db_url)
    assert not (tmp_path / "pgdata").exists()


def test_open_needs_a_url_or_a_data_dir() -> None:
    with pytest.raises(ValueError, match="URL or a data directory"):
        Database.open(None)


def test_embedded_server_is_reused_and_stopped(tmp_path: Path) -> None:
    with Database.open(None, tmp_path / "data") as db:
        assert db.embedded is not None
        assert "data directory" in db.describe_server()
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (x int)"))
            conn.execute(text("INSERT INTO kept VALUES (42)"))
        pid_file = tmp_path / "data" / "pgdata" / "postmaster.pid"
        assert pid_file.exists()
    assert not pid_file.exists()
    with Database.open(None, tmp_path / "data") as db, db.engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM kept")).scalar() == 42
    assert not pid_file.exists()
