"""Text no field can take (a NUL, an unpaired surrogate) in any JSON API: a 400 that
names the field, never a 500, nothing written."""

import io

import pytest
from sqlalchemy import func, select

from campaign.campaigns.models import Campaign
from campaign.coupons.models import Coupon, CouponStatus
from campaign.extensions import db
from campaign.subscribers.models import Subscriber

# As a client's JSON encoder writes them: "\ud800", "\udfff", "\u0000".
UNSTORABLE = ["\ud800", "x\udfffy", "a\x00b"]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("text", UNSTORABLE)
def test_a_signup_with_unstorable_text_is_a_400_naming_the_field(client, ctx, text):
    body = {"email": "ann@example.com", "consent": True, "first_name": text}
    response = client.post("/api/v1/subscribe", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_first_name", "first_name")
    assert "cannot be stored" in error["message"]
    assert count(Subscriber) == 0


def test_a_key_or_a_nested_value_with_unstorable_text_is_a_400(client, ctx):
    response = client.post("/api/v1/subscribe", json={"\ud800": 1})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    response = client.post("/api/v1/subscribe", json=[{"a": ["\ud800"]}])
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert count(Subscriber) == 0


def test_a_surrogate_pair_is_a_character_like_any_other(client, ctx):
    # An emoji escaped by an ASCII-only encoder arrives as "\ud83d\ude00".
    body = b'{"email": "ann@example.com", "consent": true, "first_name": "Ann \\ud83d\\ude00"}'
    response = client.post("/api/v1/subscribe", data=body, content_type="application/json")
    assert response.status_code == 202
    assert db.session.scalar(select(Subscriber.first_name)) == "Ann \U0001f600"


@pytest.mark.parametrize("field", ["subject", "preheader", "body_markdown"])
def test_a_campaign_with_unstorable_text_is_a_400_naming_the_field(client, ctx, api_token, field):
    marketing = {"Authorization": f"Bearer {api_token('marketing')}"}
    body = {"subject": "News", "body_markdown": "Hello", field: "a\ud800"}
    response = client.post("/api/v1/campaigns", headers=marketing, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    assert count(Campaign) == 0

    created = client.post("/api/v1/campaigns", headers=marketing, json={**body, field: "ok"})
    campaign_id = created.get_json()["id"]
    response = client.patch(
        f"/api/v1/campaigns/{campaign_id}", headers=marketing, json={field: "b\udfff"}
    )
    assert response.status_code == 400
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/test", headers=marketing, json={"emails": ["\ud800"]}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_emails"


@pytest.mark.parametrize("action", ["void", "undo"])
@pytest.mark.parametrize("text", UNSTORABLE)
def test_a_coupon_reason_with_unstorable_text_is_a_400(
    client, ctx, api_token, issue_coupon, action, text
):
    admin = {"Authorization": f"Bearer {api_token('admin')}"}
    code = issue_coupon()
    if action == "undo":
        assert client.post(f"/api/v1/coupons/{code}/redeem", headers=admin).status_code == 200
    response = client.post(f"/api/v1/coupons/{code}/{action}", headers=admin, json={"reason": text})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_reason"
    expected = CouponStatus.REDEEMED if action == "undo" else CouponStatus.ISSUED
    assert db.session.scalar(select(Coupon.status)) == expected


def test_a_chunked_body_over_the_limit_is_a_413_as_any_other(live_server):
    """A chunked body has no Content-Length to refuse up front; cut off at the limit,
    it used to read as malformed JSON (400)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(live_server)

    def post_chunked(body: bytes) -> tuple[int, dict]:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
            connection.request(
                "POST",
                "/api/v1/subscribe",
                body=pieces,
                headers={"Content-Type": "application/json"},
                encode_chunked=True,
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    big = json.dumps({"email": "a@example.com", "consent": True, "first_name": "x" * 1_500_000})
    status, body = post_chunked(big.encode())
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    small = json.dumps({"email": "chunked@example.com", "consent": True})
    assert post_chunked(small.encode()) == (202, {"status": "pending_confirmation"})


def test_calls_that_take_no_fields_refuse_one_and_do_nothing(client, ctx, api_token, issue_coupon):
    # A script that sends {"redeemed_by": "Ada"} must not believe it was read.
    from tests.campaigns.helpers import add_confirmed, create_campaign
    from tests.images.helpers import logo_png

    admin = {"Authorization": f"Bearer {api_token('admin')}"}
    code = issue_coupon()
    campaign_id = create_campaign(client, admin)
    (email,) = add_confirmed(1)
    subscriber_id = db.session.scalar(select(Subscriber.id).filter_by(email=email))
    image = client.post(
        "/api/v1/images",
        headers=admin,
        data={"image": (io.BytesIO(logo_png()), "logo.png")},
        content_type="multipart/form-data",
    ).get_json()
    calls = [
        ("POST", f"/api/v1/coupons/{code}/redeem"),
        ("DELETE", f"/api/v1/campaigns/{campaign_id}"),
        ("DELETE", f"/api/v1/subscribers/{subscriber_id}"),
        ("DELETE", f"/api/v1/images/{image['id']}"),
    ]
    for method, path in calls:
        for body in ({"redeemed_by": "Ada"}, [1]):
            refused = client.open(path, method=method, headers=admin, json=body)
            assert refused.status_code == 400, (method, path, body)
            assert refused.get_json()["error"]["code"] in {"unknown_field", "invalid_json"}
    db.session.expire_all()
    assert db.session.scalar(select(Coupon.status)) == CouponStatus.ISSUED
    assert db.session.get(Campaign, campaign_id) is not None
    assert db.session.get(Subscriber, subscriber_id).email == email
    # An empty object is no field: each goes ahead.
    assert client.open(calls[0][1], method="POST", headers=admin, json={}).status_code == 200
    for method, path in calls[1:]:
        assert client.open(path, method=method, headers=admin, json={}).status_code == 204, path


def test_a_body_not_sent_as_json_is_told_the_content_type(client, ctx, api_token):
    marketing = {"Authorization": f"Bearer {api_token('marketing')}"}
    body = '{"subject": "x", "body_markdown": "y"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        refused = client.post(
            "/api/v1/campaigns", headers=marketing, data=body, content_type=content_type
        )
        assert refused.status_code == 400
        assert refused.get_json()["error"] == {
            "code": "invalid_json",
            "message": "Send the body as JSON, with Content-Type: application/json.",
            "field": None,
        }
    # Sent as JSON, but not an object: said so.
    listed = client.post("/api/v1/campaigns", headers=marketing, json=["x"])
    assert listed.get_json()["error"]["message"] == "The body must be a JSON object."
    assert count(Campaign) == 0
