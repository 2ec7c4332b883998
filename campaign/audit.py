"""The audit log: who did what, when, from where. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Insert, Select, String, insert, literal
from sqlalchemy.orm import Mapped, mapped_column

from campaign.database import utcnow
from campaign.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    # What the action was about, e.g. "coupon:42" or "staff:ann@clinic.test".
    target: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record(
    action: str, *, staff_id: int | None = None, target: str | None = None, **details: Any
) -> None:
    """Write an audit event in the current transaction; it is kept only if that commits.

    A plain INSERT, run at once: nobody reads the event back in the same transaction,
    so it needs no object in the session for a flush to write (the desk writes one per
    redemption, and the flush cost as much as the redemption's own statements).
    """
    db.session.execute(
        _INSERT,
        {
            "at": utcnow(),
            "action": action,
            "staff_id": staff_id,
            "target": target,
            "ip": request.remote_addr if has_request_context() else None,
            "details": details,
        },
    )


def insert_from(rows: Select, **details: Any) -> Insert:
    """An event for each row of ``rows`` (at, action, staff_id, target, ip), for a
    statement that records its own change in the same round trip (a PostgreSQL CTE)."""
    columns = ["at", "action", "staff_id", "target", "ip", "details"]
    return _INSERT.from_select(columns, rows.add_columns(literal(details, JSON)))


_INSERT = insert(AuditEvent.__table__)
