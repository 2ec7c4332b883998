"""The marketing UI: list, compose with live preview, schedule, send, watch progress."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from campaign import clinic, database
from campaign.campaigns import services
from campaign.campaigns.models import Campaign, ClinicSetting
from campaign.campaigns.preview import PREVIEW_READERS, preview_html
from campaign.campaigns.rendering import RenderError, fallback_note
from campaign.campaigns.services import CampaignInvalid, MoveNotAllowed, NotADraft
from campaign.database import utcnow
from campaign.emails import UnsafeHeader
from campaign.extensions import db
from campaign.images.services import ACCEPT_ATTRIBUTE, markdown_for, recent_images
from campaign.security import shows_newsletter_images
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.models import Role

# The editor offers the images uploaded last; the Images page lists them all.
PICKABLE_IMAGES = 24

bp = Blueprint("campaigns", __name__, url_prefix="/staff/campaigns", template_folder="templates")
marketing = page_role_required(Role.MARKETING)

SLOT_KEY = "monthly_slot"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def monthly_slot() -> dict:
    row = db.session.get(ClinicSetting, SLOT_KEY)
    return json.loads(row.value) if row else services.monthly_slot_default()


def _campaign(campaign_id: int) -> Campaign:
    return database.get_or_404(Campaign, campaign_id)


@bp.get("/")
@marketing
def index():
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(200)).all()
    slot = monthly_slot()
    return render_template(
        "campaigns/index.html",
        campaigns=campaigns,
        sent=services.sent_counts([c.id for c in campaigns]),
        slot=slot,
        weekdays=WEEKDAYS,
        next_slot=services.next_monthly_slot(utcnow(), slot),
    )


@bp.post("/slot")
@marketing
def save_slot():
    try:
        week = int(request.form.get("week", ""))
        weekday = int(request.form.get("weekday", ""))
        hour, minute = (int(p) for p in request.form.get("time", "").split(":"))
    except ValueError:
        flash("Choose a week, a day and a time.", "error")
        return redirect(url_for("campaigns.index"))
    if not (1 <= week <= 4 and 0 <= weekday <= 6 and 0 <= hour <= 23 and 0 <= minute <= 59):
        flash("Choose a week, a day and a time.", "error")
        return redirect(url_for("campaigns.index"))
    value = json.dumps({"week": week, "weekday": weekday, "time": f"{hour:02d}:{minute:02d}"})
    db.session.merge(ClinicSetting(key=SLOT_KEY, value=value))
    db.session.commit()
    flash("Monthly slot saved.", "ok")
    return redirect(url_for("campaigns.index"))


@bp.route("/new", methods=["GET", "POST"])
@marketing
@shows_newsletter_images
def new():
    error = error_field = None
    if request.method == "POST":
        try:
            campaign = services.create_campaign(
                current_staff(),
                request.form.get("subject"),
                request.form.get("body_markdown"),
                request.form.get("preheader", ""),
            )
        except CampaignInvalid as exc:
            error, error_field = exc.message, exc.field
        else:
            db.session.commit()
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return render_template(
        "campaigns/edit.html",
        campaign=None,
        form=request.form,
        error=error,
        error_field=error_field,
        image_accept=ACCEPT_ATTRIBUTE,
        uploaded_images=recent_images(PICKABLE_IMAGES),
        markdown_for=markdown_for,
        preview_readers=PREVIEW_READERS,
    ), (400 if error else 200)


@bp.route("/<int:campaign_id>", methods=["GET", "POST"])
@marketing
@shows_newsletter_images
def edit(campaign_id: int):
    campaign = _campaign(campaign_id)
    error = error_field = None
    if request.method == "POST":
        try:
            services.update_campaign(
                campaign,
                request.form.get("subject"),
                request.form.get("body_markdown"),
                request.form.get("preheader", ""),
            )
        except (CampaignInvalid, MoveNotAllowed) as exc:
            error = exc.message
            # The page marks the field at fault (a state conflict has none).
            error_field = getattr(exc, "field", None)
            db.session.rollback()
        else:
            db.session.commit()
            flash("Saved.", "ok")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    slot = monthly_slot()
    return render_template(
        "campaigns/edit.html",
        campaign=campaign,
        form=request.form if error else None,
        error=error,
        error_field=error_field,
        next_slot=services.next_monthly_slot(utcnow(), slot),
        send_at_local=clinic.local_time(campaign.send_at),
        audience=services.audience_size(),
        undelivered=services.undelivered(campaign.id) if campaign.started_at else [],
        image_accept=ACCEPT_ATTRIBUTE,
        uploaded_images=recent_images(PICKABLE_IMAGES),
        markdown_for=markdown_for,
        preview_readers=PREVIEW_READERS,
    ), (400 if error else 200)


@bp.post("/<int:campaign_id>/copy")
@marketing
def copy(campaign_id: int):
    source = _campaign(campaign_id)
    campaign = services.copy_campaign(source, current_staff())
    db.session.commit()
    flash(
        "A new draft with the content of the one you copied: change what is new, then send it.",
        "ok",
    )
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/delete")
@marketing
def delete(campaign_id: int):
    campaign = database.get(Campaign, campaign_id)
    if campaign is None:
        flash("That draft was already deleted.", "ok")
        return redirect(url_for("campaigns.index"))
    subject = campaign.subject
    try:
        services.delete_draft(campaign, current_staff())
    except NotADraft as exc:
        flash(exc.message, "error")
        return redirect(url_for("campaigns.edit", campaign_id=campaign_id))
    db.session.commit()
    flash(f"The draft \u201c{subject}\u201d is deleted.", "ok")
    return redirect(url_for("campaigns.index"))


@bp.post("/preview")
@marketing
def preview():
    """The live preview: the real email layout, rendered on the server."""
    body = (request.form.get("body_markdown") or "")[:100_000]
    try:
        html = preview_html(
            (request.form.get("subject") or "(no subject)")[:200],
            (request.form.get("preheader") or "")[:200],
            body,
            reader=request.form.get("preview_as", "ann"),
        )
    except RenderError as exc:
        return {"error": str(exc)}, 400
    except UnsafeHeader:
        return {"error": "The subject cannot hold a line break or another control character."}, 400
    return {"html": html, "note": fallback_note(body)}
