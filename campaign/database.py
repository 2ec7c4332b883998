"""Database engine tuning and the helpers every feature shares."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def get(model, ident: int):
    """The row with this primary key, or None; an id no row can have is simply absent.

    Ids come from URLs; a huge one would overflow the driver's integer (a 500).
    """
    from campaign.extensions import db

    return db.session.get(model, ident) if 0 < ident <= MAX_ID else None


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
