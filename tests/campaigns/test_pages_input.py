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
