"""Staff accounts: login, roles, API tokens, the CLI."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign import clinic
from campaign.audit import AuditEvent
from campaign.extensions import db
from campaign.staff.models import ApiToken, Staff
from tests.staff.helpers import csrf_from, log_in


def test_receptionist_logs_in_and_lands_on_the_desk(client, make_staff):
    _, email, password = make_staff("receptionist")
    response = log_in(client, email, password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/desk"
    assert "Coupon code" in client.get("/desk").get_data(as_text=True)


def test_wrong_password_is_refused_and_audited(client, ctx, make_staff):
    _, email, _ = make_staff("admin")
    response = log_in(client, email, "wrong password!")
    assert response.status_code == 400
    assert "do not match" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    assert db.session.scalar(select(AuditEvent).filter_by(action="staff.login_failed"))


def test_login_form_needs_its_csrf_token(client, make_staff):
    _, email, password = make_staff("admin")
    response = client.post("/staff/login", data={"email": email, "password": password})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302


def test_login_is_rate_limited(make_app, make_staff):
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    _, email, _ = make_staff("admin")
    statuses = [log_in(client, email, "nope-nope-nope").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "/%09/evil.example", "/%0d%0aSet-Cookie:x=1", "/\\evil.example"],
)
def test_next_parameter_never_leaves_the_site(client, make_staff, target):
    _, email, password = make_staff("marketing")
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    response = client.post(
        f"/staff/login?next={target}",
        data={"email": email, "password": password, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_next_parameter_returns_to_the_page_asked_for(client, make_staff):
    _, email, password = make_staff("marketing")
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    response = client.post(
        "/staff/login?next=%2Fstaff%2Fsubscribers%2F%3Fq%3Dann",
        data={"email": email, "password": password, "csrf_token": token},
    )
    assert response.headers["Location"] == "/staff/subscribers/?q=ann"


def test_logout_ends_the_session(client, make_staff):
    _, email, password = make_staff("receptionist")
    log_in(client, email, password)
    page = client.get("/desk").get_data(as_text=True)
    client.post("/staff/logout", data={"csrf_token": csrf_from(page)})
    assert client.get("/desk").status_code == 302


def test_api_tokens_are_created_shown_once_stored_hashed_and_revocable(
    client, ctx, make_staff, issue_coupon
):
    _, email, password = make_staff("receptionist")
    log_in(client, email, password)
    page = client.get("/staff/tokens").get_data(as_text=True)
    page = client.post(
        "/staff/tokens", data={"name": "front desk tablet", "csrf_token": csrf_from(page)}
    ).get_data(as_text=True)
    token = page.split('id="new-token">')[1].split("<")[0]
    assert token.startswith("cmp_")
    stored = db.session.scalar(select(ApiToken))
    assert token not in (stored.token_hash, stored.prefix)

    code = issue_coupon()
    anonymous = client.application.test_client()
    assert (
        anonymous.get(
            f"/api/v1/coupons/{code}", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )

    client.post(f"/staff/tokens/{stored.id}/revoke", data={"csrf_token": csrf_from(page)})
    response = anonymous.get(
        f"/api/v1/coupons/{code}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_a_token_name_that_cannot_be_kept_is_refused_with_a_message(client, ctx, make_staff):
    _, email, password = make_staff("receptionist")
    log_in(client, email, password)
    page = client.get("/staff/tokens").get_data(as_text=True)
    for name, said in (
        ("   ", "Give the token a name"),
        ("x" * 101, "Keep the name to 100 characters."),
        ("desk\u202etablet", "Use text only"),
    ):
        refused = client.post("/staff/tokens", data={"name": name, "csrf_token": csrf_from(page)})
        assert refused.status_code == 400, name
        html = refused.get_data(as_text=True)
        assert said in html, name
        assert 'aria-invalid="true"' in html
        assert "<title>Error: " in html
        assert 'id="new-token"' not in html
    assert db.session.scalar(select(ApiToken)) is None
    # Spaces around a good name are not kept.
    client.post("/staff/tokens", data={"name": "  desk tablet ", "csrf_token": csrf_from(page)})
    assert db.session.scalar(select(ApiToken.name)) == "desk tablet"


def test_a_token_notes_its_use_and_dies_with_its_account(client, app, api_token, issue_coupon):
    token = api_token("receptionist")
    bearer = {"Authorization": f"Bearer {token}"}
    code = issue_coupon()
    # A lookup commits nothing of its own; the use is noted all the same.
    assert client.get(f"/api/v1/coupons/{code}", headers=bearer).status_code == 200
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert stored.last_used_at is not None  # the tokens page shows it
        stored.staff.active = False
        db.session.commit()
    response = client.get(f"/api/v1/coupons/{code}", headers=bearer)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_api_answers_401_without_and_403_with_the_wrong_role(client, api_token, issue_coupon):
    code = issue_coupon()
    response = client.get(f"/api/v1/coupons/{code}")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    response = client.get(f"/api/v1/coupons/{code}", headers={"Authorization": "Bearer cmp_forged"})
    assert response.status_code == 401
    response = client.post(
        f"/api/v1/coupons/{code}/void",
        headers={"Authorization": f"Bearer {api_token('marketing')}"},
        json={"reason": "x"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_admin_edits_the_welcome_offer(client, ctx, make_staff, issue_coupon):
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    page = client.get("/staff/offer").get_data(as_text=True)
    assert "Free massage oil" in page
    response = client.post(
        "/staff/offer",
        data={
            "title": "Free lavender oil",
            "terms": "One per guest.",
            "validity_days": "30",
            "reminder_days": "7",
            "active": "y",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    code = issue_coupon()
    from campaign.coupons.models import Coupon

    coupon = db.session.scalar(select(Coupon))
    assert coupon.offer.title == "Free lavender oil"
    # Good to the end of the clinic's day 30 days on (coupons.services.expiry_for).
    issued_on = clinic.local_time(coupon.issued_at).date()
    assert clinic.local_time(coupon.expires_at).date() == issued_on + timedelta(days=30)
    assert code


def test_admin_switches_the_welcome_offer_off_and_on(
    client, app, ctx, make_staff, issue_coupon, api_token
):
    from campaign.coupons import services as coupon_services

    _, email, password = make_staff("admin")
    log_in(client, email, password)
    held = issue_coupon("held@example.com")
    page = client.get("/staff/offer").get_data(as_text=True)
    assert "checked" in re.search(r'<input[^>]*id="active"[^>]*>', page).group(0)
    assert "Free massage oil" in client.get("/").get_data(as_text=True)
    form = {"title": "Free massage oil", "terms": "", "validity_days": "90"}
    # Unticked: the box is not in the form at all, as a browser sends it.
    off = client.post(
        "/staff/offer", data={**form, "reminder_days": "7", "csrf_token": csrf_from(page)}
    )
    assert off.status_code == 302
    assert "switched off: new subscribers get no coupon" in client.get(
        off.headers["Location"]
    ).get_data(as_text=True)
    db.session.expire_all()
    assert coupon_services.welcome_offer().active is False
    assert "Free massage oil" not in app.test_client().get("/").get_data(as_text=True)
    assert coupon_services.welcome_promise() is None
    page = client.get("/staff/offer").get_data(as_text=True)
    assert "checked" not in re.search(r'<input[^>]*id="active"[^>]*>', page).group(0)
    # No coupon for a new subscriber; one already sent is still good at the desk.
    from campaign.subscribers.models import Subscriber
    from tests.campaigns.helpers import add_confirmed

    (address,) = add_confirmed(1)
    newcomer = db.session.scalar(select(Subscriber).filter_by(email=address))
    assert coupon_services.issue_welcome_coupon(newcomer.id) is None
    desk = {"Authorization": f"Bearer {api_token('receptionist')}"}
    assert client.get(f"/api/v1/coupons/{held}", headers=desk).get_json()["status"] == "issued"

    on = client.post(
        "/staff/offer",
        data={**form, "reminder_days": "7", "active": "y", "csrf_token": csrf_from(page)},
    )
    assert on.status_code == 302
    db.session.expire_all()
    assert coupon_services.welcome_offer().active is True
    assert coupon_services.issue_welcome_coupon(newcomer.id) is not None


def test_offer_form_rejects_bad_values(client, make_staff):
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    page = client.get("/staff/offer").get_data(as_text=True)
    response = client.post(
        "/staff/offer",
        data={"title": "", "validity_days": "-3", "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 400  # as every other form's refusal
    assert 'class="alert error"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("title", "terms"),
    [("Free oil\r\nBcc: evil@evil.example", "ok"), ("Free oil", "One per guest.\x1b[31m")],
)
def test_offer_text_with_control_characters_is_refused(client, ctx, make_staff, title, terms):
    """The title goes into the welcome email's subject: a line break there would be
    refused at send time, and every welcome lost."""
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    page = client.get("/staff/offer").get_data(as_text=True)
    response = client.post(
        "/staff/offer",
        data={"title": title, "terms": terms, "validity_days": "30", "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)
    from campaign.coupons import services as coupon_services

    assert coupon_services.welcome_offer().title == "Free massage oil"


def test_cli_creates_staff_from_stdin_and_prints_a_token(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "Maria@Staff.Example.com",
            "--role",
            "receptionist",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    staff = db.session.scalar(select(Staff))
    assert staff.email == "maria@staff.example.com"
    assert staff.role_name == "receptionist"
    assert "a long enough password" not in staff.password_hash

    result = runner.invoke(args=["staff", "token", "maria@staff.example.com"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert (
        app.test_client()
        .get("/api/v1/desk/redemptions", headers={"Authorization": f"Bearer {token}"})
        .status_code
        == 200
    )

    # A deactivated account's token would answer 401: the command says why instead.
    staff.active = False
    db.session.commit()
    result = runner.invoke(args=["staff", "token", "maria@staff.example.com"])
    assert result.exit_code == 1
    assert "is deactivated: reactivate it on the Staff page first" in result.output
    assert len(db.session.scalars(select(ApiToken)).all()) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            [
                "staff",
                "create",
                "x@staff.example.com",
                "--role",
                "receptionist",
                "--password-stdin",
            ],
            "short\n",
            "at least",
        ),
        (
            ["staff", "create", "not-an-email", "--role", "admin", "--password-stdin"],
            "a long enough password\n",
            "email",
        ),
        (
            ["staff", "create", "x@staff.example.com", "--role", "owner", "--password-stdin"],
            "a long enough password\n",
            "owner",
        ),
        (["staff", "token", "nobody@staff.example.com"], "", "no staff account"),
    ],
)
def test_cli_refuses_bad_input_clearly(app, args, stdin, message):
    result = app.test_cli_runner().invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output


def test_cli_refuses_a_duplicate_account(app):
    runner = app.test_cli_runner()
    args = ["staff", "create", "dup@staff.example.com", "--role", "admin", "--password-stdin"]
    assert runner.invoke(args=args, input="a long enough password\n").exit_code == 0
    result = runner.invoke(args=args, input="a long enough password\n")
    assert result.exit_code != 0
    assert "already has an account" in result.output


def test_an_account_at_an_internationalised_domain_logs_in_typed_either_way(client, ctx):
    from campaign.staff import services
    from campaign.staff.models import Role

    services.create_staff("Desk@Bücher.de", Role.RECEPTIONIST, "correct horse battery")
    db.session.commit()
    assert db.session.scalar(select(Staff.email)) == "desk@xn--bcher-kva.de"
    for typed in ["desk@bücher.de", "DESK@xn--bcher-kva.de"]:
        response = log_in(client, typed, "correct horse battery")
        assert response.status_code == 302, typed
