"""Pages: the front desk, a subscriber's coupon, and the offer settings."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, flash, redirect, render_template, request, url_for

from campaign import database
from campaign.coupons import services
from campaign.coupons.models import Coupon, CouponStatus, Offer
from campaign.coupons.qr import qr_svg
from campaign.database import utcnow
from campaign.extensions import db
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.forms import OfferForm
from campaign.staff.models import Role
from campaign.tokens import Purpose, TokenError, read_token, row_id

bp = Blueprint("coupons", __name__, template_folder="templates")


@bp.get("/desk")
@page_role_required(Role.RECEPTIONIST)
def desk():
    return render_template("coupons/desk.html")


@bp.get("/coupon/sample")
def sample_coupon():
    """Where a test copy's coupon link goes: what a reader's own link opens."""
    from campaign.campaigns.preview import SAMPLE_CODE

    # Read only: before the offer's first use, the defaults it will be made with.
    offer = services.current_welcome_offer() or Offer(**services.DEFAULT_OFFER)
    sample = SimpleNamespace(
        offer_title=offer.title,
        offer_terms=offer.terms,
        expires_at=services.expiry_for(utcnow(), offer.validity_days),
    )
    return render_template(
        "coupons/coupon.html",
        coupon=sample,
        code=SimpleNamespace(display=SAMPLE_CODE),
        status=CouponStatus.ISSUED,
        qr=qr_svg(SAMPLE_CODE, title=f"QR code of coupon {SAMPLE_CODE}"),
        sample=True,
    )


@bp.get("/coupon/<token>")
def coupon_page(token: str):
    """The subscriber's coupon on their phone: code, QR and status. The token is the key."""
    try:
        coupon_id = row_id(read_token(Purpose.COUPON, token, max_age=None))
    except TokenError:
        return render_template("subscribers/invalid_link.html", kind="coupon"), 400
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        return render_template("subscribers/invalid_link.html", kind="coupon"), 404
    code = services.code_of(coupon)
    return render_template(
        "coupons/coupon.html",
        coupon=coupon,
        code=code,
        status=coupon.effective_status(),
        qr=qr_svg(code.value, title=f"QR code of coupon {code.display}"),
    )


@bp.route("/staff/offer", methods=["GET", "POST"])
@page_role_required(Role.ADMIN)
def offer():
    current = services.welcome_offer()
    form = OfferForm(obj=current)
    if form.validate_on_submit():
        services.update_welcome_offer(
            current_staff(),
            title=form.title.data.strip(),
            terms=(form.terms.data or "").strip(),
            validity_days=form.validity_days.data,
            reminder_days=form.reminder_days.data,
            active=form.active.data,
        )
        db.session.commit()
        flash(
            "The welcome offer is saved."
            if form.active.data
            else "Saved, switched off: new subscribers get no coupon, and nothing promises one.",
            "ok",
        )
        return redirect(url_for("coupons.offer"))
    db.session.commit()  # the default offer, if this was its first use
    return render_template("coupons/offer.html", form=form), 400 if form.errors else 200


ADMIN_MOVES = {
    "void": (
        services.void_coupon,
        {services.Outcome.VOIDED: "Coupon voided: it can no longer be used."},
    ),
    "undo": (
        services.undo_redemption,
        {services.Outcome.UNDONE: "Redemption undone: the coupon can be used again."},
    ),
}


@bp.post("/staff/coupons/<int:coupon_id>/void")
@page_role_required(Role.ADMIN)
def void_coupon(coupon_id: int):
    return _admin_move(coupon_id, "void")


@bp.post("/staff/coupons/<int:coupon_id>/undo")
@page_role_required(Role.ADMIN)
def undo_redemption(coupon_id: int):
    return _admin_move(coupon_id, "undo")


def _admin_move(coupon_id: int, move: str):
    """An admin voids an unused coupon or undoes a redemption, from the subscriber's
    page, giving a reason (the API's /void and /undo, for a person at a desk)."""
    coupon = database.get_or_404(Coupon, coupon_id)
    back = (
        url_for("subscriber_pages.detail", subscriber_id=coupon.subscriber_id)
        if coupon.subscriber_id
        else url_for("subscriber_pages.index")
    )
    try:
        reason = services.clean_reason(request.form.get("reason"))
    except services.ReasonInvalid as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    if reason is None:
        flash("Give a reason: it goes into the audit log.", "error")
        return redirect(back, 303)
    action, done = ADMIN_MOVES[move]
    result = action(services.code_of(coupon).display, current_staff(), reason)
    db.session.commit()
    if result.outcome in done:
        flash(done[result.outcome], "ok")
    else:
        flash(f"Nothing changed: the coupon is {result.coupon.effective_status().value}.", "error")
    return redirect(back, 303)
