"""The audit log: who did what, when, from where. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Insert, Select, String, insert, literal
from sqlalchemy.orm import Mapped, mapped_column

from campaign.database import utcnow
from campaign.extensions import db

# How the audit log page names each action (the code stays in the filter and the API).
ACTION_LABELS = {
    "campaign.created": "Newsletter created",
    "campaign.copied": "Newsletter copied into a new draft",
    "campaign.scheduled": "Newsletter scheduled",
    "campaign.unscheduled": "Newsletter back to draft (unscheduled)",
    "campaign.test_sent": "Test copy sent",
    "campaign.sent": "Newsletter sending started",
    "campaign.paused": "Newsletter paused",
    "campaign.resumed": "Newsletter resumed",
    "campaign.cancelled": "Newsletter cancelled",
    "campaign.deleted": "Draft newsletter deleted",
    "clinic.details_changed": "Clinic details changed",
    "coupon.redeemed": "Coupon redeemed",
    "coupon.redemption_undone": "Redemption undone",
    "coupon.voided": "Coupon voided",
    "image.uploaded": "Image uploaded",
    "image.deleted": "Image deleted",
    "offer.updated": "Welcome offer changed",
    "staff.created": "Staff member added",
    "staff.role_changed": "Role changed",
    "staff.deactivated": "Account deactivated",
    "staff.reactivated": "Account reactivated",
    "staff.locked": "Account paused (invalid codes)",
    "staff.unlocked": "Account's pause lifted",
    "staff.login": "Logged in",
    "staff.login_failed": "Login failed",
    "staff.login_refused": "Login refused (too many failed logins for the address)",
    "staff.renamed": "Name at the desk changed",
    "staff.password_link_requested": "Password link asked for",
    "staff.password_link_mailed": "Password link mailed (forgot password)",
    "staff.password_link_sent": "Password link sent by an admin",
    "staff.password_set": "Password set",
    "staff.sessions_ended": "Logged out everywhere else",
    "staff.session_ended": "Logged out on another device",
    "staff.token_created": "API token created",
    "staff.token_revoked": "API token revoked",
    "subscriber.exported": "Subscriber's data exported",
    "subscriber.erased": "Subscriber erased",
    "subscriber.unsubscribed": "Unsubscribed by staff at the person's request",
    "subscribers.exported": "Subscriber list exported",
    "subscribers.import_uploaded": "Import uploaded",
    "subscribers.imported": "Import done",
}


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
