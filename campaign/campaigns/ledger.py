"""The per-message ledger work of a sender, on a database connection of its own.

Each message needs its claim renewed and the reader's status read just before it
goes, and its delivery marked sent the moment the server accepts it. Done through the
session, those two statements and their commit cost more than the message's SMTP
dialogue (a pool checkout per transaction, statement caching and result handling per
statement: about 200 us against 30 us of database work). A sender holds one
connection for its slice instead, and runs the statements, compiled once by
SQLAlchemy for the connection's dialect (with its type conversions), straight on the
DB-API cursor.

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
from functools import cache
from typing import Any

from sqlalchemy import bindparam, literal_column, select, update
from sqlalchemy.sql import Executable

from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.database import prepared
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus

_DELIVERY = Delivery.__table__
_CAMPAIGN = Campaign.__table__
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
# Whether this sender's claim still holds (a sender that stalled past its lease finds
# the delivery claimed anew, or sent, by another) and, if it does, renew it to a whole
# lease from now and read the reader's status. The renewal is what keeps a message
# from going out twice: whatever the sender waited for before this check (the rate
# limit, a slow connection), the SMTP dialogue that follows has a full lease to finish.
READER_CHECK = (
    update(_DELIVERY)
    .where(
        _DELIVERY.c.id == bindparam("reader_delivery"),
        _DELIVERY.c.status == DeliveryStatus.SENDING,
        _DELIVERY.c.claimed_at == bindparam("held_since"),
    )
    .values(claimed_at=bindparam("renewed_at"))
    .returning(
        select(_SUBSCRIBER.c.status)
        # SQLAlchemy writes RETURNING's columns unqualified on SQLite, subqueries
        # included: a bare "subscriber_id" would only resolve to delivery's by luck.
        .where(_SUBSCRIBER.c.id == literal_column("delivery.subscriber_id"))
        .scalar_subquery(),
        # The campaign's status too: a pause or a cancel stops the very next message.
        select(_CAMPAIGN.c.status)
        .where(_CAMPAIGN.c.id == literal_column("delivery.campaign_id"))
        .scalar_subquery(),
    )
)


class Verdict(enum.Enum):
    SEND = "send"
    SKIP = "skip"  # no longer subscribed (or erased): marked skipped
    LOST = "lost"  # the claim lapsed and another sender owns the delivery now
    STOPPED = "stopped"  # the campaign was paused or cancelled: the claim is renewed


class Ledger:
    """Reader checks (claim renewals) and "sent" marks for one sender, on one connection.

    On PostgreSQL the connection runs in autocommit and a mark travels with the next
    reader's check as one statement (the UPDATE in a CTE): one round trip per message
    where a mark, a check and a COMMIT took three. SQLite has no UPDATE in a CTE: there
    the mark is written and committed at once, since SQLite's one writer must be free
    for what the sender does before the next check (the rate limit's bucket is a row).
    """

    def __init__(self) -> None:
        self._connection = None
        self._cursor = None
        self._combined = db.engine.dialect.name == "postgresql"
        self._pending: tuple[str, dict[str, Any]] | None = None  # PostgreSQL's next mark

    def _run(self, name: str, values: dict[str, Any]):
        if self._connection is None:
            self._open()
        compiled = prepared(_statement(name))
        self._cursor.execute(compiled.sql, compiled.parameters(values))
        return self._cursor

    def _open(self) -> None:
        self._connection = db.engine.raw_connection()
        self._cursor = self._connection.cursor()
        if self._combined:
            self._connection.rollback()  # autocommit can only be set outside a transaction
            self._connection.dbapi_connection.autocommit = True
            self._cursor.execute("SET synchronous_commit = off")

    def check(self, delivery_id: int, claimed_at: datetime, now: datetime) -> Verdict:
        """Renew the claim held since ``claimed_at`` to ``now`` and read the reader's
        status; commits every mark written before."""
        name = "check"
        values = {"reader_delivery": delivery_id, "held_since": claimed_at, "renewed_at": now}
        if self._pending is not None:
            mark, mark_values = self._pending
            name, values = f"{mark}+check", {**mark_values, **values}
            self._pending = None
        rows = self._run(name, values).fetchall()
        self.commit()
        if not rows:
            return Verdict.LOST
        reader_status, campaign_status = rows[0]
        if campaign_status != CampaignStatus.SENDING:
            return Verdict.STOPPED
        return Verdict.SEND if reader_status == SubscriberStatus.CONFIRMED else Verdict.SKIP

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
            self._connection.commit()

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


@cache
def _statement(name: str) -> Executable:
    """The statement ``name`` ("check", a mark, or "<mark>+check"), built once."""
    marks = {"sent": MARK_SENT, "skipped": MARK_SKIPPED}
    if name == "check":
        return READER_CHECK
    if name in marks:
        return marks[name]
    mark = marks[name.split("+")[0]].cte("mark")
    return READER_CHECK.add_cte(mark)
