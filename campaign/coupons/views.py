"""Pages: the front desk, a subscriber's coupon, and the offer settings."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from campaign.coupons import services
from campaign.coupons.models import Coupon
from campaign.coupons.qr import qr_svg
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
        )
        db.session.commit()
        flash("The welcome offer is saved.", "ok")
        return redirect(url_for("coupons.offer"))
    db.session.commit()  # the default offer, if this was its first use
    return render_template("coupons/offer.html", form=form)
