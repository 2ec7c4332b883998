"""The admin's staff page, set-password links, and changing one's own password.

Requests here run in app contexts of their own (no ``ctx`` fixture): Flask-Login keeps
the loaded user in ``g``, so requests sharing the test's context would all see the
first request's login, and a logout would go unnoticed.
"""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from campaign.audit import AuditEvent
from campaign.extensions import db
from campaign.staff import services
from campaign.staff.models import Role, Staff
from campaign.tokens import Purpose, make_token
from tests.staff.helpers import csrf_from, log_in
from tests.subscribers.helpers import minted_in_the_past
from tests.test_integration import link


def admin_client(app, make_staff):
    client = app.test_client()
    staff_id, email, password = make_staff("admin", "Olga Owner")
    log_in(client, email, password)
    return client, staff_id


def post_form(client, page: str, action: str, **data):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def account(app, staff_id: int) -> Staff:
    """The account as stored now (a detached copy)."""
    with app.app_context():
        found = db.session.get(Staff, staff_id)
        db.session.expunge(found)
        return found


def update_account(app, staff_id: int, **values) -> None:
    with app.app_context():
        for name, value in values.items():
            setattr(db.session.get(Staff, staff_id), name, value)
        db.session.commit()


def audit_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return events


def link_for(app, staff_id: int) -> str:
    with app.app_context():
        token = services.password_link_token(db.session.get(Staff, staff_id))
    return f"/staff/password/{token}"


def staff_by_email(app, email: str) -> Staff | None:
    with app.app_context():
        found = db.session.scalar(select(Staff).filter_by(email=email))
        if found is not None:
            db.session.expunge(found)
        return found


def test_only_admins_reach_the_staff_page(app, make_staff):
    for role in ("receptionist", "marketing"):
        client = app.test_client()
        _, email, password = make_staff(role)
        log_in(client, email, password)
        refused = client.get("/staff/team/")
        assert refused.status_code == 403
        assert "role does not open this page" in refused.get_data(as_text=True)
        assert 'href="/staff/"' in refused.get_data(as_text=True)
    client, _ = admin_client(app, make_staff)
    page = client.get("/staff/team/").get_data(as_text=True)
    assert "Olga Owner" in page
    assert "Add a staff member" in page


def test_an_admin_adds_a_member_who_cannot_log_in_until_they_choose_a_password(app, make_staff):
    client, admin_id = admin_client(app, make_staff)
    response = post_form(
        client,
        "/staff/team/",
        "/staff/team/",
        email=" Maria@Clinic.Example ",
        name="  Maria   Lopez ",
        role="receptionist",
    )
    assert response.status_code == 302
    added = staff_by_email(app, "maria@clinic.example")
    assert (added.name, added.role, added.active) == ("Maria Lopez", Role.RECEPTIONIST, True)
    (event,) = [e for e in audit_events(app, "staff.created") if e.target == f"staff:{added.id}"]
    assert event.staff_id == admin_id
    with app.app_context():
        for guess in ("", added.password_hash, "!unset:"):
            assert services.authenticate("maria@clinic.example", guess) is None
    assert "emailed a link" in client.get("/staff/team/").get_data(as_text=True)

    # A second account for the same address, in any case, is refused on the page.
    again = post_form(
        client, "/staff/team/", "/staff/team/", email="MARIA@clinic.example", role="admin"
    )
    assert again.status_code == 400
    assert "already has an account" in again.get_data(as_text=True)
    # Each member's row still shows their own role, not the one just posted.
    page = again.get_data(as_text=True)
    row = re.search(rf'<select[^>]*id="role-{added.id}".*?</select>', page, re.S).group(0)
    assert '<option selected value="receptionist">' in row
    assert staff_by_email(app, "maria@clinic.example").role is Role.RECEPTIONIST


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-address", "role": "marketing"}, "must have an @-sign"),
        ({"email": "a@clinic.example", "role": "owner"}, "Not a valid choice"),
        ({"email": "a@clinic.example", "role": "marketing", "name": "x" * 101}, "100"),
        ({"email": "a@clinic.example", "role": "marketing", "name": "Bo\x07b"}, "not allowed"),
    ],
)
def test_a_bad_new_member_is_refused_with_the_reason_and_nothing_written(
    app, make_staff, fields, message
):
    client, _ = admin_client(app, make_staff)
    response = post_form(client, "/staff/team/", "/staff/team/", **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(rf'<div class="alert error" role="alert"[^>]*>[^<]*{re.escape(message)}', page)
    assert staff_by_email(app, "a@clinic.example") is None


def test_role_changes_and_deactivation_take_effect_at_once(app, make_staff):
    admin, _ = admin_client(app, make_staff)
    member_id, email, password = make_staff("receptionist")
    member = app.test_client()
    log_in(member, email, password)
    with app.app_context():
        token = services.create_api_token(db.session.get(Staff, member_id))
        db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert member.get("/staff/campaigns/").status_code == 403

    post_form(admin, "/staff/team/", f"/staff/team/{member_id}/role", role="marketing")
    assert account(app, member_id).role is Role.MARKETING
    assert member.get("/staff/campaigns/").status_code == 200

    response = post_form(admin, "/staff/team/", f"/staff/team/{member_id}/active", active="0")
    assert response.status_code == 303
    assert account(app, member_id).active is False
    assert member.get("/staff/").status_code == 302  # logged out
    assert member.get("/api/v1/campaigns", headers=bearer).status_code == 401
    assert log_in(app.test_client(), email, password).status_code == 400

    post_form(admin, "/staff/team/", f"/staff/team/{member_id}/active", active="1")
    assert member.get("/api/v1/campaigns", headers=bearer).status_code == 200
    # The session the deactivation ended stays ended: someone left logged in on a
    # shared computer is not let back in by the reactivation. The password still works.
    assert member.get("/staff/").status_code == 302
    assert log_in(member, email, password).status_code == 302
    assert member.get("/staff/campaigns/").status_code == 200
    for action in ("staff.role_changed", "staff.deactivated", "staff.reactivated"):
        (event,) = audit_events(app, action)
        assert event.target == f"staff:{member_id}"


def test_an_admin_cannot_demote_or_deactivate_themselves(app, make_staff):
    client, admin_id = admin_client(app, make_staff)
    post_form(client, "/staff/team/", f"/staff/team/{admin_id}/role", role="receptionist")
    post_form(client, "/staff/team/", f"/staff/team/{admin_id}/active", active="0")
    assert (account(app, admin_id).role, account(app, admin_id).active) == (Role.ADMIN, True)
    assert "cannot change your own role" in client.get("/staff/team/").get_data(as_text=True)
    assert client.get("/staff/team/").status_code == 200


def test_staff_forms_need_their_csrf_token(app, make_staff):
    client, _ = admin_client(app, make_staff)
    member_id, _, _ = make_staff("receptionist")
    assert client.post(f"/staff/team/{member_id}/active", data={"active": "0"}).status_code == 400
    assert client.post("/staff/team/", data={"email": "x@clinic.example"}).status_code == 400
    assert account(app, member_id).active is True
    assert staff_by_email(app, "x@clinic.example") is None


def test_a_missing_member_is_a_404_page(app, make_staff):
    client, _ = admin_client(app, make_staff)
    for staff_id in (999999, 2**40):
        response = post_form(client, "/staff/team/", f"/staff/team/{staff_id}/active", active="0")
        assert response.status_code == 404


def test_a_password_link_sets_the_password_once_and_logs_in(app, make_staff):
    member_id, email, old_password = make_staff("receptionist")
    elsewhere = app.test_client()
    log_in(elsewhere, email, old_password)
    assert elsewhere.get("/desk").status_code == 200
    path = link_for(app, member_id)

    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert email in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    short = client.post(path, data={"csrf_token": token, "password": "short", "confirm": "short"})
    assert short.status_code == 400
    assert "at least 10 characters" in short.get_data(as_text=True)
    differ = client.post(
        path, data={"csrf_token": token, "password": "a long passphrase", "confirm": "another"}
    )
    assert "The two passwords differ" in differ.get_data(as_text=True)
    for guess in (email, email.upper(), email.split("@")[0]):
        own = client.post(path, data={"csrf_token": token, "password": guess, "confirm": guess})
        assert own.status_code == 400, guess
        assert "cannot be the account&#39;s email address" in own.get_data(as_text=True)

    chosen = {"csrf_token": token, "password": "a long passphrase", "confirm": "a long passphrase"}
    done = client.post(path, data=chosen)
    assert (done.status_code, done.headers["Location"]) == (302, "/desk")
    assert client.get("/desk").status_code == 200  # logged in by the link

    spent = client.get(path)
    assert spent.status_code == 400
    assert "cannot be used" in spent.get_data(as_text=True)
    assert client.post(path, data=chosen).status_code == 400
    assert elsewhere.get("/desk").status_code == 302  # the old session ended
    assert log_in(app.test_client(), email, old_password).status_code == 400
    assert log_in(app.test_client(), email, "a long passphrase").status_code == 302


def test_expired_tampered_and_foreign_links_get_a_friendly_page(app, make_staff):
    member_id, _, _ = make_staff("marketing")
    fingerprint = account(app, member_id).password_fingerprint
    client = app.test_client()
    with app.app_context():
        with minted_in_the_past(4 * 86400):
            old = make_token(Purpose.STAFF_PASSWORD, [member_id, fingerprint])
        foreign = make_token(Purpose.UNSUBSCRIBE, [member_id, fingerprint])
        odd = [make_token(Purpose.STAFF_PASSWORD, p) for p in ([True, fingerprint], "nonsense")]
    expired = client.get(f"/staff/password/{old}")
    assert expired.status_code == 410
    assert "expired" in expired.get_data(as_text=True)
    assert "Get a new link" in expired.get_data(as_text=True)

    for bad in (link_for(app, member_id)[:-3] + "abc", foreign, *odd, "x" * 600):
        path = bad if bad.startswith("/") else f"/staff/password/{bad}"
        response = client.get(path)
        assert response.status_code == 400, bad
        assert "cannot be used" in response.get_data(as_text=True)


def test_a_deactivated_account_cannot_use_its_link_even_once_reactivated(app, make_staff):
    admin, _ = admin_client(app, make_staff)
    member_id, _, _ = make_staff("receptionist")
    path = link_for(app, member_id)
    post_form(admin, "/staff/team/", f"/staff/team/{member_id}/active", active="0")
    assert app.test_client().get(path).status_code == 400
    post_form(admin, "/staff/team/", f"/staff/team/{member_id}/active", active="1")
    assert app.test_client().get(path).status_code == 400
    assert app.test_client().get(link_for(app, member_id)).status_code == 200


def test_log_out_everywhere_else_keeps_this_session_and_ends_the_others(app, make_staff):
    member_id, email, password = make_staff("receptionist")
    here, there, elsewhere = app.test_client(), app.test_client(), app.test_client()
    for client in (here, there, elsewhere):
        log_in(client, email, password)
    path = link_for(app, member_id)
    with app.app_context():
        token = services.create_api_token(db.session.get(Staff, member_id))
        db.session.commit()

    ended = post_form(here, "/staff/account", "/staff/account/sessions")
    assert ended.status_code == 302
    assert "Logged out on every other device" in here.get("/staff/account").get_data(as_text=True)
    assert there.get("/staff/account").status_code == 302
    assert elsewhere.get("/staff/").status_code == 302
    assert app.test_client().get(path).status_code == 400  # links minted before: spent
    bearer = {"Authorization": f"Bearer {token}"}
    assert here.get("/api/v1/desk/redemptions", headers=bearer).status_code == 200
    assert log_in(there, email, password).status_code == 302  # the password still works
    (event,) = audit_events(app, "staff.sessions_ended")
    assert event.target == f"staff:{member_id}"
    # Without its CSRF token, nothing ends.
    assert there.post("/staff/account/sessions").status_code == 400
    assert there.get("/staff/account").status_code == 200


@pytest.mark.integration
def test_forgot_password_answers_the_same_for_every_address(worker, app, make_staff, smtp):
    _, email, _ = make_staff("receptionist")
    inactive_id, inactive_email, _ = make_staff("receptionist")
    update_account(app, inactive_id, active=False)
    pages = []
    for address in ("nobody@clinic.example", inactive_email, email):
        client = app.test_client()
        response = post_form(
            client, "/staff/password/forgot", "/staff/password/forgot", email=address
        )
        assert response.status_code == 200
        pages.append(response.get_data(as_text=True).replace(address, "ADDRESS"))
    assert pages[0] == pages[1] == pages[2]
    # The same work for each (the lookup is the worker's): nothing to time apart.
    requested = [event.target for event in audit_events(app, "staff.password_link_requested")]
    assert requested == [f"email:{a}" for a in ("nobody@clinic.example", inactive_email, email)]
    (mailed,) = smtp.wait_for(email)
    assert mailed.subject.startswith("Set a new password")
    # The other two requests find no active account: no link is counted or mailed.
    time.sleep(1)  # asked before the one just mailed; time for them to be done
    mailed_to = [event.target for event in audit_events(app, "staff.password_link_mailed")]
    assert len(mailed_to) == 1
    assert smtp.to(inactive_email) == []
    assert smtp.to("nobody@clinic.example") == []


@pytest.mark.integration
def test_an_account_is_mailed_a_few_forgot_links_an_hour_whoever_asks(
    worker, app, make_staff, smtp
):
    """The form's limit is per IP; someone with many addresses could still flood one
    inbox. Each account is mailed three links an hour, then none, however many
    worker processes take the requests at once."""
    from campaign.staff.tasks import send_password_email_to

    member_id, email, _ = make_staff("receptionist")
    other_id, other_email, _ = make_staff("receptionist")
    with app.app_context():
        for n in range(8):
            send_password_email_to.delay(email.upper() if n % 2 else email)
        send_password_email_to.delay(other_email)
    smtp.wait_for(other_email)
    smtp.wait_for(email, count=3)
    time.sleep(3)  # time for any fourth to arrive
    assert len(smtp.to(email)) == services.FORGOT_LINKS_PER_HOUR == 3
    mailed = sorted(event.target for event in audit_events(app, "staff.password_link_mailed"))
    assert mailed == sorted([f"staff:{member_id}"] * 3 + [f"staff:{other_id}"])
    # An hour on, the account can be mailed again.
    with app.app_context():
        db.session.execute(
            update(AuditEvent)
            .where(AuditEvent.action == "staff.password_link_mailed")
            .values(at=AuditEvent.at - timedelta(minutes=61))
        )
        db.session.commit()
        send_password_email_to.delay(email)
    assert len(smtp.wait_for(email, count=4)) == 4


def test_forgot_password_is_rate_limited(make_app):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    statuses = [
        post_form(
            client, "/staff/password/forgot", "/staff/password/forgot", email="a@clinic.example"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_changing_ones_password_keeps_this_session_and_ends_the_others(app, make_staff):
    member_id, email, password = make_staff("marketing")
    here, there = app.test_client(), app.test_client()
    log_in(here, email, password)
    log_in(there, email, password)
    assert there.get("/staff/account").status_code == 200

    new = {"password": "brand new passphrase", "confirm": "brand new passphrase"}
    wrong = post_form(here, "/staff/account", "/staff/account", current="not it", **new)
    assert wrong.status_code == 400
    assert "current password is not right" in wrong.get_data(as_text=True)
    assert there.get("/staff/account").status_code == 200

    changed = post_form(here, "/staff/account", "/staff/account", current=password, **new)
    assert changed.status_code == 302
    assert "Password changed" in here.get("/staff/account").get_data(as_text=True)
    assert there.get("/staff/account").status_code == 302
    assert log_in(app.test_client(), email, "brand new passphrase").status_code == 302
    (event,) = audit_events(app, "staff.password_set")
    assert event.target == f"staff:{member_id}"


@pytest.mark.integration
def test_an_invited_member_chooses_a_password_from_the_email(worker, app, smtp, make_staff):
    admin, _ = admin_client(app, make_staff)
    post_form(
        admin,
        "/staff/team/",
        "/staff/team/",
        email="nina@clinic.example",
        name="Nina",
        role="marketing",
    )
    (invite,) = smtp.wait_for("nina@clinic.example")
    assert invite.subject == f"Your staff account at {app.config['CLINIC_NAME']}"
    assert "Hello Nina" in invite.text
    assert "(marketing)" in invite.text
    assert "List-Unsubscribe" not in invite.message
    assert "staff account here" in invite.text
    path = link(invite.text, "staff/password")
    assert path == link(invite.html, "staff/password")

    client = app.test_client()
    token = csrf_from(client.get(path).get_data(as_text=True))
    chosen = {"csrf_token": token, "password": "nina's passphrase", "confirm": "nina's passphrase"}
    assert client.post(path, data=chosen).headers["Location"] == "/staff/"
    assert log_in(app.test_client(), "nina@clinic.example", "nina's passphrase").status_code == 302

    # Forgot it later: the login page's link mails a new one; the first is spent.
    forgot = app.test_client()
    post_form(
        forgot, "/staff/password/forgot", "/staff/password/forgot", email="Nina@Clinic.example"
    )
    _, reset = smtp.wait_for("nina@clinic.example", count=2)
    assert reset.subject == f"Set a new password for {app.config['CLINIC_NAME']}"
    assert "works for 3 days" in reset.text
    assert client.get(path).status_code == 400
    assert forgot.get(link(reset.text, "staff/password")).status_code == 200


def test_two_admins_deactivating_each_other_at_once_leave_one_admin(app, make_staff):
    import threading

    first, _, _ = make_staff("admin")
    second, _, _ = make_staff("admin")
    barrier = threading.Barrier(2)
    outcomes = {}

    def deactivate(actor: int, target: int) -> None:
        with app.app_context():
            by, staff = db.session.get(Staff, actor), db.session.get(Staff, target)
            barrier.wait()
            try:
                services.set_active(staff, False, by=by)
                db.session.commit()
                outcomes[actor] = "done"
            except services.StaffError as exc:
                db.session.rollback()
                outcomes[actor] = str(exc)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=deactivate, args=(first, second)),
        threading.Thread(target=deactivate, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == [
        "Your account is no longer an active admin account.",
        "done",
    ]
    assert [account(app, first).active, account(app, second).active].count(True) == 1


def test_the_same_address_added_twice_at_once_is_one_account(app, make_staff):
    import threading

    admin_ids = [make_staff("admin")[0] for _ in range(3)]
    barrier = threading.Barrier(3)
    outcomes = []

    def add(actor: int, typed: str) -> None:
        with app.app_context():
            by = db.session.get(Staff, actor)
            barrier.wait()
            try:
                services.invite_staff(typed, Role.RECEPTIONIST, None, by=by)
                db.session.commit()
                outcomes.append("added")
            except services.StaffError as exc:
                db.session.rollback()
                outcomes.append(str(exc))
            finally:
                db.session.remove()

    typed = ["dup@clinic.example", "DUP@clinic.example", "Dup@Clinic.Example"]
    threads = [
        threading.Thread(target=add, args=pair) for pair in zip(admin_ids, typed, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["added"] + ["dup@clinic.example already has an account."] * 2


def test_a_link_used_twice_at_once_sets_one_password(app, make_staff):
    member_id, email, _ = make_staff("receptionist")
    with app.app_context():
        stale = db.session.get(Staff, member_id)
        db.session.expunge(stale)
    with app.app_context():
        services.set_password(db.session.merge(stale, load=False), "first passphrase!")
        db.session.commit()
    with app.app_context():  # the second use still holds the old password's row
        with pytest.raises(services.StaffError, match="spent"):
            services.set_password(db.session.merge(stale, load=False), "second passphrase")
        db.session.rollback()
    assert log_in(app.test_client(), email, "first passphrase!").status_code == 302


def test_active_must_be_zero_or_one(app, make_staff):
    client, _ = admin_client(app, make_staff)
    member_id, _, _ = make_staff("receptionist")
    for value in ("true", "yes", "1 ", ""):
        response = post_form(
            client, "/staff/team/", f"/staff/team/{member_id}/active", active=value
        )
        assert response.status_code == 400, value
    assert account(app, member_id).active is True


def test_no_password_link_goes_to_a_deactivated_account(app, make_staff):
    client, _ = admin_client(app, make_staff)
    member_id, _, _ = make_staff("receptionist")
    update_account(app, member_id, active=False)
    response = post_form(client, "/staff/team/", f"/staff/team/{member_id}/password-link")
    assert response.status_code == 303
    assert "reactivate them first" in client.get("/staff/team/").get_data(as_text=True)
    assert audit_events(app, "staff.password_link_sent") == []


def test_the_staff_page_gives_each_element_its_own_id(app, make_staff):
    client, _ = admin_client(app, make_staff)
    make_staff("receptionist")
    make_staff("marketing")
    page = client.get("/staff/team/").get_data(as_text=True)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) > 10
    assert sorted(i for i in set(ids) if ids.count(i) > 1) == []
    # Every form still carries its CSRF token.
    assert page.count('name="csrf_token"') == page.count("<form")
