"""The subscriber pages given input no person types: a clear answer, never a 500."""

import pytest


@pytest.mark.parametrize("page", ["%C2%B2", "%E2%91%A0", "0", "-1", "99999999999999999999"])
def test_the_subscriber_list_takes_any_page_number_text(marketing_client, page):
    response = marketing_client.get(f"/staff/subscribers/?page={page}")
    assert response.status_code == 200
