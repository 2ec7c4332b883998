"""Pooled connections that can no longer be used are replaced, not handed out.

The pool no longer pings PostgreSQL before each checkout (a round trip per request);
it looks at the socket instead. These are the cases that check exists for: the server
ends a pooled connection (a restart, an idle timeout) and the next request must not
fail on it. On SQLite, a database in the process, "the server's side" closing it is
the DB-API connection closing under the pool.
"""

import time

import psycopg
import pytest
from sqlalchemy import text

from campaign.extensions import db


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def connection_identity() -> int:
    """The server process (PostgreSQL) or DB-API connection (SQLite) now in use."""
    if on_postgresql():
        identity = db.session.scalar(text("SELECT pg_backend_pid()"))
    else:
        identity = id(db.session.connection().connection.dbapi_connection)
    db.session.commit()
    return identity


def close_from_the_server_side(identity: int, closed_by: str) -> object:
    """Close the pooled connection; returns what must stay referenced meanwhile (an
    SQLite connection freed too soon could lend its id() to the next one)."""
    if not on_postgresql():
        pooled = db.engine.raw_connection()
        dbapi_connection = pooled.dbapi_connection
        pooled.close()  # back to the pool ...
        dbapi_connection.close()  # ... and closed under it
        return dbapi_connection
    if closed_by == "terminated backend":
        url = db.engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [identity])
    else:
        with db.engine.connect() as connection:  # the same pooled connection
            connection.exec_driver_sql("SET idle_session_timeout = 200")
            connection.commit()
    time.sleep(0.5)  # the server's goodbye reaches the socket
    return None


@pytest.mark.parametrize("closed_by", ["terminated backend", "server gone idle"])
def test_a_connection_the_server_closed_is_replaced_at_checkout(app, closed_by):
    with app.app_context():
        db.engine.dispose()  # one pooled connection: the one about to be closed
        first = connection_identity()
        db.session.remove()
        closed = close_from_the_server_side(first, closed_by)

        assert db.session.scalar(text("SELECT 1")) == 1
        assert connection_identity() != first
        db.session.remove()
        del closed


def test_a_live_connection_is_reused_without_a_new_one(app):
    with app.app_context():
        db.engine.dispose()
        first = connection_identity()
        db.session.remove()
        assert connection_identity() == first
        db.session.remove()
