"""The staff UI shell: login, logout, home, API tokens."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from campaign.extensions import db, rate_limits
from campaign.staff import services
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.forms import LoginForm, TokenForm
from campaign.staff.models import Role

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")


def _safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    "//evil.example" and "https://..." would leave the site, and so would
    "/<tab>/evil.example": browsers drop tabs and line breaks from a URL before reading
    it (and a line break cannot go into a Location header at all).
    """
    if not target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@rate_limits.limit("LOGIN_RATE_LIMIT", scope="login", methods={"POST"})
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        staff = services.authenticate(form.email.data, form.password.data)
        db.session.commit()
        if staff is not None:
            login_user(staff)
            default = (
                url_for("coupons.desk")
                if staff.role == Role.RECEPTIONIST
                else url_for("staff.home")
            )
            return redirect(_safe_next(request.args.get("next")) or default)
        error = "That email and password do not match an active account."
    status = 400 if request.method == "POST" else 200
    return render_template("staff/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("staff.login"))


@bp.get("/")
@page_role_required(Role.RECEPTIONIST)
def home():
    return render_template("staff/home.html")


@bp.route("/tokens", methods=["GET", "POST"])
@page_role_required(Role.RECEPTIONIST)
def tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        new_token = services.create_api_token(current_staff(), form.name.data)
        db.session.commit()
    return render_template(
        "staff/tokens.html", form=form, new_token=new_token, tokens=current_staff().tokens
    )


@bp.post("/tokens/<int:token_id>/revoke")
@page_role_required(Role.RECEPTIONIST)
def revoke_token(token_id: int):
    if services.revoke_api_token(current_staff(), token_id):
        db.session.commit()
        flash("Token revoked.", "ok")
    return redirect(url_for("staff.tokens"))


@bp.app_context_processor
def _staff_context():
    # Emails are rendered by the worker, outside any request: no one is logged in there.
    user = current_user if has_request_context() else None
    return {"Role": Role, "staff_user": user if user and user.is_authenticated else None}
