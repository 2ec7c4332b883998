"""Copying a newsletter into a new draft: last month's is where most months start."""

from sqlalchemy import select

from campaign.audit import AuditEvent
from campaign.campaigns.models import Campaign, CampaignStatus
from campaign.extensions import db
from tests.staff.helpers import csrf_from

BODY = "## March\n\nHello {{ first_name }}!\n\n[Book](https://clinic.example/book)"


def _sent_campaign() -> int:
    campaign = Campaign(
        subject="March news",
        preheader="Spring hours",
        body_markdown=BODY,
        status=CampaignStatus.SENT,
        audience_size=2,
        html_frozen="<p>frozen</p>",
        text_frozen="frozen",
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign.id


def test_the_api_copies_a_sent_newsletter_into_a_draft(app, ctx, api_token):
    source_id = _sent_campaign()
    token = api_token("marketing")
    with app.test_client() as client:
        answer = client.post(
            f"/api/v1/campaigns/{source_id}/copy", headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 201, answer.get_json()
    copy = answer.get_json()
    assert copy["id"] != source_id
    assert copy["status"] == "draft"
    assert (copy["subject"], copy["preheader"], copy["body_markdown"]) == (
        "March news",
        "Spring hours",
        BODY,
    )
    assert copy["send_at"] is None
    assert copy["counts"]["total"] == 0
    db.session.expire_all()
    row = db.session.get(Campaign, copy["id"])
    assert row.html_frozen is None
    assert row.audience_size == 0
    event = db.session.scalar(select(AuditEvent).filter_by(action="campaign.copied"))
    assert event.target == f"campaign:{copy['id']}"
    assert event.details["source"] == f"campaign:{source_id}"
    # The copy is a draft like any other: it can be edited, the source cannot.
    with app.test_client() as client:
        headers = {"Authorization": f"Bearer {token}"}
        edited = client.patch(
            f"/api/v1/campaigns/{copy['id']}", headers=headers, json={"subject": "April news"}
        )
        refused = client.patch(
            f"/api/v1/campaigns/{source_id}", headers=headers, json={"subject": "April news"}
        )
    assert edited.status_code == 200
    assert edited.get_json()["subject"] == "April news"
    assert refused.status_code == 409


def test_copying_asks_for_marketing_and_a_campaign_that_exists(app, ctx, api_token):
    source_id = _sent_campaign()
    with app.test_client() as client:
        desk = client.post(
            f"/api/v1/campaigns/{source_id}/copy",
            headers={"Authorization": f"Bearer {api_token('receptionist')}"},
        )
        missing = client.post(
            "/api/v1/campaigns/999999/copy",
            headers={"Authorization": f"Bearer {api_token('marketing')}"},
        )
        anonymous = client.post(f"/api/v1/campaigns/{source_id}/copy")
    assert desk.status_code == 403
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert anonymous.status_code == 401
    assert db.session.scalar(select(Campaign).filter(Campaign.id != source_id)) is None


def test_the_page_button_opens_the_new_draft(ctx, marketing_client):
    source_id = _sent_campaign()
    page = marketing_client.get(f"/staff/campaigns/{source_id}").get_data(as_text=True)
    assert 'id="copy-button"' in page
    answer = marketing_client.post(
        f"/staff/campaigns/{source_id}/copy", data={"csrf_token": csrf_from(page)}
    )
    assert answer.status_code == 302
    copy_id = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert copy_id != source_id
    draft = marketing_client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "A new draft with the content of the one you copied" in draft
    assert "Hello {{ first_name }}!" in draft
    assert 'id="save-button"' in draft  # editable, where the sent source is read-only


def test_the_page_refuses_a_copy_without_its_form_token(ctx, marketing_client):
    source_id = _sent_campaign()
    answer = marketing_client.post(f"/staff/campaigns/{source_id}/copy")
    assert answer.status_code == 400
    assert db.session.scalar(select(Campaign).filter(Campaign.id != source_id)) is None
