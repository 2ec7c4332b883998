"""Public pages: signup, confirm, unsubscribe.

No cookie is needed anywhere here: the signed token in the link is the credential,
which is also why these forms carry no CSRF token. Confirming and unsubscribing take
a POST, because mail scanners fetch every link in a message with GET.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from campaign.coupons.services import welcome_promise
from campaign.extensions import csrf, db, rate_limits
from campaign.subscribers import services
from campaign.subscribers.models import Subscriber
from campaign.subscribers.services import ConfirmOutcome, Signup, SignupInvalid
from campaign.tokens import TokenError, TokenExpired, TokenInvalid

bp = Blueprint("subscribers", __name__, template_folder="templates")
csrf.exempt(bp)

HONEYPOT_FIELD = "website"


# One budget per IP for every route that can make us send a confirmation email.
signup_rate_limit = rate_limits.limit("SIGNUP_RATE_LIMIT", scope="signup")


def _invalid_link(kind: str):
    mailbox = current_app.config.get("UNSUBSCRIBE_MAILTO")
    return render_template("subscribers/invalid_link.html", kind=kind, mailbox=mailbox), 400


@bp.get("/")
def signup_page():
    welcome = welcome_promise()
    return render_template("subscribers/signup.html", form={}, error=None, welcome=welcome)


@bp.post("/subscribe")
@signup_rate_limit
def subscribe():
    form = request.form
    if form.get(HONEYPOT_FIELD):
        # A bot filled the field people cannot see: answer as for anyone, do nothing.
        return render_template("subscribers/check_inbox.html")
    try:
        signup = Signup.parse(
            email=form.get("email", ""),
            first_name=form.get("first_name") or None,
            consent=form.get("consent") in {"on", "yes", "true", "1"},
            source=form.get("source") or "web",
            ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
        )
    except SignupInvalid as exc:
        page = render_template(
            "subscribers/signup.html", form=form, error=exc, welcome=welcome_promise()
        )
        return page, 400
    services.subscribe_now(signup)
    return render_template("subscribers/check_inbox.html")


@bp.get("/confirm/<token>")
def confirm(token: str):
    try:
        subscriber_id, optin_round = services.read_confirm_token(token)
    except TokenExpired as exc:
        return _expired_confirm_link(token, exc.payload)
    except TokenInvalid:
        return _invalid_link("confirm")
    if services.already_confirmed(subscriber_id, optin_round):
        # Reopened after confirming: say so, rather than ask for the button again.
        outcome = ConfirmOutcome.ALREADY_CONFIRMED
        return render_template("subscribers/confirmed.html", outcome=outcome, welcome=None)
    first_name = services.name_to_confirm(subscriber_id, optin_round)
    if first_name is services.KEEP:  # a newer email's link, or the person left since
        return render_template("subscribers/confirm_stale.html"), 409
    return render_template("subscribers/confirm.html", token=token, first_name=first_name)


@bp.post("/confirm/<token>")
def confirm_post(token: str):
    try:
        subscriber_id, optin_round = services.read_confirm_token(token)
    except TokenExpired as exc:
        return _expired_confirm_link(token, exc.payload)
    except TokenInvalid:
        return _invalid_link("confirm")
    # The confirm page sends the name the person left there; a one-click client (an
    # older page, a script) sends none and keeps the signup's.
    typed = request.form.get("first_name")
    try:
        outcome = services.confirm(
            subscriber_id,
            optin_round,
            ip=request.remote_addr,
            first_name=services.KEEP if typed is None else typed,
        )
    except SignupInvalid as exc:
        page = render_template(
            "subscribers/confirm.html", token=token, first_name=typed, error=exc.message
        )
        return page, 400
    db.session.commit()
    if outcome is ConfirmOutcome.STALE:
        return render_template("subscribers/confirm_stale.html"), 409
    subscriber = db.session.get(Subscriber, subscriber_id)
    welcome = welcome_promise(subscriber) if subscriber is not None else None
    return render_template("subscribers/confirmed.html", outcome=outcome, welcome=welcome)


def _expired_confirm_link(token: str, payload: object):
    """An expired link offers a new one only while its signup waits for it. Used
    already, it says so, as a fresh link does; of an earlier signup, that it is no
    longer valid. Offered there, the new link was never sent (nothing waits for it)."""
    try:
        subscriber_id, optin_round = services.confirm_payload(payload)
    except TokenInvalid:
        return _invalid_link("confirm")
    if services.already_confirmed(subscriber_id, optin_round):
        outcome = ConfirmOutcome.ALREADY_CONFIRMED
        return render_template("subscribers/confirmed.html", outcome=outcome, welcome=None)
    if services.name_to_confirm(subscriber_id, optin_round) is services.KEEP:
        return render_template("subscribers/confirm_stale.html"), 409
    return render_template("subscribers/confirm_expired.html", token=token), 410


@bp.post("/confirm/<token>/resend")
@signup_rate_limit
def confirm_resend(token: str):
    try:
        subscriber_id, optin_round = services.read_confirm_token(token)
    except TokenExpired as exc:
        try:
            subscriber_id, optin_round = services.confirm_payload(exc.payload)
        except TokenInvalid:
            return _invalid_link("confirm")
    except TokenInvalid:
        return _invalid_link("confirm")
    services.resend_after_expiry(subscriber_id, optin_round)
    db.session.commit()
    return render_template("subscribers/check_inbox.html")


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    if token == services.SAMPLE_UNSUBSCRIBE_TOKEN:
        return render_template("subscribers/sample_unsubscribe.html")
    try:
        subscriber_id, fresh = services.read_leaving_token(token)
    except TokenError:
        return _invalid_link("unsubscribe")
    if services.already_unsubscribed(subscriber_id):
        return render_template(
            "subscribers/unsubscribed.html", token=token, already=True, fresh=fresh
        )
    # Which address: someone with several (home, work) knows which one stops.
    subscriber = db.session.get(Subscriber, subscriber_id)
    return render_template(
        "subscribers/unsubscribe.html",
        token=token,
        address=subscriber.email if subscriber else None,
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe_post(token: str):
    # Also the RFC 8058 one-click endpoint: the mail client POSTs
    # "List-Unsubscribe=One-Click" with no cookie, and we act on it at once.
    if token == services.SAMPLE_UNSUBSCRIBE_TOKEN:
        return render_template("subscribers/sample_unsubscribe.html")
    try:
        subscriber_id, fresh = services.read_leaving_token(token)
    except TokenError:
        return _invalid_link("unsubscribe")
    services.unsubscribe(subscriber_id)
    db.session.commit()
    return render_template("subscribers/unsubscribed.html", token=token, fresh=fresh)


@bp.post("/resubscribe/<token>")
@signup_rate_limit
def resubscribe(token: str):
    try:
        subscriber_id = services.read_unsubscribe_token(token)
    except TokenError:
        return _invalid_link("unsubscribe")
    services.resubscribe(
        subscriber_id, ip=request.remote_addr, user_agent=request.headers.get("User-Agent")
    )
    db.session.commit()
    return render_template("subscribers/check_inbox.html")
