"""The audit log as admins read it: filtered by action, person and clinic days, newest
first, a page at a time, or all of it as CSV.

Pages go by id (``before``): events keep coming while an admin reads, and an offset
would shift under them, showing some events twice and skipping others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select

from campaign import clinic
from campaign.audit import AuditEvent
from campaign.database import MAX_ID
from campaign.extensions import db
from campaign.staff.models import Staff

PAGE_SIZE = 100


@dataclass(frozen=True)
class Filters:
    action: str = ""
    staff_id: int | None = None
    since: date | None = None  # clinic days, both included
    until: date | None = None

    def as_query(self) -> dict[str, str]:
        """The filters as the page's query string writes them (for links)."""
        query = {
            "action": self.action,
            "who": str(self.staff_id) if self.staff_id else "",
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        return {name: value for name, value in query.items() if value}


def _day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:  # the browser's date box sends YYYY-MM-DD; anything else: none
        return None
    # Year 1 or 9999 in the clinic's zone can fall outside the calendar in UTC.
    return day if 1900 <= day.year <= 2999 else None


def _id(text: str) -> int | None:
    text = text.strip()
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


def read_filters(args) -> Filters:
    """The filters of a request's query string; what cannot be read is left out."""
    since, until = _day(args.get("from", "")), _day(args.get("to", ""))
    if since and until and since > until:  # the wrong way round: as the writer meant it
        since, until = until, since
    return Filters(
        action=args.get("action", "")[:64],
        staff_id=_id(args.get("who", "")),
        since=since,
        until=until,
    )


def read_before(args) -> int | None:
    """The page's ``before``: the id the events shown are older than (None: newest)."""
    return _id(args.get("before", ""))


def events(filters: Filters, before: int | None = None) -> Select:
    """The events the filters keep (with each one's staff email), newest first."""
    query = (
        select(AuditEvent, Staff.email)
        .join(Staff, Staff.id == AuditEvent.staff_id, isouter=True)
        .order_by(AuditEvent.id.desc())
    )
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.staff_id:
        query = query.where(AuditEvent.staff_id == filters.staff_id)
    if filters.since:
        query = query.where(AuditEvent.at >= clinic.utc_time(_midnight(filters.since)))
    if filters.until:
        query = query.where(AuditEvent.at <= clinic.end_of_day(filters.until))
    if before:
        query = query.where(AuditEvent.id < before)
    return query


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def page(filters: Filters, before: int | None) -> tuple[list, int | None]:
    """One page of events, and the ``before`` of the next (older) page, if any."""
    rows = db.session.execute(events(filters, before).limit(PAGE_SIZE + 1)).all()
    older = rows[PAGE_SIZE - 1][0].id if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], older


CSV_COLUMNS = ["at", "at_utc", "who", "action", "what", "target", "about", "ip", "details"]


def csv_row(event: AuditEvent, who: str | None, labels: dict, about: dict) -> list:
    target = about.get(event.target)
    return [
        clinic.local_time(event.at).isoformat(sep=" ", timespec="seconds"),
        event.at.isoformat(timespec="seconds") + "Z",
        who or "",
        event.action,
        labels.get(event.action, event.action),
        event.target or "",
        target.label if target else "",
        event.ip or "",
        json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True),
    ]
