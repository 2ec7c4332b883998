"""The one subscriber search, shared by the staff pages and the API."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from campaign.subscribers.models import Subscriber


def like_pattern(text: str) -> str:
    """A LIKE pattern that matches ``text`` literally anywhere (``%`` and ``_`` escaped)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def search(q: str = "", status: str = "", source: str = "") -> Select:
    """Subscribers whose email or first name contains ``q``, by status and source."""
    query = select(Subscriber)
    if q:
        pattern = like_pattern(q)
        query = query.where(
            or_(
                func.lower(Subscriber.email).like(pattern, escape="\\"),
                func.lower(Subscriber.first_name).like(pattern, escape="\\"),
            )
        )
    if status:
        query = query.where(Subscriber.status == status)
    if source:
        query = query.where(Subscriber.source == source)
    return query
