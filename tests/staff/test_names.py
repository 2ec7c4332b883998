"""The name at the desk: everyone sets their own under My account, admins anyone's
on the staff page; the rules are those of a new account's name, and each change is
audited.

Requests run in app contexts of their own (no ``ctx`` fixture), as in test_team.py.
"""

import re

import pytest

from tests.staff.helpers import log_in
from tests.staff.test_team import account, admin_client, audit_events, post_form


def logged_in(app, make_staff, role: str = "receptionist", name: str | None = None):
    client = app.test_client()
    staff_id, email, password = make_staff(role, name)
    log_in(client, email, password)
    return client, staff_id, email


def test_anyone_sets_their_own_name_under_my_account(app, make_staff):
    client, staff_id, email = logged_in(app, make_staff)  # made with no name
    page = client.get("/staff/account").get_data(as_text=True)
    assert email.partition("@")[0] in page  # what the desk says until a name is set
    assert 'action="/staff/account/name"' in page

    response = post_form(client, "/staff/account", "/staff/account/name", name="  Maria   Lopez ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/account"
    assert account(app, staff_id).name == "Maria Lopez"
    page = client.get("/staff/account").get_data(as_text=True)
    assert "Your name at the desk is now Maria Lopez." in page
    assert re.search(r'<input[^>]*id="name"[^>]*value="Maria Lopez"', page)
    (event,) = audit_events(app, "staff.renamed")
    assert (event.staff_id, event.target) == (staff_id, f"staff:{staff_id}")
    assert event.details == {"name": "Maria Lopez"}


def test_a_blank_name_goes_back_to_the_start_of_the_email(app, make_staff):
    client, staff_id, email = logged_in(app, make_staff, name="Rita Desk")
    post_form(client, "/staff/account", "/staff/account/name", name="   ")
    assert account(app, staff_id).name is None
    assert account(app, staff_id).display_name == email.partition("@")[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [("x" * 101, "100"), ("Bo\x07b", "not allowed"), ("Bo\u200bb", "not allowed")],
)
def test_a_bad_name_is_refused_with_the_reason_and_nothing_written(app, make_staff, name, message):
    client, staff_id, _ = logged_in(app, make_staff, name="Rita Desk")
    response = post_form(client, "/staff/account", "/staff/account/name", name=name)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(rf'<div class="alert error" role="alert" id="name-error">[^<]*{message}', page)
    field = re.search(r'<input[^>]*id="name"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field
    assert "autofocus" in field
    assert account(app, staff_id).name == "Rita Desk"
    assert audit_events(app, "staff.renamed") == []


def test_an_admin_renames_a_member_on_the_staff_page(app, make_staff):
    admin, admin_id = admin_client(app, make_staff)
    member_id, email, _ = make_staff("receptionist")
    page = admin.get("/staff/team/").get_data(as_text=True)
    assert f'action="/staff/team/{member_id}/name"' in page
    assert f'action="/staff/team/{admin_id}/name"' not in page  # one's own: My account

    response = post_form(admin, "/staff/team/", f"/staff/team/{member_id}/name", name=" Maria ")
    assert response.status_code == 303
    assert account(app, member_id).name == "Maria"
    assert f"{email} is shown at the desk as Maria." in admin.get("/staff/team/").get_data(
        as_text=True
    )
    (event,) = audit_events(app, "staff.renamed")
    assert (event.staff_id, event.target) == (admin_id, f"staff:{member_id}")


def test_the_staff_page_refuses_a_bad_name_and_keeps_the_old_one(app, make_staff):
    admin, _ = admin_client(app, make_staff)
    member_id, _, _ = make_staff("receptionist", "Rita Desk")
    for name, message in (("x" * 101, "100 characters"), ("Bo\x07b", "not allowed")):
        response = post_form(admin, "/staff/team/", f"/staff/team/{member_id}/name", name=name)
        assert response.status_code == 303
        assert message in admin.get("/staff/team/").get_data(as_text=True)
    assert account(app, member_id).name == "Rita Desk"


def test_only_admins_rename_others(app, make_staff):
    member_id, _, _ = make_staff("receptionist", "Rita Desk")
    for role in ("receptionist", "marketing"):
        client, _, _ = logged_in(app, make_staff, role)
        response = post_form(client, "/staff/account", f"/staff/team/{member_id}/name", name="X")
        assert response.status_code == 403
    assert account(app, member_id).name == "Rita Desk"
