"""The compose page given input no person types: a clear answer, never a 500."""

import pytest

from tests.staff.helpers import csrf_from


@pytest.mark.parametrize("subject", ["a\r\nBcc: x@example.com", "a\x0bb"])
def test_the_live_preview_explains_a_subject_no_header_can_carry(marketing_client, subject):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    response = marketing_client.post(
        "/staff/campaigns/preview",
        data={"subject": subject, "body_markdown": "Hello", "csrf_token": token},
    )
    assert response.status_code == 400
    assert "line break" in response.get_json()["error"]


def test_a_blank_body_is_refused_in_words_staff_read(marketing_client, ctx):
    from sqlalchemy import func, select

    from campaign.campaigns.models import Campaign
    from campaign.extensions import db

    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    page = marketing_client.post(
        "/staff/campaigns/new",
        data={"subject": "December", "body_markdown": "  \r\n  ", "csrf_token": token},
    )
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "The body is required." in text
    assert "body_markdown is" not in text  # the field's name in the code, not for staff
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
