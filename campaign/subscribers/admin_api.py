"""Subscriber routes for staff: list and search (JSON or streamed CSV), export, erase."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from campaign import audit, database
from campaign.api_util import iso, no_body, page_number, streamed_csv, wants_bom, wants_csv
from campaign.errors import ApiError
from campaign.extensions import csrf, db
from campaign.staff.auth import api_role_required, current_staff
from campaign.staff.models import Role
from campaign.subscribers import privacy, queries
from campaign.subscribers.models import Subscriber, SubscriberStatus

bp = Blueprint("subscribers_admin_api", __name__, url_prefix="/api/v1/subscribers")
csrf.exempt(bp)
PAGE_SIZE = 50
COLUMNS = ["id", "email", "first_name", "status", "source", "created_at", "confirmed_at"]


def subscriber_json(subscriber: Subscriber) -> dict:
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "first_name": subscriber.first_name,
        "status": subscriber.status,
        "source": subscriber.source,
        "created_at": iso(subscriber.created_at),
        "confirmed_at": iso(subscriber.confirmed_at),
    }


def _filtered():
    q = request.args.get("q", "")
    if len(q) > 254:  # as typed, as the OpenAPI document's maxLength counts it
        raise ApiError(400, "invalid_q", "q is limited to 254 characters.", "q")
    q = q.strip()
    # Any case, as ?format= is read.
    status = request.args.get("status", "").strip().lower()
    known = [s.value for s in SubscriberStatus]
    if status and status not in known:
        message = f"Unknown status: use one of {', '.join(known)}."
        raise ApiError(400, "invalid_status", message, "status")
    return queries.search(q, status, request.args.get("source", "")[:64])


@bp.get("")
@api_role_required(Role.MARKETING)
def list_subscribers():
    query = _filtered()
    if wants_csv():
        audit.record("subscribers.exported", staff_id=current_staff().id)
        db.session.commit()
        return _csv(query, byte_order_mark=wants_bom())
    page = page_number()
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Subscriber.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return jsonify(items=[subscriber_json(s) for s in rows], page=page, total=total)


def _csv(query, byte_order_mark: bool = False) -> Response:
    def rows():  # run as the answer streams: a hook's commit after the view ends a cursor
        ordered = query.order_by(Subscriber.id).execution_options(yield_per=1000)
        for subscriber in db.session.scalars(ordered):
            yield subscriber_json(subscriber).values()

    return streamed_csv(COLUMNS, rows(), "subscribers.csv", byte_order_mark)


def _subscriber(subscriber_id: int) -> Subscriber:
    subscriber = database.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise ApiError(404, "not_found", "No subscriber has this id.")
    return subscriber


@bp.get("/<int:subscriber_id>/export")
@api_role_required(Role.ADMIN)
def export(subscriber_id: int):
    data = privacy.export(_subscriber(subscriber_id))
    audit.record(
        "subscriber.exported", staff_id=current_staff().id, target=f"subscriber:{subscriber_id}"
    )
    db.session.commit()
    return jsonify(data)


@bp.delete("/<int:subscriber_id>")
@api_role_required(Role.ADMIN)
def erase(subscriber_id: int):
    no_body()
    if not privacy.erase(subscriber_id, current_staff().id):
        db.session.rollback()
        raise ApiError(404, "not_found", "No subscriber has this id.")
    db.session.commit()
    return "", 204
