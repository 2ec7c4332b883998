"""The public JSON signup, for the clinic's own website."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from campaign.api_util import json_object
from campaign.errors import ApiError
from campaign.extensions import csrf
from campaign.subscribers import services
from campaign.subscribers.services import Signup, SignupInvalid
from campaign.subscribers.views import signup_rate_limit

bp = Blueprint("subscribers_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

SIGNUP_FIELDS = {"email", "first_name", "consent", "source"}


@bp.post("/subscribe")
@signup_rate_limit
def subscribe():
    payload = json_object()
    unknown = sorted(set(payload) - SIGNUP_FIELDS)
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field: {unknown[0]}.", unknown[0])
    if "email" not in payload:
        raise ApiError(400, "invalid_email", "email is required.", "email")
    try:
        signup = Signup.parse(
            email=payload["email"],
            first_name=payload.get("first_name"),
            consent=payload.get("consent"),
            source=payload.get("source", "api"),
            ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
        )
    except SignupInvalid as exc:
        raise ApiError(400, exc.code, exc.message, exc.field) from None
    services.subscribe_now(signup)
    return jsonify(status="pending_confirmation"), 202
