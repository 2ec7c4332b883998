"""The per-message ledger work of a sender, on a database connection of its own.

Each message needs a reader's status read just before it goes and its delivery marked
sent the moment the server accepts it. Done through the session, those two statements
and their commit cost more than the message's SMTP dialogue (a pool checkout with its
ping per transaction, statement caching and result handling per statement: about
200 us against 30 us of database work). A sender holds one connection for its slice
instead, and runs the statements, compiled once by SQLAlchemy for the connection's
dialect (with its type conversions), straight on the DB-API cursor.

On PostgreSQL the connection is in autocommit and commits asynchronously
(``synchronous_commit = off``): a commit no longer waits for its WAL flush. A worker
crash loses nothing by it (a commit is still atomic and visible at once); a crash of
the database server itself can lose the last fraction of a second of "sent" marks, and
those messages are sent again once their lease expires. The connection is discarded
after the slice, so neither setting reaches other work.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.sql import Executable

from campaign.campaigns.models import Delivery, DeliveryStatus
from campaign.database import Prepared
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
# The reader's status, and whether this sender's claim still holds: a sender that
# stalled past its lease finds the delivery claimed anew (or sent) by another.
READER_CHECK = (
    select(
        _SUBSCRIBER.c.status,
        case(
            (
                (_DELIVERY.c.status == DeliveryStatus.SENDING)
                & (_DELIVERY.c.claimed_at == bindparam("claimed_at")),
                1,
            ),
            else_=0,
        ),
    )
    .select_from(_DELIVERY.outerjoin(_SUBSCRIBER, _SUBSCRIBER.c.id == _DELIVERY.c.subscriber_id))
    .where(_DELIVERY.c.id == bindparam("reader_delivery"))
)


class Verdict(enum.Enum):
    SEND = "send"
    SKIP = "skip"  # no longer subscribed (or erased): marked skipped
    LOST = "lost"  # the claim lapsed and another sender owns the delivery now


class Ledger:
    """Reader checks and "sent" marks for one sender, on one connection.

    On PostgreSQL the connection runs in autocommit and a mark travels with the next
    reader's check as one statement (the UPDATE in a CTE): one round trip per message
    where a mark, a check and a COMMIT took three. SQLite has no UPDATE in a CTE: there
    the mark is executed at once and committed with the next check.
    """

    def __init__(self) -> None:
        self._connection = None
        self._cursor = None
        self._statements: dict[str, Prepared] = {}
        self._combined = db.engine.dialect.name == "postgresql"
        self._pending: tuple[str, dict[str, Any]] | None = None  # PostgreSQL's next mark

    def _run(self, name: str, values: dict[str, Any]):
        if self._connection is None:
            self._open()
        prepared = self._statements.get(name)
        if prepared is None:
            prepared = self._statements[name] = Prepared(_statement(name), db.engine.dialect)
        self._cursor.execute(prepared.sql, prepared.parameters(values))
        return self._cursor

    def _open(self) -> None:
        self._connection = db.engine.raw_connection()
        self._cursor = self._connection.cursor()
        if self._combined:
            self._connection.rollback()  # autocommit can only be set outside a transaction
            self._connection.dbapi_connection.autocommit = True
            self._cursor.execute("SET synchronous_commit = off")

    def check(self, delivery_id: int, claimed_at: datetime) -> Verdict:
        """Read the reader's status and the claim now; commit every mark written before."""
        name, values = "check", {"reader_delivery": delivery_id, "claimed_at": claimed_at}
        if self._pending is not None:
            mark, mark_values = self._pending
            name, values = f"{mark}+check", {**mark_values, **values}
            self._pending = None
        row = self._run(name, values).fetchone()
        self.commit()
        if row is None or not row[1]:
            return Verdict.LOST
        return Verdict.SEND if row[0] == SubscriberStatus.CONFIRMED else Verdict.SKIP

    def mark_sent(self, delivery_id: int, attempt: int, answer: str, at: datetime) -> None:
        """Marked before the next message goes: at once, or with the next check."""
        self._mark(
            "sent", {"delivery_id": delivery_id, "attempt": attempt, "answer": answer, "at": at}
        )

    def mark_skipped(self, delivery_id: int) -> None:
        self._mark("skipped", {"delivery_id": delivery_id})

    def _mark(self, name: str, values: dict[str, Any]) -> None:
        self.commit()  # at most one mark waits for the next check
        if self._combined:
            self._pending = (name, values)
        else:
            self._run(name, values)

    def commit(self) -> None:
        if self._pending is not None:
            name, values = self._pending
            self._pending = None
            self._run(name, values)
        if self._connection is not None and not self._combined:
            self._connection.commit()

    def close(self) -> None:
        """Commit what is written and discard the connection (never back to the pool)."""
        try:
            self.commit()
        finally:
            if self._connection is not None:
                self._connection.invalidate()
                self._connection = self._cursor = None


def _statement(name: str) -> Executable:
    marks = {"sent": MARK_SENT, "skipped": MARK_SKIPPED}
    if name == "check":
        return READER_CHECK
    if name in marks:
        return marks[name]
    mark = marks[name.split("+")[0]].cte("mark")
    return READER_CHECK.add_cte(mark)
