"""The staff UI shell: login, logout, passwords, home, API tokens."""

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
from campaign.staff import services, sessions
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    NameForm,
    SetPasswordForm,
    TokenForm,
)
from campaign.staff.models import Role, Staff
from campaign.tokens import TokenExpired, TokenInvalid

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
        try:
            staff = services.authenticate(form.email.data, form.password.data)
        except services.LoginRefused as exc:
            db.session.commit()  # the refusal's audit row
            page = render_template("staff/login.html", form=form, error=str(exc))
            return page, 429, {"Retry-After": str(exc.retry_after)}
        if staff is not None:
            sessions.start_session(staff)
        db.session.commit()
        if staff is not None:
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")) or _start_page(staff))
        error = "That email and password do not match an active account."
    status = 400 if request.method == "POST" else 200
    return render_template("staff/login.html", form=form, error=error), status


def _start_page(staff: Staff) -> str:
    return url_for("coupons.desk") if staff.role == Role.RECEPTIONIST else url_for("staff.home")


@bp.route("/password/forgot", methods=["GET", "POST"])
@rate_limits.limit("LOGIN_RATE_LIMIT", scope="password-link", methods={"POST"})
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_link(form.email.data)
        db.session.commit()
        # The same answer for every address: the form must not tell who has an account.
        return render_template("staff/password_link_sent.html", email=form.email.data)
    status = 400 if request.method == "POST" else 200
    return render_template("staff/forgot_password.html", form=form), status


@bp.route("/password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """The page of an emailed set-password link; the token is the credential."""
    try:
        staff = services.staff_for_password_link(token)
    except TokenExpired:
        return render_template("staff/password_link_invalid.html", expired=True), 410
    except TokenInvalid:
        return render_template("staff/password_link_invalid.html", expired=False), 400
    form = SetPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            services.set_password(staff, form.password.data)
        except services.StaffError as exc:
            error = str(exc)
        else:
            services.note_login(staff)
            sessions.start_session(staff)
            db.session.commit()
            login_user(staff)
            flash("Your password is set. Welcome!", "ok")
            return redirect(_start_page(staff))
    status = 400 if request.method == "POST" else 200
    page = render_template(
        "staff/set_password.html",
        form=form,
        staff=staff,
        error=error,
        min_length=services.MIN_PASSWORD_LENGTH,
    )
    return page, status


@bp.route("/account", methods=["GET", "POST"])
@page_role_required(Role.RECEPTIONIST)
def account():
    form = ChangePasswordForm()
    error = error_field = None
    if form.validate_on_submit():
        staff = current_staff()
        try:
            services.change_password(staff, form.current.data, form.password.data)
        except services.StaffError as exc:
            error, error_field = str(exc), exc.field or "password"
        else:
            db.session.commit()
            login_user(staff)  # this session carries the new password's fingerprint
            flash("Password changed. Other devices are logged out.", "ok")
            return redirect(url_for("staff.account"))
    status = 400 if request.method == "POST" else 200
    return _account_page(form=form, error=error, error_field=error_field), status


@bp.post("/account/name")
@page_role_required(Role.RECEPTIONIST)
def change_name():
    staff = current_staff()
    name_form = NameForm()
    if name_form.validate_on_submit():
        try:
            services.set_name(staff, name_form.name.data, by=staff)
        except services.StaffError as exc:
            name_form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Your name at the desk is now {staff.display_name}.", "ok")
            return redirect(url_for("staff.account"))
    return _account_page(name_form=name_form), 400


def _account_page(
    form: ChangePasswordForm | None = None,
    name_form: NameForm | None = None,
    error: str | None = None,
    error_field: str | None = None,
) -> str:
    staff = current_staff()
    # formdata=None: a form not posted shows the stored values, not the other's post.
    return render_template(
        "staff/account.html",
        form=form or ChangePasswordForm(formdata=None),
        name_form=name_form or NameForm(formdata=None, name=staff.name),
        error=error,
        error_field=error_field,
        min_length=services.MIN_PASSWORD_LENGTH,
        sessions=sessions.sessions_of(staff),
        device_label=sessions.device_label,
    )


@bp.post("/account/sessions")
@page_role_required(Role.RECEPTIONIST)
def end_other_sessions():
    staff = current_staff()
    services.end_other_sessions(staff)
    db.session.commit()
    login_user(staff)  # this session carries the new fingerprint; the others do not
    flash("Logged out on every other device.", "ok")
    return redirect(url_for("staff.account"))


@bp.post("/account/sessions/<int:session_id>/end")
@page_role_required(Role.RECEPTIONIST)
def end_session(session_id: int):
    staff = current_staff()
    if session_id == staff.session_id:
        return logout()
    if sessions.end_session(staff, session_id):
        db.session.commit()
        flash("Logged out on that device.", "ok")
    else:  # ended meanwhile, or not one of this account's
        flash("That login has already ended.", "ok")
    return redirect(url_for("staff.account"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:  # a copy of this cookie ends with it
        sessions.end_session(current_user, current_user.session_id)
        db.session.commit()
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
    page = render_template(
        "staff/tokens.html", form=form, new_token=new_token, tokens=current_staff().tokens
    )
    return page, 400 if form.errors else 200


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
