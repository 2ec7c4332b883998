"""Coupon routes of the HTTP contract, used by the desk page and by scripts."""

from __future__ import annotations

import math
from datetime import datetime

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from campaign import clinic
from campaign.api_util import has_body, json_object, no_body
from campaign.coupons import abuse, codes, services
from campaign.coupons.models import CouponStatus
from campaign.coupons.services import CouponResult, Outcome
from campaign.database import utcnow
from campaign.errors import ApiError
from campaign.extensions import csrf, db, rate_limits
from campaign.staff.auth import api_role_required, current_staff
from campaign.staff.models import Role

bp = Blueprint("coupons_api", __name__, url_prefix="/api/v1")
# Session callers are CSRF-checked in api_role_required; bearer callers need no token.
csrf.exempt(bp)

ERRORS = {
    Outcome.INVALID_CODE: (400, "This is not a valid coupon code. Check it for typos."),
    Outcome.NOT_FOUND: (404, "No coupon has this code."),
    Outcome.ALREADY_REDEEMED: (409, "This coupon has already been used."),
    Outcome.EXPIRED: (410, "This coupon has expired."),
    Outcome.VOID: (410, "This coupon has been cancelled."),
    Outcome.NOT_REDEEMED: (409, "This coupon has not been redeemed, so there is nothing to undo."),
    Outcome.UNDO_NOT_ALLOWED: (
        403,
        "Only the person who redeemed it can undo, within 15 minutes; ask an admin.",
    ),
    Outcome.REASON_REQUIRED: (400, "Give a reason for undoing this redemption."),
}


def _caller_key() -> str:
    """Rate-limit key: the calling account (session or token) plus its IP."""
    # The account api_role_required authenticated (it runs first), never the header
    # as sent: "bearer", "BEARER", a second space or a junk "Basic x" next to the
    # session name the same account, and must not each get a budget of their own.
    # Nor ``get_id()``: that holds the login's session key, which would give each
    # login a budget of its own and put a credential in the store.
    staff = current_staff()
    who = f"staff:{staff.id}" if staff is not None else "-"
    return f"{who}:{request.remote_addr}"


desk_rate_limit = rate_limits.limit("DESK_RATE_LIMIT", scope="desk", key=_caller_key)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def coupon_json(result: CouponResult) -> dict:
    card = result.shown()
    body = {
        "code": result.code.display,
        "status": card.status.value,
        "offer": card.offer,
        "terms": card.terms,
        "expires_at": _iso(card.expires_at),
        "redeemed_at": _iso(card.redeemed_at),
        "redeemed_by": card.redeemed_by,
        "subscriber": card.owner,
    }
    if card.redemption_id is not None:
        body["redemption_id"] = card.redemption_id
        body["undone_at"] = _iso(card.undone_at)
    if card.status is CouponStatus.VOID and result.coupon is not None:
        # The desk tells the guest why it was cancelled ("issued twice"), not only that.
        body["void_reason"] = result.coupon.void_reason
    return body


def _invalid_code_message(text: str) -> str:
    # A short or long code is most often one cut off or doubled by a copy; a count
    # tells the desk what to look for where "check it for typos" does not.
    length = codes.wrong_length(text)
    if length is None:
        return ERRORS[Outcome.INVALID_CODE][1]
    return f"Coupon codes have {codes.CODE_LENGTH} characters; this has {length}."


def _answer(result: CouponResult, text: str, ok_status: int = 200):
    if result.outcome in ERRORS:
        status, message = ERRORS[result.outcome]
        card = result.shown()
        if result.outcome is Outcome.INVALID_CODE:
            message = _invalid_code_message(text)
        if result.outcome is Outcome.ALREADY_REDEEMED and card.redeemed_at:
            # For the person at the desk: the clinic's time (the JSON has the UTC one).
            when = clinic.local_time(card.redeemed_at).strftime("%-d %B %Y at %H:%M")
            message = f"Already used on {when} by {card.redeemed_by or 'staff'}."
        field = "reason" if result.outcome is Outcome.REASON_REQUIRED else "code"
        body = {"error": {"code": result.outcome.value, "message": message, "field": field}}
        if card is not None:
            body["coupon"] = coupon_json(result)
        return jsonify(body), status
    return jsonify(coupon_json(result)), ok_status


def _checked_caller():
    staff = current_staff()
    if staff.is_locked():
        # When it ends, for the desk to say and for scripts to wait (Retry-After).
        seconds = max(1, math.ceil((staff.locked_until - utcnow()).total_seconds()))
        until = clinic.local_time(staff.locked_until).strftime("%H:%M")
        raise ApiError(
            423,
            "account_locked",
            f"Too many invalid codes: paused until {until}. An admin can lift it on the "
            "Staff page.",
            headers={"Retry-After": str(seconds)},
        )
    return staff


def _note_invalid(result: CouponResult, text: str) -> None:
    # Only a code of the right form that fails its signature check can be a guess. Text
    # of another length (a scan cut short, a paste doubled) or with characters no code
    # holds (a poster's QR of a web address, a typed "$") cannot: it does not count.
    if result.outcome is Outcome.INVALID_CODE and codes.well_formed(text):
        abuse.note_invalid_code(current_staff())
        db.session.commit()


def _json_reason() -> str | None:
    payload = json_object() if has_body() else {}
    unknown = sorted(set(payload) - {"reason"})
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field: {unknown[0]}.", unknown[0])
    reason = payload.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ApiError(400, "invalid_reason", "The reason must be text.", "reason")
    try:
        return services.clean_reason(reason)
    except services.ReasonInvalid as exc:
        raise ApiError(400, "invalid_reason", str(exc), "reason") from None


# The POST routes under a coupon, which the lookup's <path:code> would also match.
COUPON_MOVES = {"redeem", "undo", "void"}


@bp.get("/coupons/<code>")
# Text with a slash (a scanned URL, say) is no code either: the same clear answer,
# not a routing 404 that reads "no such coupon".
@bp.get("/coupons/<path:code>")
@api_role_required(Role.RECEPTIONIST, reads_need_csrf=True)  # invalid codes count
@desk_rate_limit
def get_coupon(code: str):
    head, _, move = code.rpartition("/")
    if head and move in COUPON_MOVES:
        # A GET of /redeem is a wrong method, not a code with a slash: no invalid code
        # counted toward the account's lock.
        raise MethodNotAllowed(valid_methods=["POST"])
    _checked_caller()
    result = services.lookup(code)
    _note_invalid(result, code)
    if result.outcome is Outcome.VALID or result.outcome in {
        Outcome.ALREADY_REDEEMED,
        Outcome.EXPIRED,
        Outcome.VOID,
    }:
        return jsonify(coupon_json(result))
    return _answer(result, code)


@bp.post("/coupons/<code>/redeem")
@api_role_required(Role.RECEPTIONIST)
@desk_rate_limit
def redeem_coupon(code: str):
    staff = _checked_caller()
    no_body()  # {"redeemed_by": ...} must not look as if it were read
    result = services.redeem(code, staff, ip=request.remote_addr)
    # Answered from the rows as they are now; after the commit each would be re-read.
    answer = _answer(result, code)
    db.session.commit()
    _note_invalid(result, code)
    return answer


@bp.post("/coupons/<code>/undo")
@api_role_required(Role.RECEPTIONIST)
@desk_rate_limit
def undo_redemption(code: str):
    staff = _checked_caller()
    reason = _json_reason()
    result = services.undo_redemption(code, staff, reason)
    db.session.commit()
    return _answer(result, code)


@bp.post("/coupons/<code>/void")
@api_role_required(Role.ADMIN)
def void_coupon(code: str):
    reason = _json_reason()
    if not reason:
        raise ApiError(400, "reason_required", "Give a reason for voiding this coupon.", "reason")
    result = services.void_coupon(code, current_staff(), reason)
    db.session.commit()
    # Void before: the same end, as a repeated DELETE. Used: nothing changed, and the
    # answer says so as the desk's does (409 already_redeemed, the coupon attached).
    if result.outcome in {Outcome.VOIDED, Outcome.VOID}:
        return jsonify(coupon_json(result))
    return _answer(result, code)


@bp.get("/desk/redemptions")
@api_role_required(Role.RECEPTIONIST)
def desk_redemptions():
    items = []
    for redemption in services.redemptions_today(current_staff(), clinic.start_of_today()):
        coupon = redemption.coupon
        items.append(
            {
                "id": redemption.id,
                "code": services.code_of(coupon).display,
                "offer": coupon.offer_title,
                "subscriber": services.owner_of(coupon),
                "redeemed_at": _iso(redemption.redeemed_at),
                "undone_at": _iso(redemption.undone_at),
            }
        )
    return jsonify(items=items)
