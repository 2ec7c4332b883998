"""Helpers shared by the JSON APIs: body parsing and time formatting."""

from __future__ import annotations

from datetime import datetime

from flask import request

from campaign.errors import ApiError


def json_body(allowed: set[str], required: set[str] = frozenset()) -> dict:
    """The request body as a JSON object with only ``allowed`` keys, or a clear 400."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field: {unknown[0]}.", unknown[0])
    missing = sorted(required - set(payload))
    if missing:
        raise ApiError(400, f"invalid_{missing[0]}", f"{missing[0]} is required.", missing[0])
    return payload


def iso(moment: datetime | None) -> str | None:
    """Naive UTC datetimes as ISO 8601 with a Z."""
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def page_number() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise ApiError(400, "invalid_page", "page must be a positive whole number.", "page")
    return int(raw)
