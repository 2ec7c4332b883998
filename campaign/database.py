"""Database engine tuning and the helpers every feature shares."""

from __future__ import annotations

import select
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Executable, event, exc
from sqlalchemy.engine import Dialect, Engine

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def get(model, ident: int):
    """The row with this primary key, or None; an id no row can have is simply absent.

    Ids come from URLs; a huge one would overflow the driver's integer (a 500).
    """
    from campaign.extensions import db

    return db.session.get(model, ident) if 0 < ident <= MAX_ID else None


def get_or_404(model, ident: int):
    """``get``, or the 404 page (or JSON) when there is no such row."""
    from flask import abort

    found = get(model, ident)
    if found is None:
        abort(404)
    return found


def insert_unless_exists(table, dialect: str | None = None):
    """``INSERT ... ON CONFLICT DO NOTHING``: a row clashing with a unique key is skipped.

    One statement where "look, then insert" took two and still raced; with
    ``RETURNING`` the caller learns whether its row went in. ``dialect`` defaults to
    the app's database.
    """
    from campaign.extensions import db

    if (dialect or db.engine.dialect.name) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


class Prepared:
    """A statement compiled once for a dialect, with its bind conversions, to run
    straight on a DB-API cursor (no SQLAlchemy execution context per call)."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Python-side column defaults are filled in by SQLAlchemy's execution,
            # which a prepared statement skips: give those columns values instead.
            raise ValueError("a prepared statement cannot fill Python-side defaults")
        self.sql = compiled.string
        binds = compiled.bind_names  # parameter -> its name in the SQL
        # Values fixed in the statement itself (a status, a NULL).
        self.defaults = {
            name: bind.effective_value for bind, name in binds.items() if not bind.required
        }
        self.order = compiled.positiontup if compiled.positional else None
        self.converters = {
            name: convert
            for bind, name in binds.items()
            if (convert := bind.type.dialect_impl(dialect).bind_processor(dialect))
        }

    def parameters(self, values: dict[str, Any]) -> tuple | dict:
        params = {**self.defaults, **values}
        for name, convert in self.converters.items():
            params[name] = convert(params[name])
        return tuple(params[name] for name in self.order) if self.order else params


_prepared: dict[tuple[Executable, str], Prepared] = {}


def prepared(statement: Executable) -> Prepared:
    """``statement`` compiled for the app's database, once per process.

    ``statement`` must be built once too (a module constant or a cached builder): the
    cache is keyed by the statement object itself.
    """
    from campaign.extensions import db

    dialect = db.engine.dialect
    key = (statement, dialect.name)
    found = _prepared.get(key)
    if found is None:
        found = _prepared[key] = Prepared(statement, dialect)
    return found


def scalar_alone(statement: Executable, values: dict[str, Any]) -> Any:
    """Run ``statement``, a whole unit of work by itself, and commit it at once
    (PostgreSQL).

    For the one-statement write of a request that has done nothing else in the
    database: the statement alone is atomic, so it runs in autocommit, without the
    BEGIN and COMMIT round trips a session transaction adds (two of a signup's
    three), and prepared, on the DB-API connection: SQLAlchemy's execution context
    cost more CPU than the statement. The caller checks that its session holds no
    transaction: work already done in one would not be part of this statement's
    commit, and a row that work locked would block it.
    """
    from campaign.extensions import db

    compiled = prepared(statement)
    try:
        connection = db.engine.raw_connection()
        try:
            connection.dbapi_connection.autocommit = True
            try:
                cursor = connection.cursor()
                cursor.execute(compiled.sql, compiled.parameters(values))
                row = cursor.fetchone()
            finally:
                connection.dbapi_connection.autocommit = False
        finally:
            connection.close()  # back to the pool
    except db.engine.dialect.loaded_dbapi.OperationalError as error:  # looked up only then
        # Wrapped as SQLAlchemy wraps it on the session's path, so the error handlers
        # answer a lost database alike (503) wherever the statement ran.
        raise exc.OperationalError(compiled.sql, None, error) from error
    return row[0] if row else None


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


def tune(engine: Engine) -> None:
    """Give the app's engine what its database needs under concurrent requests."""
    event.listen(engine.pool, "checkout", _connection_check(engine.dialect))
    if engine.dialect.name == "sqlite":
        queue_sqlite_writers(engine)


# Each pooled connection used to be pinged with ``SELECT 1`` before every checkout
# (``pool_pre_ping``): on PostgreSQL a round trip per request, a fifth of a signup's
# database time. A server that restarts or drops idle connections closes their
# sockets, and a closed socket reads as ready: so an idle connection whose socket has
# nothing to read is alive as far as any ping could tell, and only one with something
# waiting (a goodbye, an EOF, rarely a notice) is pinged, and replaced if the ping
# fails. A connection with no socket (SQLite, in-process) is pinged: that costs no
# round trip.
def _connection_check(dialect):
    def check(dbapi_connection, _connection_record, _connection_proxy) -> None:
        try:
            poller = select.poll()  # not select(): it fails on descriptors past 1023
            poller.register(dbapi_connection.fileno(), select.POLLIN)
            waiting = bool(poller.poll(0))
        except (AttributeError, OSError, ValueError):
            waiting = True  # no usable socket: let the ping decide
        if not waiting:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            # The pool discards this connection and checks out another.
            raise exc.DisconnectionError("the connection can no longer be used")

    return check


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


def queue_sqlite_writers(engine: Engine) -> None:
    """Make the writers of ``engine`` (an SQLite engine) take turns on a lock.

    Listened for on this engine only: engine-wide listeners put every statement of
    every engine (PostgreSQL's too) on SQLAlchemy's slower, event-firing path.
    """
    event.listen(engine, "before_cursor_execute", _queue_sqlite_writer)
    event.listen(engine, "commit", _transaction_ended)
    event.listen(engine, "rollback", _transaction_ended)
    # Safety nets: a connection handed back without commit or rollback, or broken.
    event.listen(engine.pool, "reset", _connection_reset)
    event.listen(engine.pool, "checkin", _connection_checked_in)
    event.listen(engine.pool, "invalidate", _connection_invalidated)


def _write_lock(engine: Engine) -> threading.Lock:
    return _write_locks.setdefault(str(engine.url), threading.Lock())


def _queue_sqlite_writer(connection, _cursor, statement, _parameters, _context, _many) -> None:
    if _HOLDS not in connection.info and statement.lstrip()[:7].upper().startswith(_WRITES):
        lock = _write_lock(connection.engine)
        if lock.acquire(timeout=_LOCK_WAIT_SECONDS):
            connection.info[_HOLDS] = lock


def _release_sqlite_writer(info: dict) -> None:
    lock = info.pop(_HOLDS, None)
    if lock is not None:
        lock.release()


def _transaction_ended(connection) -> None:
    _release_sqlite_writer(connection.info)


def _connection_reset(_dbapi_connection, connection_record, _reset_state) -> None:
    _release_sqlite_writer(connection_record.info)


def _connection_checked_in(_dbapi_connection, connection_record) -> None:
    if connection_record is not None:
        _release_sqlite_writer(connection_record.info)


def _connection_invalidated(_dbapi_connection, connection_record, _exception) -> None:
    _release_sqlite_writer(connection_record.info)
