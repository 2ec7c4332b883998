"""Campaign API input: clear 400s, never a 500, nothing half-written."""

import pytest
from sqlalchemy import func, select

from campaign.campaigns.models import Campaign
from campaign.extensions import db
from tests.campaigns.helpers import create_campaign


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body_markdown": "x"}, "invalid_subject"),
        ({"subject": "x"}, "invalid_body_markdown"),
        # Spaces and line breaks only: it was saved and could be sent, blank, to everyone.
        ({"subject": "x", "body_markdown": "   \n\n  "}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "\r\n\t \r\n"}, "invalid_body_markdown"),
        ({"subject": "", "body_markdown": "x"}, "invalid_subject"),
        ({"subject": "a\r\nBcc: x@example.com", "body_markdown": "x"}, "invalid_subject"),
        ({"subject": "x" * 201, "body_markdown": "x"}, "invalid_subject"),
        ({"subject": "x", "body_markdown": "x" * 100_001}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "Hi {{ frist_name }}"}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "x", "preheader": "a\nb"}, "invalid_preheader"),
        ({"subject": "x", "body_markdown": "x", "audience": "all"}, "unknown_field"),
        ({"subject": 5, "body_markdown": "x"}, "invalid_subject"),
        # The same for every reader: a variable there would reach them unfilled.
        ({"subject": "News for {{ first_name }}", "body_markdown": "x"}, "invalid_subject"),
        (
            {"subject": "x", "body_markdown": "x", "preheader": "{{ coupon_code }}"},
            "invalid_preheader",
        ),
        # Text of the mailer's own placeholder form would be filled (or fail) at send time.
        ({"subject": "x", "body_markdown": "Our new line XQ7QX is here"}, "invalid_body_markdown"),
        ({"subject": "Line XQTOQX", "body_markdown": "x"}, "invalid_subject"),
        # Spelled with character references, which Markdown decodes to XQAQX.
        ({"subject": "x", "body_markdown": "Hello XQ&#65;QX"}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "XQ&#x55;NSUBQX"}, "invalid_body_markdown"),
        # 16,500 nested <strong>: the CSS inliner's stack overflowed and the process died.
        (
            {"subject": "x", "body_markdown": "*" * 33_000 + "a" + "*" * 33_000},
            "invalid_body_markdown",
        ),
        (
            {"subject": "x", "body_markdown": "_" * 26_000 + "a" + "_" * 26_000},
            "invalid_body_markdown",
        ),
        # Links a mail app cannot open: no scheme, or a path of a site it does not know.
        (
            {"subject": "x", "body_markdown": "[Book](www.clinic.example/book)"},
            "invalid_body_markdown",
        ),
        ({"subject": "x", "body_markdown": "[Book](/book)"}, "invalid_body_markdown"),
        ({"subject": "x", "body_markdown": "![logo](/static/logo.png)"}, "invalid_body_markdown"),
        (
            {"subject": "x", "body_markdown": "[files](ftp://clinic.example/)"},
            "invalid_body_markdown",
        ),
        # An encoded word is decoded by the email package when it builds the header:
        # its CR/LF would add a Bcc.
        (
            {"subject": "=?utf-8?q?Hi=0D=0ABcc:_x@evil.example?=", "body_markdown": "x"},
            "invalid_subject",
        ),
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
    assert "Hi there" in copy.text  # no name on the account: the fallback
    # A member with a name reads it, as a reader reads theirs; the sample coupon's
    # link opens a sample coupon page.
    _, named_email, _ = make_staff("marketing", "Mia Marsh")
    send_test_copy.apply(args=[campaign_id, named_email])
    (named_copy,) = smtp.wait_for(named_email)
    assert "Hi Mia" in named_copy.text
    sample = client.get("/coupon/sample")
    assert sample.status_code == 200
    assert "A sample" in sample.get_data(as_text=True)


def test_unknown_campaign_is_404_json(client, marketing):
    response = client.get("/api/v1/campaigns/99999", headers=marketing)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_an_edit_that_loses_the_race_to_the_start_is_refused(client, ctx, marketing, app):
    """The edit read "draft", then the campaign started before the edit was written."""
    from campaign.campaigns import services
    from campaign.campaigns.models import CampaignStatus

    response = client.post(
        "/api/v1/campaigns", headers=marketing, json={"subject": "Old", "body_markdown": "Old"}
    )
    campaign = db.session.get(Campaign, response.get_json()["id"])
    assert campaign.status == CampaignStatus.DRAFT
    with db.engine.begin() as other:  # the dispatcher, in a transaction of its own
        other.execute(
            Campaign.__table__.update()
            .where(Campaign.__table__.c.id == campaign.id)
            .values(status=CampaignStatus.SENDING)
        )
    with pytest.raises(services.MoveNotAllowed):
        services.update_campaign(campaign, "New", "New body")
    db.session.rollback()
    stored = db.session.get(Campaign, campaign.id)
    db.session.refresh(stored)
    assert (stored.subject, stored.body_markdown) == ("Old", "Old")


def test_the_live_preview_refuses_placeholder_text_clearly(marketing_client):
    from tests.staff.helpers import csrf_from

    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    for fields, words in [
        ({"subject": "Hi", "body_markdown": "Our new line XQ7QX"}, "reserved"),
        ({"subject": "Hi {{ first_name }}", "body_markdown": "x"}, "personalise the body"),
        ({"subject": "Hi", "body_markdown": "*" * 26_000 + "a" + "*" * 26_000}, "nested"),
        ({"subject": "Hi", "body_markdown": "Hello XQ&#65;QX"}, "type the character"),
    ]:
        response = marketing_client.post(
            "/staff/campaigns/preview", data={"csrf_token": token, **fields}
        )
        assert response.status_code == 400
        assert words in response.get_json()["error"]


def test_one_staff_address_typed_twice_gets_one_test_copy(client, ctx, marketing, make_staff):
    _, staff_email, _ = make_staff("marketing")
    campaign_id = create_campaign(client, marketing, body="Hi")
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/test",
        headers=marketing,
        json={"emails": [staff_email.upper(), staff_email, f" {staff_email}"]},
    )
    assert response.status_code == 202
    assert response.get_json()["emails"] == [staff_email]


def test_a_staff_address_with_an_accented_domain_gets_test_copies_as_typed(client, ctx, marketing):
    from campaign.staff import services as staff_services
    from campaign.staff.models import Role

    staff_services.create_staff("desk@bücher.de", Role.MARKETING, "correct horse battery")
    db.session.commit()
    campaign_id = client.post(
        "/api/v1/campaigns", headers=marketing, json={"subject": "News", "body_markdown": "Hi"}
    ).get_json()["id"]
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/test",
        headers=marketing,
        json={"emails": ["Desk@Bücher.de"]},
    )
    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize("action", ["copy", "send", "pause", "resume", "cancel"])
def test_calls_that_take_nothing_refuse_a_body_they_would_ignore(client, ctx, marketing, action):
    """Found by an outside audit: copy answered 201 to {"subject": "x"} and to "garbage"."""
    created = client.post(
        "/api/v1/campaigns", headers=marketing, json={"subject": "June", "body_markdown": "Hi"}
    ).get_json()
    path = f"/api/v1/campaigns/{created['id']}/{action}"
    field = client.post(path, headers=marketing, json={"subject": "x"})
    assert field.status_code == 400
    assert field.get_json()["error"]["code"] == "unknown_field"
    garbage = client.post(
        path, headers={**marketing, "Content-Type": "application/json"}, data="garbage"
    )
    assert garbage.status_code == 400
    assert (
        client.get(f"/api/v1/campaigns/{created['id']}", headers=marketing).get_json()["status"]
        == "draft"
    )


def test_copy_takes_no_body_or_an_empty_object(client, ctx, marketing):
    created = client.post(
        "/api/v1/campaigns", headers=marketing, json={"subject": "June", "body_markdown": "Hi"}
    ).get_json()
    path = f"/api/v1/campaigns/{created['id']}/copy"
    assert client.post(path, headers=marketing).status_code == 201
    assert client.post(path, headers=marketing, json={}).status_code == 201
