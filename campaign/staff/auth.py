"""Who is calling: a session (pages and the desk) or a bearer token (scripts).

API routes answer 401 JSON without credentials and 403 JSON for the wrong role; pages
redirect to the login form or show a 403 page. A session-authenticated API call that
changes something must carry the CSRF token (header ``X-CSRFToken``), and so must a
coupon look-up (``reads_need_csrf``); a bearer call needs none, since no browser sends
that header by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from campaign.errors import ApiError
from campaign.extensions import csrf, login_manager
from campaign.staff import services, sessions
from campaign.staff.models import Role, Staff

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@login_manager.user_loader
def load_staff(session_id: str) -> Staff | None:
    """The active staff member of a login session that has not ended, if their
    password is unchanged since they logged in (``Staff.get_id``): a new password
    logs out everywhere. A cookie from before sessions had keys logs in afresh."""
    staff_id, fingerprint, key = (session_id.split(":", 2) + ["", ""])[:3]
    if not (staff_id.isascii() and staff_id.isdigit() and key):
        return None
    staff = sessions.staff_for_session(int(staff_id), key)
    if staff is None or staff.password_fingerprint != fingerprint:
        return None
    return staff


def current_staff() -> Staff | None:
    return g.get("staff")


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def _protect_read() -> None:
    """The CSRF check of ``csrf.protect()``, for a read (which it skips by method)."""
    sent = next(
        (
            request.headers[name]
            for name in current_app.config["WTF_CSRF_HEADERS"]
            if name in request.headers
        ),
        None,
    )
    try:
        validate_csrf(sent)
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None


def api_role_required(role: Role, reads_need_csrf: bool = False) -> Callable:
    """The caller's staff member in ``g.staff``, with at least ``role``.

    ``reads_need_csrf``: a session call that only reads must carry the CSRF token too,
    for a read with a side effect. The coupon look-up counts invalid codes toward the
    account's lockout, and the SameSite=Lax cookie rides along on a top-level
    navigation from any site: a page elsewhere opening invalid-code URLs would keep
    the desk locked out. Checked here, before the desk's rate limit, so such a page
    cannot spend that either.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = _bearer_token()
            if token is not None:
                staff = services.staff_for_token(token)
                if staff is None:
                    raise ApiError(401, "invalid_token", "The API token is not valid.")
            elif current_user.is_authenticated:
                staff = current_user
                if request.method not in SAFE_METHODS:
                    csrf.protect()
                elif reads_need_csrf:
                    _protect_read()
            else:
                raise ApiError(401, "unauthorized", "Log in or send an API token.")
            if not staff.has_role(role):
                raise ApiError(403, "forbidden", f"This needs the {role.label} role.")
            g.staff = staff
            return view(*args, **kwargs)

        setattr(wrapper, "required_role", role)  # noqa: B010 - read by the route inventory
        return wrapper

    return decorator


def page_role_required(role: Role) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("staff.login", next=request.full_path))
            if not current_user.has_role(role):
                from flask import abort

                abort(403)
            g.staff = current_user._get_current_object()
            return view(*args, **kwargs)

        setattr(wrapper, "required_role", role)  # noqa: B010
        return wrapper

    return decorator
