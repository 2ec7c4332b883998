"""The compose page given input no person types: a clear answer, never a 500."""

import pytest

from tests.staff.helpers import csrf_from, log_in


@pytest.fixture
def marketing_client(app, make_staff):
    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    return client


@pytest.mark.parametrize("subject", ["a\r\nBcc: x@example.com", "a\x0bb"])
def test_the_live_preview_explains_a_subject_no_header_can_carry(marketing_client, subject):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    response = marketing_client.post(
        "/staff/campaigns/preview",
        data={"subject": subject, "body_markdown": "Hello", "csrf_token": token},
    )
    assert response.status_code == 400
    assert "line break" in response.get_json()["error"]
