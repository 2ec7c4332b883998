"""The admin's staff page in a real browser: invite, set a password, change, deactivate."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from campaign.extensions import db
from campaign.staff import services
from campaign.staff.models import Role, Staff
from tests.browser.conftest import PHONE, log_in, open_page
from tests.test_integration import link

pytestmark = pytest.mark.browser

# Left behind for a person to look at the phone layout (/tmp/team-phone.png).
SCREENSHOT = Path(tempfile.gettempdir()) / "team-phone.png"
PASSWORD = "sea salt and lavender"
# What the "Last login" column shows (clinic time) once someone has logged in.
LOGIN_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")


def fits_the_screen(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"


def ends_on_screen(locator: Locator) -> None:
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["viewport"]["width"], f"off the screen: {box}"


def log_in_as_admin(page: Page, live_server: str, make_staff) -> tuple[int, str]:
    admin_id, email, password = make_staff("admin", "Olga Owner")
    log_in(page, live_server, email, password, "/staff/")
    return admin_id, email


def open_team(page: Page, live_server: str) -> None:
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Staff").click()
    expect(page).to_have_url(f"{live_server}/staff/team/")
    expect(page.get_by_role("heading", name="Staff accounts", exact=True)).to_be_visible()


def row_of(page: Page, staff_id: int):
    return page.locator(f"#staff-{staff_id}")


def password_link(app, staff_id: int) -> str:
    with app.app_context():
        token = services.password_link_token(db.session.get(Staff, staff_id))
        db.session.remove()
    return f"/staff/password/{token}"


@pytest.mark.integration
def test_an_invited_receptionist_sets_a_password_from_the_email_on_a_phone(
    desktop: Page, phone: Page, live_server, make_staff, smtp, worker
):
    address = f"maria-{uuid.uuid4().hex[:6]}@clinic.example"
    admin = desktop
    log_in_as_admin(admin, live_server, make_staff)
    open_team(admin, live_server)

    admin.fill("#email", address)
    admin.fill("#name", "Maria Lopez")
    admin.select_option("#role", "receptionist")
    admin.get_by_role("button", name="Add and send the invitation").click()
    expect(admin).to_have_url(f"{live_server}/staff/team/")
    expect(admin.get_by_role("status")).to_have_text(
        f"Added {address}: they have been emailed a link to choose a password."
    )
    row = admin.locator("table.team tbody tr", has_text=address)
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("Maria Lopez")
    expect(row.get_by_role("combobox")).to_have_value("receptionist")
    expect(row.locator("td").nth(3)).to_have_text("never")
    expect(row.locator(".badge")).to_have_text("active")
    # The form is empty again, ready for the next person.
    expect(admin.locator("#email")).to_have_value("")

    (invite,) = smtp.wait_for(address)
    assert invite.subject == "Your staff account at Harbour Massage Clinic"
    assert "Hello Maria Lopez" in invite.text
    path = link(invite.text, "staff/password")

    # The new person, on their own phone, opens the link.
    page = phone
    page.goto(f"{live_server}{path}")
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"For {address}.")
    expect(page.locator("main")).to_contain_text("At least 10 characters")
    expect(page.locator("#password")).to_be_focused()

    # Too short: the browser refuses it at once and says why (its bubble's text).
    page.fill("#password", "short")
    page.fill("#confirm", "short")
    page.get_by_role("button", name="Save and log in").click()
    message = page.locator("#password").evaluate("el => el.validationMessage")
    assert "10 characters" in message, message
    expect(page).to_have_url(f"{live_server}{path}")

    # Long enough but typed differently twice: the server says so.
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD + "!")
    page.get_by_role("button", name="Save and log in").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    expect(page).to_have_url(f"{live_server}{path}")

    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Save and log in").click()
    expect(page).to_have_url(f"{live_server}/desk")
    expect(page.get_by_role("status").first).to_have_text("Your password is set. Welcome!")
    expect(page.get_by_role("button", name="Log out Maria Lopez")).to_be_visible()
    expect(page.locator("#today-list")).to_have_text("None yet.")


def test_a_role_change_and_a_deactivation_take_effect_in_the_members_browser(
    desktop: Page, phone: Page, live_server, make_staff
):
    member_id, member_email, member_password = make_staff("receptionist", "Rita Desk")
    member = phone
    log_in(member, live_server, member_email, member_password, "/desk")
    assert member.goto(f"{live_server}/staff/campaigns/").status == 403

    admin = desktop
    log_in_as_admin(admin, live_server, make_staff)
    open_team(admin, live_server)
    row = row_of(admin, member_id)
    expect(row.locator("td").first).to_have_text("Rita Desk")
    # Logged in with the form a moment ago: the table says when.
    expect(row.locator("td").nth(3)).to_have_text(LOGIN_TIME)

    admin.select_option(f"#role-{member_id}", "marketing")
    row.get_by_role("button", name="Change").click()
    expect(admin.get_by_role("status")).to_have_text(f"{member_email} is now marketing.")
    expect(admin.locator(f"#role-{member_id}")).to_have_value("marketing")
    # The member's open session has the new role on its next page.
    assert member.goto(f"{live_server}/staff/campaigns/").status == 200
    expect(member.get_by_role("heading", name="Newsletters")).to_be_visible()

    row.get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_role("status")).to_have_text(
        f"{member_email} deactivated: logged out, API tokens stopped."
    )
    expect(row).to_have_class(re.compile(r"\binactive\b"))
    expect(row.locator(".badge")).to_have_text("deactivated")
    expect(row.get_by_role("button", name="Reactivate")).to_be_visible()
    expect(row.get_by_role("button", name="Email a password link")).to_have_count(0)
    expect(admin.locator(f"#role-{member_id}")).to_have_value("marketing")

    # The member's page goes to the login form on its next navigation.
    member.get_by_role("link", name="Desk").click()
    expect(member).to_have_url(re.compile(rf"^{re.escape(live_server)}/staff/login\?next="))
    expect(member.get_by_role("button", name="Log in")).to_be_visible()
    expect(member.get_by_role("button", name="Log out Rita Desk")).to_have_count(0)


def test_the_staff_and_set_password_pages_fit_a_phone(
    phone: Page, browser: Browser, app, live_server, make_staff
):
    member_id, _, _ = make_staff("marketing", "Maria Lopez-Hernandez")
    make_staff("receptionist")
    page = phone
    admin_id, admin_email = log_in_as_admin(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/team/")
    expect(page.locator("table.team tbody tr")).to_have_count(3)
    fits_the_screen(page)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # Another member's row has the controls...
    other = row_of(page, member_id)
    for control in (
        other.get_by_role("combobox", name="Role of"),
        other.get_by_role("button", name="Change"),
        other.get_by_role("button", name="Deactivate"),
        other.get_by_role("button", name="Email a password link"),
    ):
        expect(control).to_be_visible()
        ends_on_screen(control)
    # ...and the admin's own row none: it says "you" and shows the role as text.
    mine = row_of(page, admin_id)
    expect(mine).to_contain_text(admin_email)
    expect(mine.locator(".badge", has_text="you")).to_be_visible()
    expect(mine.locator("td").nth(2)).to_have_text("admin")
    expect(mine.locator("select, button, form")).to_have_count(0)

    # The add form fits too.
    for field in ("#email", "#name", "#role"):
        expect(page.locator(field)).to_be_visible()
    ends_on_screen(page.get_by_role("button", name="Add and send the invitation"))

    with open_page(browser, PHONE) as fresh:
        fresh.goto(f"{live_server}{password_link(app, member_id)}")
        expect(fresh.get_by_role("heading", name="Choose your password")).to_be_visible()
        fits_the_screen(fresh)
        for field in ("#password", "#confirm"):
            expect(fresh.locator(field)).to_be_in_viewport()
        expect(fresh.get_by_role("button", name="Save and log in")).to_be_in_viewport()


def test_being_logged_in_by_a_password_link_shows_as_a_login(
    desktop: Page, phone: Page, app, live_server, make_staff
):
    member_id, _, _ = make_staff("receptionist", "Maria Lopez")
    admin = desktop
    log_in_as_admin(admin, live_server, make_staff)
    open_team(admin, live_server)
    last_login = row_of(admin, member_id).locator("td").nth(3)
    expect(last_login).to_have_text("never")

    page = phone
    page.goto(f"{live_server}{password_link(app, member_id)}")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Save and log in").click()
    expect(page).to_have_url(f"{live_server}/desk")
    expect(page.get_by_role("button", name="Log out Maria Lopez")).to_be_visible()

    # She is logged in and working at the desk: the admin's table must not say "never".
    admin.reload()
    expect(last_login).to_have_text(LOGIN_TIME)


def test_a_long_address_does_not_widen_the_staff_page_on_a_phone(
    phone: Page, app, live_server, make_staff
):
    # A real clinic address: 48 characters and no hyphen to break the line at.
    address = "maria.lopezhernandez@harbourmassageclinic.co.uk"
    with app.app_context():
        member = services.create_staff(address, Role.RECEPTIONIST, PASSWORD, name="Maria")
        db.session.commit()
        member_id = member.id
        db.session.remove()
    page = phone
    log_in_as_admin(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/team/")
    expect(row_of(page, member_id)).to_contain_text(address)
    fits_the_screen(page)
    ends_on_screen(row_of(page, member_id).get_by_role("button", name="Email a password link"))
