"""Campaign routes of the HTTP contract."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from campaign import database
from campaign.api_util import (
    iso,
    json_body,
    no_body,
    page_number,
    streamed_csv,
    wants_bom,
    wants_csv,
)
from campaign.campaigns import services
from campaign.campaigns.models import Campaign, Delivery, DeliveryStatus
from campaign.campaigns.services import CampaignInvalid, MoveNotAllowed, NotADraft
from campaign.errors import ApiError
from campaign.extensions import csrf, db
from campaign.staff.auth import api_role_required, current_staff
from campaign.staff.models import Role
from campaign.subscribers.models import Subscriber

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/v1/campaigns")
csrf.exempt(bp)
PAGE_SIZE = 100


@bp.errorhandler(CampaignInvalid)
def _invalid(exc: CampaignInvalid):
    return jsonify(error={"code": exc.code, "message": exc.message, "field": exc.field}), 400


@bp.errorhandler(MoveNotAllowed)
def _not_allowed(exc: MoveNotAllowed):
    error = {"code": "invalid_state", "message": exc.message, "field": "status"}
    return jsonify(error=error), 409


def campaign_json(campaign: Campaign) -> dict:
    progress = services.progress(campaign)
    return {
        "id": campaign.id,
        "subject": campaign.subject,
        "preheader": campaign.preheader,
        "body_markdown": campaign.body_markdown,
        "status": campaign.status,
        "send_at": iso(campaign.send_at),
        "started_at": iso(campaign.started_at),
        "finished_at": iso(campaign.finished_at),
        "started_late_seconds": campaign.started_late_by,
        "counts": {
            "total": progress.total,
            "queued": progress.queued + progress.sending,
            "sent": progress.sent,
            "failed": progress.failed,
            "skipped": progress.skipped,
            "cancelled": progress.cancelled,
        },
        "rate_per_minute": progress.rate_per_minute,
        "eta_seconds": round(progress.eta_seconds) if progress.eta_seconds else None,
    }


def _campaign(campaign_id: int) -> Campaign:
    campaign = database.get(Campaign, campaign_id)
    if campaign is None:
        raise ApiError(404, "not_found", "No campaign has this id.")
    return campaign


marketing = api_role_required(Role.MARKETING)


@bp.get("")
@marketing
def list_campaigns():
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(100))
    return jsonify(items=[campaign_json(c) for c in campaigns])


@bp.post("")
@marketing
def create_campaign():
    body = json_body({"subject", "body_markdown", "preheader"}, {"subject", "body_markdown"})
    campaign = services.create_campaign(
        current_staff(), body["subject"], body["body_markdown"], body.get("preheader", "")
    )
    db.session.commit()
    return jsonify(campaign_json(campaign)), 201


@bp.get("/<int:campaign_id>")
@marketing
def get_campaign(campaign_id: int):
    return jsonify(campaign_json(_campaign(campaign_id)))


@bp.patch("/<int:campaign_id>")
@marketing
def update_campaign(campaign_id: int):
    campaign = _campaign(campaign_id)
    body = json_body({"subject", "body_markdown", "preheader"})
    services.update_campaign(
        campaign,
        body.get("subject", campaign.subject),
        body.get("body_markdown", campaign.body_markdown),
        body.get("preheader", campaign.preheader),
    )
    db.session.commit()
    return jsonify(campaign_json(campaign))


@bp.delete("/<int:campaign_id>")
@marketing
def delete_campaign(campaign_id: int):
    no_body()
    try:
        services.delete_draft(_campaign(campaign_id), current_staff())
    except NotADraft as exc:
        raise ApiError(409, "not_a_draft", exc.message, "status") from None
    db.session.commit()
    return "", 204


@bp.post("/<int:campaign_id>/copy")
@marketing
def copy_campaign(campaign_id: int):
    no_body()
    campaign = services.copy_campaign(_campaign(campaign_id), current_staff())
    db.session.commit()
    return jsonify(campaign_json(campaign)), 201


@bp.post("/<int:campaign_id>/test")
@marketing
def send_test(campaign_id: int):
    campaign = _campaign(campaign_id)
    body = json_body({"emails"}, {"emails"})
    recipients = services.send_test(campaign, body["emails"], current_staff())
    db.session.commit()
    return jsonify(status="queued", emails=recipients), 202


@bp.post("/<int:campaign_id>/schedule")
@marketing
def schedule(campaign_id: int):
    campaign = _campaign(campaign_id)
    body = json_body({"send_at"}, {"send_at"})
    services.schedule(campaign, services.parse_send_at(body["send_at"]), current_staff())
    db.session.commit()
    return jsonify(campaign_json(campaign))


@bp.post("/<int:campaign_id>/send")
@marketing
def send_now(campaign_id: int):
    no_body()
    campaign = _campaign(campaign_id)
    services.send_now(campaign, current_staff())
    db.session.commit()
    return jsonify(campaign_json(campaign)), 202


def _control(move):
    def view(campaign_id: int):
        no_body()
        campaign = _campaign(campaign_id)
        move(campaign, current_staff())
        # Read before the commit: after it, a pause and a resume sent together could
        # each answer with the status the other set.
        answer = campaign_json(campaign)
        db.session.commit()
        return jsonify(answer)

    return view


for _name, _move in {
    "pause": services.pause,
    "resume": services.resume,
    "cancel": services.cancel,
    "unschedule": services.unschedule,
}.items():
    bp.add_url_rule(
        f"/<int:campaign_id>/{_name}",
        endpoint=_name,
        view_func=marketing(_control(_move)),
        methods=["POST"],
    )


DELIVERY_COLUMNS = ["email", "first_name", "status", "attempts", "sent_at", "smtp_response"]


def _deliveries_query(campaign_id: int, status: str | None):
    query = (
        select(Delivery, Subscriber.email, Subscriber.first_name)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id, isouter=True)
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
    )
    return query.where(Delivery.status == status) if status else query


def _status_asked() -> str | None:
    """``?status=``: only the deliveries in that state (any case, as ``?format=``)."""
    status = request.args.get("status", "").strip().lower()
    known = [s.value for s in DeliveryStatus]
    if status and status not in known:
        message = f"Unknown status: use one of {', '.join(known)}."
        raise ApiError(400, "invalid_status", message, "status")
    return status or None


def _delivery_row(delivery: Delivery, email: str | None, first_name: str | None) -> dict:
    return {
        "email": email,
        "first_name": first_name,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "sent_at": iso(delivery.sent_at),
        "smtp_response": delivery.smtp_response,
    }


@bp.get("/<int:campaign_id>/deliveries")
@marketing
def deliveries(campaign_id: int):
    """Who got what: JSON pages, or the whole ledger streamed as CSV."""
    _campaign(campaign_id)
    status = _status_asked()
    if wants_csv():
        return _deliveries_csv(campaign_id, status)
    page = page_number()
    counted = select(func.count()).select_from(Delivery).filter_by(campaign_id=campaign_id)
    total = db.session.scalar(counted.filter_by(status=status) if status else counted)
    rows = db.session.execute(
        _deliveries_query(campaign_id, status).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return jsonify(items=[_delivery_row(*row) for row in rows], page=page, total=total)


def _deliveries_csv(campaign_id: int, status: str | None) -> Response:
    def rows():  # run as the answer streams: a hook's commit after the view ends a cursor
        query = _deliveries_query(campaign_id, status).execution_options(yield_per=1000)
        for row in db.session.execute(query):
            yield _delivery_row(*row).values()

    filename = f"campaign-{campaign_id}-deliveries.csv"
    return streamed_csv(DELIVERY_COLUMNS, rows(), filename, wants_bom())
