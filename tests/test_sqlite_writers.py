"""SQLite writers of one process queue on a lock: every way out of a transaction frees it.

A lock left held would stall every later writer of the process for 15 s. These run on
an SQLite file of their own, whatever database the rest of the suite uses.
"""

import pytest
from sqlalchemy import create_engine, text

from campaign import database


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/writers.sqlite")
    database.queue_sqlite_writers(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    yield engine
    engine.dispose()


def write(connection) -> None:
    connection.execute(text("INSERT INTO note (body) VALUES ('hello')"))


def test_a_write_takes_the_queue_and_commit_or_rollback_frees_it(engine):
    queue = database._write_lock(engine)
    for end in ("commit", "rollback"):
        with engine.connect() as connection:
            write(connection)
            assert queue.locked()
            getattr(connection, end)()
            assert not queue.locked()


def test_reads_do_not_queue(engine):
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM note")).scalar()
        assert not database._write_lock(engine).locked()


def test_a_connection_handed_back_mid_transaction_frees_the_queue(engine):
    queue = database._write_lock(engine)
    connection = engine.connect()
    write(connection)
    assert queue.locked()
    connection.close()  # the pool rolls it back
    assert not queue.locked()
    with engine.begin() as again:  # and the next writer goes straight in
        write(again)
    assert not queue.locked()
