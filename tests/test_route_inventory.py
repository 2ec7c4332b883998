"""Every staff, desk and API route refuses anonymous callers and wrong roles."""

import re

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.staff.models import Role
from campaign.subscribers.models import Subscriber
from tests.campaigns.helpers import add_confirmed

PUBLIC = {"/api/v1/subscribe"}
# Reached without a session: a forgotten password, or the emailed link (its credential).
PUBLIC_STAFF = {
    "/staff/login",
    "/staff/logout",
    "/staff/password/forgot",
    "/staff/password/<token>",
}


def protected_rules(app):
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if path in PUBLIC or path in PUBLIC_STAFF:
            continue
        if path.startswith(("/staff", "/desk", "/api/v1")):
            yield rule


def concrete(path: str) -> str:
    return re.sub(
        r"<(?:[a-z]+:)?([a-z_]+)>",
        lambda m: "1" if "id" in m.group(1) else "AAAA-BBBB-CCCC-DDDD",
        path,
    )


def test_inventory_is_not_empty(app):
    paths = {rule.rule for rule in protected_rules(app)}
    assert {
        "/desk",
        "/staff/",
        "/api/v1/coupons/<code>",
        "/api/v1/coupons/<code>/redeem",
    } <= paths


def test_every_protected_route_declares_a_role(app):
    for rule in protected_rules(app):
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "required_role"), f"{rule.rule} has no role check"


def test_anonymous_callers_are_refused_everywhere(app, client):
    for rule in protected_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(concrete(rule.rule), method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, rule.rule)
                assert response.get_json()["error"]["code"] == "unauthorized"
                assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
            elif method == "GET":
                assert response.status_code == 302, (method, rule.rule)
                assert "/staff/login" in response.headers["Location"]
            else:
                # A form post without a session has no CSRF token either: 400 or login.
                assert response.status_code in {302, 400}, (method, rule.rule)


@pytest.mark.parametrize("role", ["receptionist", "marketing", "admin"])
def test_each_role_reaches_only_its_routes(app, api_token, role):
    client = app.test_client()
    staff_role = Role.named(role)
    headers = {"Authorization": f"Bearer {api_token(role)}"}
    for rule in protected_rules(app):
        required = app.view_functions[rule.endpoint].required_role
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.rule.startswith("/api/"):
                response = client.open(
                    concrete(rule.rule), method=method, headers=headers, json={"reason": "x"}
                )
            else:
                continue
            if staff_role >= required:
                assert response.status_code != 403, (role, method, rule.rule)
            else:
                assert response.status_code == 403, (role, method, rule.rule)


@pytest.mark.parametrize("role", ["receptionist", "marketing", "admin"])
def test_each_role_sees_only_its_pages(app, make_staff, role):
    from tests.staff.helpers import log_in

    client = app.test_client()
    _, email, password = make_staff(role)
    log_in(client, email, password)
    staff_role = Role.named(role)
    for rule in protected_rules(app):
        if rule.rule.startswith("/api/") or "GET" not in rule.methods or "<" in rule.rule:
            continue
        required = app.view_functions[rule.endpoint].required_role
        status = client.get(rule.rule).status_code
        if staff_role >= required:
            assert status == 200, (role, rule.rule)
        else:
            assert status == 403, (role, rule.rule)


def test_ids_in_paths_are_ascii_digits_only(app, client, ctx, api_token):
    # "１" (fullwidth) and "٢" (Arabic-Indic) are digits to int(): they must not name
    # record 1 or 2 past a rule at a proxy that reads /subscribers/1.
    numbered = [rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule]
    assert len(numbered) > 20
    for rule in numbered:
        for digit in ("\uff11", "\u0662"):
            path = re.sub(r"<int:[a-z_]+>", digit, rule.rule)
            path = concrete(path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(path, method=method)
                assert response.status_code in (404, 405), (method, path)

    (email,) = add_confirmed(1)
    subscriber = db.session.scalar(select(Subscriber).filter_by(email=email))
    admin = {"Authorization": f"Bearer {api_token('admin')}"}
    fullwidth = "".join(chr(0xFF10 + int(digit)) for digit in str(subscriber.id))
    erased = client.delete(f"/api/v1/subscribers/{fullwidth}", headers=admin)
    assert erased.status_code == 404
    assert erased.get_json()["error"]["code"] == "not_found"
    db.session.expire_all()
    assert db.session.get(Subscriber, subscriber.id).email == email
    # The ASCII id still works.
    assert (
        client.get(f"/api/v1/subscribers/{subscriber.id}/export", headers=admin).status_code == 200
    )
