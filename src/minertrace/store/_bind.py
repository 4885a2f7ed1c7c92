"""Run statements on either an Engine (own transaction) or a caller's Connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction.

    With an Engine the block gets its own transaction, committed on success. With a
    Connection the statements join the caller's transaction and the caller commits, so a
    caller can group several writes atomically.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        yield bind
