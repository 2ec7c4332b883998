"""Pooled PostgreSQL connections the server has closed are replaced, not handed out.

The pool no longer pings before each checkout (a round trip per request); it looks at
the socket instead. This is the case that check exists for: the server ends a pooled
connection (a restart, an idle timeout), and the next request must not fail on it.
"""

import time

import psycopg
import pytest
from sqlalchemy import text

from campaign.extensions import db


@pytest.fixture
def postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("an embedded SQLite database has no server to close a connection")
    return app


def backend_pid() -> int:
    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.commit()
    return pid


def terminate(pid: int) -> None:
    url = db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.parametrize("closed_by", ["terminated backend", "server gone idle"])
def test_a_connection_the_server_closed_is_replaced_at_checkout(postgresql, closed_by):
    with postgresql.app_context():
        db.engine.dispose()  # one pooled connection: the one about to be closed
        pid = backend_pid()
        db.session.remove()
        if closed_by == "terminated backend":
            terminate(pid)
        else:
            with db.engine.connect() as connection:  # the same pooled connection
                connection.exec_driver_sql("SET idle_session_timeout = 200")
                connection.commit()
        time.sleep(0.5)  # the server's goodbye reaches the socket

        assert db.session.scalar(text("SELECT 1")) == 1
        assert backend_pid() != pid
        db.session.remove()


def test_a_live_connection_is_reused_without_a_new_one(postgresql):
    with postgresql.app_context():
        db.engine.dispose()
        first = backend_pid()
        db.session.remove()
        assert backend_pid() == first
        db.session.remove()
