"""The per-message ledger work of a sender, on a database connection of its own.

Each message needs a reader's status read just before it goes and its delivery marked
sent the moment the server accepts it. Done through the session, those two statements
and their commit cost more than the message's SMTP dialogue (a pool checkout with its
ping per transaction, statement caching and result handling per statement: about
200 us against 30 us of database work). A sender holds one connection for its slice
instead, and runs the statements, compiled once by SQLAlchemy for the connection's
dialect (with its type conversions), straight on the DB-API cursor.

On PostgreSQL the connection commits asynchronously (``synchronous_commit = off``):
a commit no longer waits for its WAL flush. A worker crash loses nothing by it (a
commit is still atomic and visible at once); a crash of the database server itself
can lose the last fraction of a second of "sent" marks, and those messages are sent
again once their lease expires. The connection is discarded after the slice, so the
setting never reaches other work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

from campaign.campaigns.models import Delivery, DeliveryStatus
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus

_DELIVERY = Delivery.__table__
_SUBSCRIBER = Subscriber.__table__
_CLAIMED = (_DELIVERY.c.id == bindparam("delivery_id")) & (
    _DELIVERY.c.status == DeliveryStatus.SENDING
)
MARK_SENT = (
    update(_DELIVERY)
    .where(_CLAIMED)
    .values(
        status=DeliveryStatus.SENT,
        sent_at=bindparam("at"),
        smtp_response=bindparam("answer"),
        attempts=bindparam("attempt"),
        next_attempt_at=None,
    )
)
MARK_SKIPPED = (
    update(_DELIVERY).where(_CLAIMED).values(status=DeliveryStatus.SKIPPED, smtp_response=None)
)
READER_STATUS = select(_SUBSCRIBER.c.status).where(_SUBSCRIBER.c.id == bindparam("reader"))


class Prepared:
    """A statement compiled once for a dialect, with its bind conversions."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
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


class Ledger:
    """Reader checks and "sent" marks for one sender, on one connection."""

    def __init__(self) -> None:
        self._connection = None
        self._cursor = None
        self._statements: dict[str, Prepared] = {}

    def _run(self, name: str, statement: Executable, values: dict[str, Any]):
        if self._connection is None:
            self._open()
        prepared = self._statements.get(name)
        if prepared is None:
            prepared = self._statements[name] = Prepared(statement, db.engine.dialect)
        self._cursor.execute(prepared.sql, prepared.parameters(values))
        return self._cursor

    def _open(self) -> None:
        self._connection = db.engine.raw_connection()
        self._cursor = self._connection.cursor()
        if db.engine.dialect.name == "postgresql":
            self._cursor.execute("SET synchronous_commit = off")
            self._connection.commit()

    def still_subscribed(self, subscriber_id: int | None) -> bool:
        """Read the reader's status now, and commit every mark written before."""
        status = None
        if subscriber_id is not None:
            row = self._run("status", READER_STATUS, {"reader": subscriber_id}).fetchone()
            status = row[0] if row else None
        self.commit()
        return status == SubscriberStatus.CONFIRMED

    def mark_sent(self, delivery_id: int, attempt: int, answer: str, at: datetime) -> None:
        """Written at once; committed by the next check or ``commit``."""
        values = {"delivery_id": delivery_id, "attempt": attempt, "answer": answer, "at": at}
        self._run("sent", MARK_SENT, values)

    def mark_skipped(self, delivery_id: int) -> None:
        self._run("skipped", MARK_SKIPPED, {"delivery_id": delivery_id})

    def commit(self) -> None:
        if self._connection is not None:
            self._connection.commit()

    def close(self) -> None:
        """Commit what is written and discard the connection (never back to the pool)."""
        if self._connection is None:
            return
        try:
            self._connection.commit()
        finally:
            self._connection.invalidate()
            self._connection = self._cursor = None
