"""An id in a staff URL that no row can have is answered like a missing row, never a
500: a huge one would overflow the database driver's integer.

Requests run in app contexts of their own (no ``ctx`` fixture), as in test_team.py.
"""

import pytest

from tests.staff.helpers import log_in
from tests.staff.test_team import admin_client, post_form

HUGE = 10**23  # beyond SQLite's 64-bit INTEGER, let alone PostgreSQL's 32-bit ids


def test_ending_a_huge_session_id_says_that_login_has_ended(app, make_staff):
    client = app.test_client()
    _, email, password = make_staff("receptionist")
    log_in(client, email, password)
    response = post_form(client, "/staff/account", f"/staff/account/sessions/{HUGE}/end")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/account"
    page = client.get("/staff/account").get_data(as_text=True)
    assert "That login has already ended" in page
    assert client.get("/staff/").status_code == 200  # still logged in here


def test_revoking_a_huge_token_id_changes_nothing(app, make_staff):
    client = app.test_client()
    _, email, password = make_staff("receptionist")
    log_in(client, email, password)
    response = post_form(client, "/staff/tokens", f"/staff/tokens/{HUGE}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/tokens"


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("role", {"role": "marketing"}),
        ("active", {"active": "0"}),
        ("password-link", {}),
        ("name", {"name": "Maria"}),
    ],
)
def test_a_huge_member_id_on_the_staff_page_is_a_404(app, make_staff, action, data):
    client, _ = admin_client(app, make_staff)
    response = post_form(client, "/staff/team/", f"/staff/team/{HUGE}/{action}", **data)
    assert response.status_code == 404
