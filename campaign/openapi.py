"""``GET /api/openapi.json``: the OpenAPI document of every ``/api/v1`` route.

Written by hand, next to the handlers it describes, and checked against them by
``tests/test_openapi.py``: every route is here, and a schemathesis run against the live
app finds no answer that this document does not allow.
"""

from __future__ import annotations

import re
from functools import cache

from flask import Blueprint, jsonify

from campaign.campaigns.models import CampaignStatus, DeliveryStatus
from campaign.campaigns.services import MAX_BODY, MAX_SUBJECT
from campaign.coupons.models import CouponStatus
from campaign.subscribers.addresses import MAX_EMAIL_LENGTH
from campaign.subscribers.models import SubscriberStatus
from campaign.subscribers.services import MAX_FIRST_NAME

bp = Blueprint("openapi", __name__)

JSON = "application/json"
CSV = "text/csv"
# Ids are 32-bit integer columns on PostgreSQL.
MAX_ID = 2**31 - 1
MAX_REASON = 200


# Small builders, so each operation below reads as what it accepts and answers.


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    """The same schema, or ``null``."""
    return {**schema, "type": [schema["type"], "null"]}


def closed(properties: dict, required: list[str] | None = None) -> dict:
    """An object with exactly these properties: the server rejects any other field."""
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def answer(properties: dict, optional: dict | None = None) -> dict:
    """A response object: ``properties`` are always present, ``optional`` ones sometimes."""
    return closed({**properties, **(optional or {})}, list(properties))


def text(*, max_length: int | None = None, min_length: int | None = None, **extra) -> dict:
    schema = {"type": "string", **extra}
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def enum(values) -> dict:
    return {"type": "string", "enum": [str(v) for v in values]}


INTEGER = {"type": "integer"}
COUNT = {"type": "integer", "minimum": 0}
TIME = text(format="date-time", description="UTC, ISO 8601 with a Z.")
MAYBE_TIME = nullable(TIME)
MAYBE_TEXT = nullable(text())


def json_content(schema: dict) -> dict:
    return {JSON: {"schema": schema}}


def response(description: str, schema: dict | None = None, headers: dict | None = None) -> dict:
    body: dict = {"description": description}
    if schema is not None:
        body["content"] = json_content(schema)
    if headers:
        body["headers"] = headers
    return body


def error(description: str) -> dict:
    """An error answer; ``description`` names the ``error.code`` values it can carry."""
    return response(description, ref("Error"))


def coupon_error(description: str) -> dict:
    """A coupon error: the coupon, when there is one, comes along for the desk to show."""
    return response(description, ref("CouponError"))


def shared(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def body(schema: dict, required: bool = True, example: dict | None = None) -> dict:
    media: dict = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"required": required, "content": {JSON: media}}


def path_id(name: str, what: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": (
        "The coupon code as typed or scanned: case-insensitive, dashes and spaces optional, "
        "O/I/L read as 0/1/1."
    ),
    "schema": text(max_length=64, min_length=1, examples=["7KQ2-M9XD-4TPA-H3CE"]),
}
PAGE = query(
    "page",
    {
        # Empty is the first page: PRODUCT.md writes the query as ``?q=&status=&page=``.
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": 100_000},
            {"type": "string", "maxLength": 0},
        ],
        "default": 1,
    },
    "1-based page; empty for the first.",
)
FORMAT = query(
    "format",
    text(examples=["csv"]),
    "`csv` streams every matching row as CSV instead of one JSON page; any other value "
    "answers JSON.",
)


def operation(
    summary: str,
    tag: str,
    responses: dict,
    *,
    role: str | None,
    description: str | None = None,
    parameters: list[dict] | None = None,
    request_body: dict | None = None,
) -> dict:
    """One operation; ``role`` None means public, else the least role that may call it.

    Staff operations answer 401 without valid credentials and 403 below their role.
    """
    op: dict = {"summary": summary, "tags": [tag]}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request_body:
        op["requestBody"] = request_body
    if role is None:
        op["security"] = []
    else:
        op["x-required-role"] = role
        responses = {"401": shared("Unauthorized"), "403": shared("Forbidden"), **responses}
    if request_body:
        responses = {**responses, "413": shared("PayloadTooLarge")}
    op["responses"] = dict(sorted(responses.items()))
    return op


# Schemas of what the API answers.

ERROR = answer(
    {
        "error": answer(
            {
                "code": text(description="Stable and machine-readable, e.g. `invalid_email`."),
                "message": text(description="For people; may change."),
                "field": nullable(text(description="The input at fault, when there is one.")),
            }
        )
    }
)

COUPON_PROPERTIES = {
    "code": text(examples=["7KQ2-M9XD-4TPA-H3CE"]),
    "status": enum(CouponStatus),
    "offer": text(),
    "terms": text(),
    "expires_at": TIME,
    "redeemed_at": MAYBE_TIME,
    "redeemed_by": nullable(text(description="The staff member's display name.")),
    "subscriber": nullable(text(description="The owner, masked: `A***, a***@e***.com`.")),
}
COUPON = answer(
    COUPON_PROPERTIES,
    optional={
        "redemption_id": {**INTEGER, "description": "Present when a redemption is involved."},
        "undone_at": {**MAYBE_TIME, "description": "Present with `redemption_id`."},
        "void_reason": {
            **MAYBE_TEXT,
            "description": "Present when `status` is `void`: the admin's reason for voiding.",
        },
    },
)

COUPON_ERROR = answer({"error": ERROR["properties"]["error"]}, optional={"coupon": ref("Coupon")})

SUBSCRIBER = answer(
    {
        "id": INTEGER,
        "email": text(),
        "first_name": MAYBE_TEXT,
        "status": enum(SubscriberStatus),
        "source": text(),
        "created_at": TIME,
        "confirmed_at": MAYBE_TIME,
    }
)

EXPORT = answer(
    {
        "subscriber": answer(
            {
                **SUBSCRIBER["properties"],
                "unsubscribed_at": MAYBE_TIME,
                "bounce_count": COUNT,
            }
        ),
        "consents": {
            "type": "array",
            "items": answer(
                {
                    "created_at": TIME,
                    "email": nullable(text(description="The address as that signup typed it.")),
                    "first_name": nullable(text(description="The first name it gave.")),
                    "ip": MAYBE_TEXT,
                    "user_agent": MAYBE_TEXT,
                    "wording_version": text(),
                    "source": text(),
                    "confirmed_at": MAYBE_TIME,
                    "confirmed_ip": MAYBE_TEXT,
                }
            ),
        },
        "deliveries": {
            "type": "array",
            "items": answer(
                {
                    "campaign": text(description="The campaign's subject."),
                    "status": enum(DeliveryStatus),
                    "sent_at": MAYBE_TIME,
                    "smtp_response": MAYBE_TEXT,
                }
            ),
        },
        "coupons": {
            "type": "array",
            "items": answer(
                {
                    "code": text(),
                    "offer": text(),
                    "status": enum(CouponStatus),
                    "issued_at": TIME,
                    "expires_at": TIME,
                    "reminder_sent_at": MAYBE_TIME,
                    "redeemed_at": MAYBE_TIME,
                    "redemptions": {
                        "type": "array",
                        "items": answer(
                            {
                                "redeemed_at": TIME,
                                "undone_at": MAYBE_TIME,
                                "undo_reason": MAYBE_TEXT,
                            }
                        ),
                    },
                }
            ),
        },
    }
)

CAMPAIGN = answer(
    {
        "id": INTEGER,
        "subject": text(),
        "preheader": text(),
        "body_markdown": text(),
        "status": enum(CampaignStatus),
        "send_at": MAYBE_TIME,
        "started_at": MAYBE_TIME,
        "finished_at": MAYBE_TIME,
        "started_late_seconds": {
            "type": ["number", "null"],
            "description": "How late a scheduled campaign started, when over 90 seconds.",
        },
        "counts": answer(
            {name: COUNT for name in ("total", "queued", "sent", "failed", "skipped", "cancelled")}
        ),
        "rate_per_minute": {
            "type": ["number", "null"],
            "description": "Messages sent in the last minute, while sending.",
        },
        "eta_seconds": {"type": ["integer", "null"], "minimum": 0},
    }
)

DELIVERY = answer(
    {
        "email": nullable(text(description="null once the subscriber has been erased.")),
        "first_name": MAYBE_TEXT,
        "status": enum(DeliveryStatus),
        "attempts": COUNT,
        "sent_at": MAYBE_TIME,
        "smtp_response": MAYBE_TEXT,
    }
)

REDEMPTION = answer(
    {
        "id": INTEGER,
        "code": text(),
        "offer": text(),
        "subscriber": MAYBE_TEXT,
        "redeemed_at": TIME,
        "undone_at": MAYBE_TIME,
    }
)


def page_of(item: str) -> dict:
    return answer(
        {
            "items": {"type": "array", "items": ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "total": COUNT,
        }
    )


def items_of(item: str) -> dict:
    return answer({"items": {"type": "array", "items": ref(item)}})


def json_or_csv(description: str, schema: dict, filename: str) -> dict:
    return {
        "description": description,
        "content": {JSON: {"schema": schema}, CSV: {"schema": text()}},
        "headers": {
            "Content-Disposition": {
                "description": f'With `format=csv`: `attachment; filename="{filename}"`.',
                "schema": text(),
            }
        },
    }


# Request bodies.

SIGNUP = closed(
    {
        "email": text(max_length=MAX_EMAIL_LENGTH, min_length=1, format="email"),
        "first_name": nullable(
            text(
                max_length=MAX_FIRST_NAME,
                description="Whitespace is collapsed; no control characters.",
            )
        ),
        "consent": {"const": True, "description": "The person ticked the consent box."},
        "source": nullable(
            text(
                max_length=64,
                min_length=1,
                pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                default="api",
                description="Where the signup came from, kept with the consent; null is `web`.",
            )
        ),
    },
    ["email", "consent"],
)

SUBJECT = text(max_length=MAX_SUBJECT, min_length=1, description="One line, no control characters.")
PREHEADER = nullable(
    text(max_length=MAX_SUBJECT, description="The inbox preview line; null is the empty string.")
)
BODY_MARKDOWN = text(
    max_length=MAX_BODY,
    min_length=1,
    description=(
        "Markdown; variables `{{ first_name }}`, `{{ coupon_code }}` and `{{ coupon_url }}`. "
        "No control characters other than newline and tab."
    ),
)
CAMPAIGN_CONTENT = {"subject": SUBJECT, "body_markdown": BODY_MARKDOWN, "preheader": PREHEADER}
REASON = nullable(text(max_length=MAX_REASON, description="Why; kept in the audit log."))


# The operations.

CAMPAIGN_ID = path_id("campaign_id", "campaign")
SUBSCRIBER_ID = path_id("subscriber_id", "subscriber")
IMAGE_ID = path_id("image_id", "image")
NOT_FOUND = shared("NotFound")
RATE_LIMITED = shared("RateLimited")
LOCKED = error(
    "`account_locked`: too many invalid codes; the account is paused for minutes "
    "(`Retry-After` says how many seconds; an admin can lift it on the Staff page)."
)
BOM = query(
    "bom",
    text(examples=["1"]),
    "With `format=csv`, `1` starts the CSV with a UTF-8 byte order mark, so Excel on "
    "Windows reads its accents (the staff pages' CSV links ask for it); any other value, "
    "or none, leaves it out.",
)
BAD_BODY = "`invalid_json` (not a JSON object), `unknown_field`"
# Calls that take nothing refuse a field rather than ignore it.
NO_FIELDS = error(f"{BAD_BODY}: this call takes no fields (send no body, or `{{}}`).")


def _subscriber_paths() -> dict:
    return {
        "/api/v1/subscribe": {
            "post": operation(
                "Sign up for the newsletter (double opt-in)",
                "subscribers",
                {
                    "202": response(
                        "A confirmation email is on its way where one is due; the answer is "
                        "the same for every valid address.",
                        answer({"status": {"const": "pending_confirmation"}}),
                    ),
                    "400": error(
                        f"{BAD_BODY}, `invalid_email`, `consent_required`, "
                        "`invalid_first_name`, `invalid_source`."
                    ),
                    "429": RATE_LIMITED,
                },
                role=None,
                description="CORS is allowed for the origins in `CORS_ORIGINS`.",
                request_body=body(
                    SIGNUP,
                    example={"email": "ann@example.com", "first_name": "Ann", "consent": True},
                ),
            ),
            "options": operation(
                "CORS preflight for the signup",
                "subscribers",
                {
                    "200": {
                        "description": "Empty; `Access-Control-Allow-*` headers for allowed "
                        "origins."
                    }
                },
                role=None,
            ),
        },
        "/api/v1/subscribers": {
            "get": operation(
                "List and search subscribers",
                "subscribers",
                {
                    "200": json_or_csv(
                        "50 subscribers a page, newest first; or all of them as CSV (oldest "
                        "first), with cells that start like a formula prefixed by `'`.",
                        page_of("Subscriber"),
                        "subscribers.csv",
                    ),
                    "400": error("`invalid_q`, `invalid_status`, `invalid_page`."),
                },
                role="marketing",
                parameters=[
                    query(
                        "q",
                        text(max_length=254),
                        "Part of the email address or first name, case-insensitive.",
                    ),
                    query(
                        "status",
                        enum(["", *SubscriberStatus]),
                        "Only subscribers in this state; empty for all.",
                    ),
                    query(
                        "source",
                        text(),
                        "Only subscribers who came from this source (its first 64 characters).",
                    ),
                    PAGE,
                    FORMAT,
                    BOM,
                ],
            )
        },
        "/api/v1/subscribers/{subscriber_id}/export": {
            "get": operation(
                "Everything held about one subscriber (data access request)",
                "subscribers",
                {"200": response("Consent records included.", ref("Export")), "404": NOT_FOUND},
                role="admin",
                parameters=[SUBSCRIBER_ID],
            )
        },
        "/api/v1/subscribers/{subscriber_id}": {
            "delete": operation(
                "Erase a subscriber's personal data",
                "subscribers",
                {
                    "204": response(
                        "Erased; deliveries and coupons stay as anonymous rows, and the "
                        "address is suppressed until it opts in again."
                    ),
                    "400": NO_FIELDS,
                    "404": NOT_FOUND,
                },
                role="admin",
                parameters=[SUBSCRIBER_ID],
            )
        },
    }


def _coupon_paths() -> dict:
    invalid_code = "`invalid_code`: not a code we issued (typo or forgery)"
    not_found = coupon_error("`not_found`: a well-formed code that no coupon has.")
    reason_body = body(closed({"reason": REASON}), required=False)
    return {
        "/api/v1/coupons/{code}": {
            "get": operation(
                "Look a coupon up",
                "coupons",
                {
                    "200": response(
                        "The coupon, whatever its status; an already redeemed one names "
                        "its latest redemption.",
                        ref("Coupon"),
                    ),
                    "400": coupon_error(
                        f"{invalid_code}. A session call without a valid `X-CSRFToken` "
                        "header gets `csrf_failed`: invalid codes count toward the "
                        "account's lockout, so a look-up is guarded as a change is."
                    ),
                    "404": not_found,
                    "423": LOCKED,
                    "429": RATE_LIMITED,
                },
                role="receptionist",
                parameters=[CODE],
            )
        },
        "/api/v1/coupons/{code}/redeem": {
            "post": operation(
                "Redeem a coupon, exactly once",
                "coupons",
                {
                    "200": response("Redeemed now, by the caller.", ref("Coupon")),
                    "400": coupon_error(f"{invalid_code}; {BAD_BODY} (it takes no fields)."),
                    "404": not_found,
                    "409": coupon_error("`already_redeemed`: the message says when and by whom."),
                    "410": coupon_error("`expired` or `void`."),
                    "423": LOCKED,
                    "429": RATE_LIMITED,
                },
                role="receptionist",
                parameters=[CODE],
            )
        },
        "/api/v1/coupons/{code}/undo": {
            "post": operation(
                "Undo a redemption",
                "coupons",
                {
                    "200": response("The coupon is issued again.", ref("Coupon")),
                    "400": coupon_error(
                        f"{BAD_BODY}, `invalid_reason`, {invalid_code}, `reason_required` (an "
                        "admin undoing someone else's or an old redemption)."
                    ),
                    "403": coupon_error(
                        "`undo_not_allowed`: only whoever redeemed it, within 15 minutes, or "
                        "an admin; `forbidden` below the role."
                    ),
                    "404": not_found,
                    "409": coupon_error("`not_redeemed`: nothing to undo."),
                    "423": LOCKED,
                    "429": RATE_LIMITED,
                },
                role="receptionist",
                parameters=[CODE],
                request_body=reason_body,
            )
        },
        "/api/v1/coupons/{code}/void": {
            "post": operation(
                "Cancel an unused coupon for good",
                "coupons",
                {
                    "200": response(
                        "The coupon, `void` (by this call, or before it).", ref("Coupon")
                    ),
                    "400": coupon_error(
                        f"{BAD_BODY}, `invalid_reason`, `reason_required`, {invalid_code}."
                    ),
                    "404": not_found,
                    "409": coupon_error("`already_redeemed`: used, so nothing changed."),
                },
                role="admin",
                parameters=[CODE],
                request_body=body(
                    closed({"reason": {**REASON, "minLength": 1}}, ["reason"]),
                    example={"reason": "Issued in error"},
                ),
            )
        },
        "/api/v1/desk/redemptions": {
            "get": operation(
                "The caller's redemptions today (clinic time)",
                "coupons",
                {"200": response("Newest first, at most 200.", items_of("Redemption"))},
                role="receptionist",
            )
        },
    }


def _campaign_paths() -> dict:
    campaign = response("The campaign.", ref("Campaign"))
    bad_content = (
        f"{BAD_BODY}, `invalid_subject`, `invalid_body_markdown` (also for unknown "
        "variables), `invalid_preheader`."
    )
    state = error("`invalid_state`: the campaign's status does not allow this move.")

    def control(summary: str, description: str) -> dict:
        return {
            "post": operation(
                summary,
                "campaigns",
                {"200": campaign, "400": NO_FIELDS, "404": NOT_FOUND, "409": state},
                role="marketing",
                description=description,
                parameters=[CAMPAIGN_ID],
            )
        }

    return {
        "/api/v1/campaigns": {
            "get": operation(
                "The latest 100 campaigns",
                "campaigns",
                {"200": response("Newest first.", items_of("Campaign"))},
                role="marketing",
            ),
            "post": operation(
                "Write a new campaign (a draft)",
                "campaigns",
                {"201": response("The draft.", ref("Campaign")), "400": error(bad_content)},
                role="marketing",
                request_body=body(
                    closed(CAMPAIGN_CONTENT, ["subject", "body_markdown"]),
                    example={"subject": "November news", "body_markdown": "Hello {{ first_name }}"},
                ),
            ),
        },
        "/api/v1/campaigns/{campaign_id}": {
            "get": operation(
                "One campaign and its progress",
                "campaigns",
                {"200": campaign, "404": NOT_FOUND},
                role="marketing",
                parameters=[CAMPAIGN_ID],
            ),
            "patch": operation(
                "Edit a draft or scheduled campaign",
                "campaigns",
                {"200": campaign, "400": error(bad_content), "404": NOT_FOUND, "409": state},
                role="marketing",
                parameters=[CAMPAIGN_ID],
                request_body=body(closed(CAMPAIGN_CONTENT)),
            ),
            "delete": operation(
                "Delete a draft",
                "campaigns",
                {
                    "204": response("Deleted."),
                    "400": NO_FIELDS,
                    "404": NOT_FOUND,
                    "409": error(
                        "`not_a_draft`: only a draft is deleted; a scheduled campaign is "
                        "cancelled instead, and one that has started keeps its ledger."
                    ),
                },
                role="marketing",
                parameters=[CAMPAIGN_ID],
            ),
        },
        "/api/v1/campaigns/{campaign_id}/copy": {
            "post": operation(
                "Start a new draft from a campaign",
                "campaigns",
                {
                    "201": response("The new draft.", ref("Campaign")),
                    "400": NO_FIELDS,
                    "404": NOT_FOUND,
                },
                role="marketing",
                description=(
                    "The subject, preview text and message are copied as saved, whatever "
                    "the campaign's status; the copy is a draft with nothing scheduled."
                ),
                parameters=[CAMPAIGN_ID],
            )
        },
        "/api/v1/campaigns/{campaign_id}/test": {
            "post": operation(
                "Send a test copy to staff addresses",
                "campaigns",
                {
                    "202": response(
                        "Queued for the listed staff addresses.",
                        answer(
                            {
                                "status": {"const": "queued"},
                                "emails": {"type": "array", "items": text()},
                            }
                        ),
                    ),
                    "400": error(f"{BAD_BODY}, `invalid_emails`, `not_staff`."),
                    "404": NOT_FOUND,
                },
                role="marketing",
                parameters=[CAMPAIGN_ID],
                request_body=body(
                    closed(
                        {
                            "emails": {
                                "type": "array",
                                "items": text(max_length=MAX_EMAIL_LENGTH),
                                "minItems": 1,
                                "maxItems": 10,
                                "description": "Addresses of active staff accounts only.",
                            }
                        },
                        ["emails"],
                    ),
                    example={"emails": ["marketing@clinic.example"]},
                ),
            )
        },
        "/api/v1/campaigns/{campaign_id}/schedule": {
            "post": operation(
                "Schedule a draft or re-schedule a scheduled campaign",
                "campaigns",
                {
                    "200": response("Now `scheduled`.", ref("Campaign")),
                    "400": error(f"{BAD_BODY}, `invalid_send_at`, `send_at_in_past`."),
                    "404": NOT_FOUND,
                    "409": state,
                },
                role="marketing",
                parameters=[CAMPAIGN_ID],
                request_body=body(
                    closed(
                        {
                            "send_at": text(
                                max_length=40,
                                description="ISO 8601; without an offset it is clinic time.",
                                examples=["2026-12-01T10:00:00", "2026-12-01T10:00:00Z"],
                            )
                        },
                        ["send_at"],
                    )
                ),
            )
        },
        "/api/v1/campaigns/{campaign_id}/send": {
            "post": operation(
                "Start sending a draft or scheduled campaign now",
                "campaigns",
                {
                    "202": response("Now `sending`.", ref("Campaign")),
                    "400": NO_FIELDS,
                    "404": NOT_FOUND,
                    "409": state,
                },
                role="marketing",
                description="The audience is every confirmed subscriber at this moment.",
                parameters=[CAMPAIGN_ID],
            )
        },
        "/api/v1/campaigns/{campaign_id}/pause": control(
            "Pause a sending campaign", "Allowed while `sending`."
        ),
        "/api/v1/campaigns/{campaign_id}/resume": control(
            "Resume a paused campaign", "Allowed while `paused`."
        ),
        "/api/v1/campaigns/{campaign_id}/unschedule": control(
            "Take a scheduled campaign back to a draft",
            "Allowed while `scheduled`; `send_at` is cleared, nothing is sent.",
        ),
        "/api/v1/campaigns/{campaign_id}/cancel": control(
            "Cancel a campaign",
            "Allowed while `scheduled`, `sending` or `paused`; a draft is deleted instead.",
        ),
        "/api/v1/campaigns/{campaign_id}/deliveries": {
            "get": operation(
                "The per-recipient ledger",
                "campaigns",
                {
                    "200": json_or_csv(
                        "100 deliveries a page, or the whole ledger as CSV.",
                        page_of("Delivery"),
                        "campaign-<id>-deliveries.csv",
                    ),
                    "400": error("`invalid_status`, `invalid_page`."),
                    "404": NOT_FOUND,
                },
                role="marketing",
                parameters=[
                    CAMPAIGN_ID,
                    query(
                        "status",
                        enum(["", *DeliveryStatus]),
                        "Only deliveries in this state (the failed ones, say); empty for all.",
                    ),
                    PAGE,
                    FORMAT,
                    BOM,
                ],
            )
        },
    }


IMAGE = answer(
    {
        "id": INTEGER,
        "name": text(description="The public path's end: digest, size and type."),
        "url": text(format="uri", description="Where mail apps load it from (under BASE_URL)."),
        "content_type": enum(["image/jpeg", "image/png"]),
        "width": COUNT,
        "height": COUNT,
        "bytes": COUNT,
        "markdown": text(description="The line to put in a newsletter's body_markdown."),
    }
)


def _image_paths() -> dict:
    upload = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "format": "binary"}},
                    "required": ["image"],
                }
            }
        },
    }
    return {
        "/api/v1/images": {
            "post": operation(
                "Upload an image for newsletters",
                "campaigns",
                {
                    "201": response("The stored image (the same one for the same picture).", IMAGE),
                    "400": error(
                        "`invalid_image`: no file, not a JPEG, PNG, GIF or WebP image, "
                        "animated, or over 60 megapixels."
                    ),
                },
                role="marketing",
                description=(
                    "The image is turned upright, scaled to at most 1200 x 3600 pixels and "
                    "re-encoded without its metadata: photos as JPEG, PNG and GIF as PNG. "
                    "The upload may be up to `IMAGE_MAX_BYTES` (20 MB by default)."
                ),
                request_body=upload,
            )
        },
        "/api/v1/images/{image_id}": {
            "delete": operation(
                "Delete an image no newsletter shows",
                "campaigns",
                {
                    "204": response("Deleted; its address answers 404 from now on."),
                    "400": NO_FIELDS,
                    "404": NOT_FOUND,
                    "409": error(
                        "`image_in_use`: a newsletter's message shows the image (mail already "
                        "sent loads it from its address), so it stays."
                    ),
                },
                role="marketing",
                parameters=[IMAGE_ID],
            )
        },
    }


CSRF_FAILED = "A session call without a valid `X-CSRFToken` header gets `csrf_failed`."


def _csrf_checked(op: dict) -> dict:
    """A staff operation that changes something can also answer 400 ``csrf_failed``."""
    responses = dict(op["responses"])
    bad = responses.get("400")
    if bad is None:
        responses["400"] = error(CSRF_FAILED)
    else:
        responses["400"] = {**bad, "description": f"{bad['description']} {CSRF_FAILED}"}
    return {**op, "responses": dict(sorted(responses.items()))}


def _paths() -> dict:
    paths = {
        **_subscriber_paths(),
        **_coupon_paths(),
        **_campaign_paths(),
        **_image_paths(),
    }
    for path, methods in paths.items():
        for method, op in methods.items():
            if method in {"post", "patch", "delete"} and "x-required-role" in op:
                op = _csrf_checked(op)
            # get /api/v1/campaigns/{campaign_id}/deliveries -> get_campaigns_campaign_id_deliveries
            name = re.sub(r"[^a-z]+", "_", f"{method} {path.removeprefix('/api/v1/')}")
            methods[method] = {"operationId": name.strip("_"), **op}
    return paths


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic newsletter and coupons",
            "version": "1",
            "description": (
                'Errors answer `{"error": {"code", "message", "field"}}` with a 4xx status. '
                "Text holding a NUL or an unpaired surrogate (`\\u0000`, `\\ud800`) is "
                "refused in any field as `invalid_<field>`. "
                "Staff calls authenticate with `Authorization: Bearer <token>` (`flask staff "
                "token EMAIL`) or the staff session cookie; a session call that changes "
                "something, or looks a coupon up, must send the CSRF token in `X-CSRFToken`."
            ),
        },
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": (
                        "The staff UI's session; unsafe methods and the coupon look-up "
                        "need `X-CSRFToken`."
                    ),
                },
            },
            "schemas": {
                "Error": ERROR,
                "CouponError": COUPON_ERROR,
                "Coupon": COUPON,
                "Redemption": REDEMPTION,
                "Subscriber": SUBSCRIBER,
                "Export": EXPORT,
                "Campaign": CAMPAIGN,
                "Delivery": DELIVERY,
            },
            "responses": {
                "Unauthorized": error(
                    "`unauthorized` (no credentials) or `invalid_token` (unknown or revoked)."
                ),
                "Forbidden": error("`forbidden`: the caller's role is too low."),
                "NotFound": error("`not_found`: no such id."),
                "PayloadTooLarge": error("`payload_too_large`: the body is over 1 MiB."),
                "RateLimited": response(
                    "`rate_limited`: too many requests; slow down.",
                    ref("Error"),
                    headers={"Retry-After": {"schema": text(), "description": "Seconds."}},
                ),
            },
        },
    }


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(document())
