"""The login form tells nobody which addresses have accounts, and limits the guesses at
one address however many IPs they come from.

Requests run in app contexts of their own (no ``ctx`` fixture), as in test_team.py.
"""

import re
import time

import pytest
from argon2 import _password_hasher

from campaign.extensions import db
from campaign.staff import services
from campaign.staff.models import Role
from tests.staff.helpers import csrf_from
from tests.staff.test_team import audit_events, link_for

PASSWORD = "correct horse battery"  # make_staff's


@pytest.fixture
def argon2_checks(monkeypatch) -> list[bytes]:
    """The hashes argon2 really verified a password against (the costly part); a hash
    it refuses at once as invalid is not among them."""
    checked = []
    verify_secret = _password_hasher.verify_secret

    def counting(hash_, secret, type_):
        checked.append(hash_)
        return verify_secret(hash_, secret, type_)

    monkeypatch.setattr(_password_hasher, "verify_secret", counting)
    return checked


def attempt(client, email: str, password: str, ip: str = "192.0.2.1"):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    return client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def invite(app, email: str) -> int:
    with app.app_context():
        staff = services.create_staff(email, Role.RECEPTIONIST, None)
        db.session.commit()
        return staff.id


def test_every_wrong_login_costs_one_argon2_check_whoever_the_address_is(
    app, make_staff, argon2_checks
):
    _, real, _ = make_staff("admin")
    invited = "invited@clinic.example"
    invite(app, invited)
    for email in (real, invited, "nobody@clinic.example"):
        argon2_checks.clear()
        assert attempt(app.test_client(), email, "wrong password!").status_code == 400
        assert len(argon2_checks) == 1, email  # the invited account's took none


def test_the_dummy_hashs_password_opens_no_invited_account(app):
    invite(app, "invited@clinic.example")
    response = attempt(app.test_client(), "invited@clinic.example", "not-a-real-password")
    assert response.status_code == 400
    assert "do not match" in response.get_data(as_text=True)


def spent_budget_app(make_app, limit: str = "3 per 15 minutes"):
    return make_app(LOGIN_ACCOUNT_FAILURE_LIMIT=limit)


def test_guesses_from_many_ips_at_one_address_are_refused_the_right_password_too(
    make_app, make_staff, argon2_checks
):
    app = spent_budget_app(make_app)
    _, email, password = make_staff("admin")
    client = app.test_client()
    statuses = [
        attempt(client, email, "guess-guess", f"198.51.100.{n}").status_code for n in range(3)
    ]
    assert statuses == [400, 400, 400]

    argon2_checks.clear()
    refused = attempt(client, email, password, "203.0.113.9")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60  # as every 429 says
    page = refused.get_data(as_text=True)
    assert "Too many failed logins for this address" in page
    assert "up to 15 minutes" in page
    assert "Forgot your password?" in page
    assert argon2_checks == []  # refused before any password is looked at
    assert client.get("/staff/").status_code == 302
    (event,) = audit_events(app, "staff.login_refused")
    assert event.target == f"email:{email}"


def test_an_unknown_address_is_refused_just_the_same(make_app, make_staff):
    app = spent_budget_app(make_app)
    _, known, _ = make_staff("admin")
    unknown = "nobody@staff.example.com"
    answers = {}
    for email in (known, unknown):
        client = app.test_client()
        statuses = [attempt(client, email, "guess-guess").status_code for _ in range(5)]
        page = attempt(client, email, "guess-guess").get_data(as_text=True)
        page = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1TOKEN", page)
        answers[email] = (statuses, page.replace(email, "ADDRESS"))
    assert answers[known] == answers[unknown]
    assert answers[known][0] == [400, 400, 400, 429, 429]


def test_every_spelling_of_the_address_shares_its_budget(make_app, make_staff):
    app = spent_budget_app(make_app)
    _, email, password = make_staff("admin")
    client = app.test_client()
    for spelling in (email.upper(), f"  {email} ", email.title()):
        assert attempt(client, spelling, "guess-guess").status_code == 400
    assert attempt(client, email, password).status_code == 429


def test_other_addresses_keep_their_budget(make_app, make_staff):
    app = spent_budget_app(make_app)
    _, target, _ = make_staff("admin")
    _, colleague, password = make_staff("receptionist")
    client = app.test_client()
    for _ in range(4):
        attempt(client, target, "guess-guess")
    assert attempt(app.test_client(), colleague, password).status_code == 302


def test_a_successful_login_gives_the_budget_back(make_app, make_staff):
    app = spent_budget_app(make_app)
    _, email, password = make_staff("admin")
    client = app.test_client()
    assert [attempt(client, email, "typo-typo-typo").status_code for _ in range(2)] == [400, 400]
    assert attempt(client, email, password).status_code == 302
    statuses = [attempt(app.test_client(), email, "typo-typo").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_a_spent_budget_is_spent_for_its_window_only(make_app, make_staff):
    """Asked of the counter storage itself (memory, or Redis in CI): nobody waits 15
    minutes, and Redis's clock cannot be moved on."""
    from limits import parse_many

    from campaign.staff import login_limits

    app = spent_budget_app(make_app)
    _, email, _ = make_staff("admin")
    client = app.test_client()
    assert [attempt(client, email, "guess-guess").status_code for _ in range(4)][-1] == 429
    with app.app_context():
        counters = app.extensions["rate_limits"]
        key = login_limits.budget_key(email)
        (window,) = parse_many(app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"])
        stats = counters.get_window_stats(window, login_limits.SCOPE, key)
    assert stats.remaining == 0
    assert time.time() < stats.reset_time <= time.time() + window.get_expiry() + 1


def test_the_owner_still_gets_in_by_a_password_link_while_it_is_spent(make_app, make_staff):
    app = spent_budget_app(make_app)
    staff_id, email, _ = make_staff("admin")
    for _ in range(4):
        attempt(app.test_client(), email, "guess-guess")
    owner = app.test_client()
    path = link_for(app, staff_id)
    token = csrf_from(owner.get(path).get_data(as_text=True))
    new = "a brand new password"
    response = owner.post(path, data={"password": new, "confirm": new, "csrf_token": token})
    assert response.status_code == 302
    assert owner.get("/staff/").status_code == 200


def test_an_address_typed_with_format_characters_is_audited_without_them(app, ctx):
    client = app.test_client()
    attempt(client, "\u202eevil\u200b@example.com", "guess-guess", "198.51.100.7")
    (event,) = audit_events(app, "staff.login_failed")
    assert event.target == "email:evil@example.com"
