"""The desk's calls on the session: CSRF on look-ups, one rate budget per account,
and what a mistyped code is told."""

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.staff.models import Staff
from tests.staff.helpers import log_in


def desk_csrf(client) -> str:
    page = client.get("/desk").get_data(as_text=True)
    return page.split('<meta name="csrf-token" content="')[1].split('"')[0]


@pytest.fixture
def session_desk(app, make_staff):
    """A logged-in receptionist's test client, its CSRF header and its staff id."""

    def make(on_app=None):
        target = on_app or app
        staff_id, email, password = make_staff("receptionist")
        client = target.test_client()
        log_in(client, email, password)
        return client, {"X-CSRFToken": desk_csrf(client)}, staff_id

    return make


def test_a_cross_site_lookup_cannot_lock_the_desk(make_app, session_desk, issue_coupon):
    """The session cookie rides on a top-level navigation from any site: a look-up
    without the page's CSRF header is refused and counts no invalid code."""
    app = make_app(INVALID_CODE_BURST="3 per minute")
    client, csrf, staff_id = session_desk(app)
    good = issue_coupon()
    for i in range(6):
        response = client.get(f"/api/v1/coupons/ZZZZ-ZZZZ-ZZZZ-ZZZ{i}")
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "csrf_failed"
    forged = client.get("/api/v1/coupons/ZZZZ-ZZZZ-ZZZZ-ZZZZ", headers={"X-CSRFToken": "x"})
    assert forged.get_json()["error"]["code"] == "csrf_failed"
    with app.app_context():
        assert db.session.scalar(select(Staff.locked_until).filter_by(id=staff_id)) is None
    assert client.get(f"/api/v1/coupons/{good}", headers=csrf).status_code == 200


def test_the_desks_own_lookups_still_count_invalid_codes(make_app, session_desk, issue_coupon):
    app = make_app(INVALID_CODE_BURST="3 per minute")
    client, csrf, _ = session_desk(app)
    good = issue_coupon()
    statuses = [
        client.get(f"/api/v1/coupons/ZZZZ-ZZZZ-ZZZZ-ZZZ{i}", headers=csrf).status_code
        for i in range(4)
    ]
    assert statuses == [400, 400, 400, 400]
    response = client.get(f"/api/v1/coupons/{good}", headers=csrf)
    assert response.status_code == 423
    assert response.get_json()["error"]["code"] == "account_locked"


def test_a_bearer_lookup_needs_no_csrf_header(client, api_token, issue_coupon):
    code = issue_coupon()
    headers = {"Authorization": f"Bearer {api_token('receptionist')}"}
    response = client.get(f"/api/v1/coupons/{code}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "issued"


@pytest.mark.parametrize("spelling", ["bearer {}", "BEARER {}", "Bearer  {}", "bEaReR {} "])
def test_rewording_the_bearer_header_gets_no_fresh_budget(make_app, api_token, spelling):
    app = make_app(DESK_RATE_LIMIT="2 per minute")
    client = app.test_client()
    token = api_token("receptionist")
    for _ in range(2):
        response = client.get("/api/v1/coupons/0000", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400
    reworded = {"Authorization": spelling.format(token)}
    assert client.get("/api/v1/coupons/0000", headers=reworded).status_code == 429


def test_a_junk_authorization_header_gets_a_session_no_fresh_budget(make_app, session_desk):
    app = make_app(DESK_RATE_LIMIT="2 per minute")
    client, csrf, _ = session_desk(app)
    for _ in range(2):
        assert client.get("/api/v1/coupons/0000", headers=csrf).status_code == 400
    for junk in ("Basic x", "Digest y", "x"):
        response = client.get("/api/v1/coupons/0000", headers={**csrf, "Authorization": junk})
        assert response.status_code == 429, junk


@pytest.mark.parametrize(
    ("typed", "length"),
    [("11ZB-1A5M", 8), ("11ZB1A5M", 8), ("7KQ2 M9XD 4TPA H3CE 7", 17), ("7kq2\u2013m9xd", 8)],
)
def test_a_code_of_the_wrong_length_is_told_how_long_codes_are(client, api_token, typed, length):
    headers = {"Authorization": f"Bearer {api_token('receptionist')}"}
    for method, suffix in (("GET", ""), ("POST", "/redeem")):
        response = client.open(f"/api/v1/coupons/{typed}{suffix}", method=method, headers=headers)
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["code"] == "invalid_code"
        assert error["message"] == f"Coupon codes have 16 characters; this has {length}."


@pytest.mark.parametrize("typed", ["AAAA-BBBB-CCCC-DDDD", "https%3A%2F%2Fexample.com%2Fx", "A$B"])
def test_other_invalid_codes_keep_the_typo_message(client, api_token, typed):
    headers = {"Authorization": f"Bearer {api_token('receptionist')}"}
    error = client.get(f"/api/v1/coupons/{typed}", headers=headers).get_json()["error"]
    assert error["message"] == "This is not a valid coupon code. Check it for typos."
