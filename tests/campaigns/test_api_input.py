"""Campaign API input: clear 400s, never a 500, nothing half-written."""

import pytest
from sqlalchemy import func, select

from campaign.campaigns.models import Campaign
from campaign.extensions import db


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body_markdown": "x"}, "invalid_subject"),
        ({"subject": "x"}, "invalid_body_markdown"),
        ({"subject": "", "body_markdown": "x"}, "invalid_subject"),
        ({"subject": "a\r\nBcc: x@example.com", "body_markdown": "x"}, "invalid_subject"),
        ({"subject": "x" * 201, "body_markdown": "x"}, "invalid_subject"),
        ({"subject": "x", "body_markdown": "x" * 100_001}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "Hi {{ frist_name }}"}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "x", "preheader": "a\nb"}, "invalid_preheader"),
        ({"subject": "x", "body_markdown": "x", "audience": "all"}, "unknown_field"),
        ({"subject": 5, "body_markdown": "x"}, "invalid_subject"),
    ],
)
def test_bad_campaigns_are_refused(client, ctx, marketing, body, code):
    response = client.post("/api/v1/campaigns", headers=marketing, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_markdown_is_sanitised_and_raw_html_is_not_rendered(client, ctx, marketing):
    body = "Hi <script>alert(1)</script> [x](javascript:alert(1)) **ok**"
    response = client.post(
        "/api/v1/campaigns", headers=marketing, json={"subject": "s", "body_markdown": body}
    )
    assert response.status_code == 201
    from campaign.campaigns.preview import preview_html

    html = preview_html("s", "", body)
    assert "<script>" not in html
    assert 'href="javascript:' not in html
    assert "<strong>ok</strong>" in html


def test_test_copies_go_to_staff_addresses_only(client, ctx, marketing, make_staff, smtp):
    from campaign.campaigns.tasks import send_test_copy

    _, staff_email, _ = make_staff("marketing")
    campaign_id = client.post(
        "/api/v1/campaigns",
        headers=marketing,
        json={"subject": "News", "body_markdown": "Hi {{ first_name }}"},
    ).get_json()["id"]
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/test",
        headers=marketing,
        json={"emails": ["stranger@example.com"]},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "not_staff"
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/test", headers=marketing, json={"emails": [staff_email]}
    )
    assert response.status_code == 202
    send_test_copy.apply(args=[campaign_id, staff_email])
    (copy,) = smtp.wait_for(staff_email)
    assert copy.subject == "[Test] News"
    assert "Hi there" in copy.text


def test_unknown_campaign_is_404_json(client, marketing):
    response = client.get("/api/v1/campaigns/99999", headers=marketing)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
