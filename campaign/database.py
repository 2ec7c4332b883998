"""Database engine tuning and the helpers every feature shares."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def get(model, ident: int):
    """The row with this primary key, or None; an id no row can have is simply absent.

    Ids come from URLs; a huge one would overflow the driver's integer (a 500).
    """
    from campaign.extensions import db

    return db.session.get(model, ident) if 0 < ident <= MAX_ID else None


def insert_unless_exists(table):
    """``INSERT ... ON CONFLICT DO NOTHING``: a row clashing with a unique key is skipped.

    One statement where "look, then insert" took two and still raced; with
    ``RETURNING`` the caller learns whether its row went in.
    """
    from campaign.extensions import db

    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def utcnow() -> datetime:
    """The current time as a naive UTC datetime, the form every column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def prepare(app: Flask) -> None:
    """Create the SQLite folder and give SQLite the settings that concurrent use needs."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    broker = app.config["CELERY_BROKER_URL"]
    if broker.startswith("sqla+sqlite:///"):
        Path(broker.removeprefix("sqla+sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The web app, the worker and beat share one SQLite file: WAL lets readers run
    # beside a writer, and busy_timeout makes a writer wait instead of failing.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# SQLite has one writer at a time. A thread that finds the write lock taken sleeps in
# SQLite's busy handler in growing steps (1, 2, 5, 10 ... 100 ms) however soon the
# lock frees: under a burst of signups the writers of one process kept waking up late,
# and a tenth of the requests took a second. The threads of a process therefore queue
# for writing on a Python lock, which wakes the next one the moment a transaction
# ends; the busy handler is left for the rarer meeting of two processes.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_HOLDS = "campaign.sqlite_write_lock"
_LOCK_WAIT_SECONDS = 15  # as long as busy_timeout; then SQLite's own waiting takes over
_write_locks: dict[str, threading.Lock] = {}


def _write_lock(engine: Engine) -> threading.Lock:
    return _write_locks.setdefault(str(engine.url), threading.Lock())


@event.listens_for(Engine, "before_cursor_execute")
def _queue_sqlite_writer(connection, _cursor, statement, _parameters, _context, _many) -> None:
    if (
        connection.dialect.name == "sqlite"
        and _HOLDS not in connection.info
        and statement.lstrip()[:7].upper().startswith(_WRITES)
    ):
        lock = _write_lock(connection.engine)
        if lock.acquire(timeout=_LOCK_WAIT_SECONDS):
            connection.info[_HOLDS] = lock


def _release_sqlite_writer(info: dict) -> None:
    lock = info.pop(_HOLDS, None)
    if lock is not None:
        lock.release()


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _transaction_ended(connection) -> None:
    _release_sqlite_writer(connection.info)


# Safety nets: a connection handed back without commit or rollback, or broken mid-way.
@event.listens_for(Pool, "reset")
def _connection_reset(_dbapi_connection, connection_record, _reset_state) -> None:
    _release_sqlite_writer(connection_record.info)


@event.listens_for(Pool, "checkin")
def _connection_checked_in(_dbapi_connection, connection_record) -> None:
    if connection_record is not None:
        _release_sqlite_writer(connection_record.info)


@event.listens_for(Pool, "invalidate")
def _connection_invalidated(_dbapi_connection, connection_record, _exception) -> None:
    _release_sqlite_writer(connection_record.info)
