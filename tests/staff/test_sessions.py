"""Staff login sessions are rows: logging out ends one for good, copies of its cookie
included, and *My account* lists them and ends any one.

Requests run in app contexts of their own (no ``ctx`` fixture), as in test_team.py.
"""

import re
from datetime import timedelta

from sqlalchemy import select, update

from campaign.database import utcnow
from campaign.extensions import db
from campaign.staff.models import StaffSession
from campaign.staff.sessions import device_label
from tests.staff.helpers import csrf_from, log_in
from tests.staff.test_team import audit_events, post_form

PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
LAPTOP = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15"
)


def client_as(app, user_agent: str):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def copy_of(app, client):
    """Another browser holding the same session cookie (a copied or stolen one)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def stored_sessions(app, staff_id: int) -> list[StaffSession]:
    with app.app_context():
        rows = db.session.scalars(
            select(StaffSession).filter_by(staff_id=staff_id).order_by(StaffSession.id)
        ).all()
        db.session.expunge_all()
        return rows


def test_logging_out_ends_every_copy_of_the_session_cookie(app, make_staff):
    staff_id, email, password = make_staff("receptionist")
    desk = app.test_client()
    log_in(desk, email, password)
    copy = copy_of(app, desk)
    assert copy.get("/desk").status_code == 200

    page = desk.get("/desk").get_data(as_text=True)
    desk.post("/staff/logout", data={"csrf_token": csrf_from(page)})

    assert desk.get("/desk").status_code == 302
    assert copy.get("/desk").status_code == 302
    assert copy.get("/api/v1/desk/redemptions").status_code == 401
    assert stored_sessions(app, staff_id) == []


def test_the_account_page_lists_the_devices_and_ends_any_one(app, make_staff):
    staff_id, email, password = make_staff("marketing")
    phone, laptop = client_as(app, PHONE), client_as(app, LAPTOP)
    log_in(phone, email, password)
    log_in(laptop, email, password)

    page = laptop.get("/staff/account").get_data(as_text=True)
    listed = page.split('id="sessions"')[1].split("</table>")[0]
    assert "Chrome on Android" in listed
    assert "Safari on Mac" in listed
    assert listed.count("this device") == 1
    assert listed.count(">Log out</button>") == 1  # the phone's; this one logs out above

    phone_session, _ = stored_sessions(app, staff_id)
    ended = post_form(laptop, "/staff/account", f"/staff/account/sessions/{phone_session.id}/end")
    assert ended.status_code == 302
    assert "Logged out on that device" in laptop.get("/staff/account").get_data(as_text=True)
    assert phone.get("/staff/").status_code == 302
    assert laptop.get("/staff/").status_code == 200
    (event,) = audit_events(app, "staff.session_ended")
    assert (event.staff_id, event.target) == (staff_id, f"session:{phone_session.id}")


def test_no_one_ends_another_accounts_session(app, make_staff):
    victim_id, victim_email, victim_password = make_staff("admin")
    _, email, password = make_staff("receptionist")
    victim, other = app.test_client(), app.test_client()
    log_in(victim, victim_email, victim_password)
    log_in(other, email, password)
    (victim_session,) = stored_sessions(app, victim_id)

    response = post_form(
        other, "/staff/account", f"/staff/account/sessions/{victim_session.id}/end"
    )

    assert response.status_code == 302
    assert "That login has already ended" in other.get("/staff/account").get_data(as_text=True)
    assert victim.get("/staff/").status_code == 200
    assert [row.id for row in stored_sessions(app, victim_id)] == [victim_session.id]
    assert audit_events(app, "staff.session_ended") == []


def test_ending_this_devices_session_from_the_list_logs_out(app, make_staff):
    staff_id, email, password = make_staff("receptionist")
    client = app.test_client()
    log_in(client, email, password)
    (this,) = stored_sessions(app, staff_id)

    response = post_form(client, "/staff/account", f"/staff/account/sessions/{this.id}/end")

    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/account").status_code == 302
    assert stored_sessions(app, staff_id) == []


def test_a_session_unused_for_the_idle_limit_has_ended_and_is_cleared_at_next_login(
    app, make_staff
):
    staff_id, email, password = make_staff("receptionist")
    forgotten, today = app.test_client(), app.test_client()
    log_in(forgotten, email, password)
    idle_days = app.config["STAFF_SESSION_IDLE_DAYS"]
    with app.app_context():
        db.session.execute(
            update(StaffSession).values(last_seen_at=utcnow() - timedelta(days=idle_days, hours=1))
        )
        db.session.commit()

    assert forgotten.get("/staff/").status_code == 302
    log_in(today, email, password)
    assert len(stored_sessions(app, staff_id)) == 1
    assert today.get("/staff/").status_code == 200


def test_a_session_in_use_is_stamped_at_most_once_a_minute(app, make_staff):
    staff_id, email, password = make_staff("receptionist")
    client = app.test_client()
    log_in(client, email, password)
    long_ago = utcnow() - timedelta(hours=3)
    with app.app_context():
        db.session.execute(update(StaffSession).values(last_seen_at=long_ago))
        db.session.commit()

    client.get("/desk")
    (seen,) = stored_sessions(app, staff_id)
    assert seen.last_seen_at > long_ago + timedelta(hours=2)
    client.get("/desk")
    (again,) = stored_sessions(app, staff_id)
    assert again.last_seen_at == seen.last_seen_at


def test_a_cookie_from_before_sessions_had_keys_logs_in_afresh(app, make_staff):
    staff_id, email, password = make_staff("receptionist")
    client = app.test_client()
    log_in(client, email, password)
    with app.app_context():
        serializer = app.session_interface.get_signing_serializer(app)
        cookie = serializer.loads(client.get_cookie("session").value)
        staff_id_part, fingerprint, _key = cookie["_user_id"].split(":")
        cookie["_user_id"] = f"{staff_id_part}:{fingerprint}"  # what a cookie held before
        old = serializer.dumps(cookie)
    upgraded = app.test_client()
    upgraded.set_cookie("session", old)

    assert upgraded.get("/staff/").status_code == 302
    assert client.get("/staff/").status_code == 200


def test_deactivation_and_password_changes_clear_the_list(app, make_staff):
    staff_id, email, password = make_staff("marketing")
    here, there = app.test_client(), app.test_client()
    log_in(here, email, password)
    log_in(there, email, password)
    new = {"password": "brand new passphrase", "confirm": "brand new passphrase"}
    post_form(here, "/staff/account", "/staff/account", current=password, **new)
    assert len(stored_sessions(app, staff_id)) == 1
    assert here.get("/staff/account").status_code == 200
    assert there.get("/staff/account").status_code == 302

    _, admin_email, admin_password = make_staff("admin")
    admin = app.test_client()
    log_in(admin, admin_email, admin_password)
    post_form(admin, "/staff/team/", f"/staff/team/{staff_id}/active", active="0")
    assert stored_sessions(app, staff_id) == []
    assert here.get("/staff/").status_code == 302


def test_log_out_everywhere_else_keeps_only_this_row(app, make_staff):
    staff_id, email, password = make_staff("receptionist")
    clients = [app.test_client() for _ in range(3)]
    for client in clients:
        log_in(client, email, password)
    post_form(clients[0], "/staff/account", "/staff/account/sessions")
    assert len(stored_sessions(app, staff_id)) == 1
    page = clients[0].get("/staff/account").get_data(as_text=True)
    assert "this device" in page
    assert "Log out everywhere else" not in page  # nowhere else is left
    assert clients[0].get("/staff/").status_code == 200
    assert all(client.get("/staff/").status_code == 302 for client in clients[1:])


def test_device_labels():
    assert device_label(PHONE) == "Chrome on Android"
    assert device_label(LAPTOP) == "Safari on Mac"
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36 Edg/131.0"
    assert device_label(edge) == "Edge on Windows"
    ipad_firefox = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) FxiOS/132.0 Mobile/15E148"
    assert device_label(ipad_firefox) == "Firefox on iPad"
    assert device_label("curl/8.5.0") == "Unknown device"
    assert device_label(None) == "Unknown device"


def desk_token(client) -> str:
    page = client.get("/desk").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_the_desk_limit_is_per_account_whichever_login_calls(make_app, make_staff):
    """DESK_RATE_LIMIT counts per staff account and IP: a second login of the same
    account on the same desk does not get a budget of its own."""
    app = make_app(DESK_RATE_LIMIT="2 per minute")
    _, email, password = make_staff("receptionist")
    first, second = app.test_client(), app.test_client()
    log_in(first, email, password)
    log_in(second, email, password)
    # A session's look-up carries the desk page's CSRF token, as desk.js sends it.
    headers = {client: {"X-CSRFToken": desk_token(client)} for client in (first, second)}
    statuses = [
        first.get("/api/v1/coupons/0000-0000-0000", headers=headers[first]).status_code
        for _ in range(2)
    ]
    assert 429 not in statuses
    answer = second.get("/api/v1/coupons/0000-0000-0000", headers=headers[second])
    assert answer.status_code == 429
