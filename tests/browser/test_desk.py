"""The front desk in a real browser, at phone size: look up, redeem, re-check, undo."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE as PHONE_SETTINGS
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

# Left behind for a person to look at the phone layout (/tmp/desk-redeemed.png).
SCREENSHOT = Path(tempfile.gettempdir()) / "desk-redeemed.png"
# A subscriber "Ann" with a guest-...@example.com address, as issue_coupon makes.
MASKED_GUEST = "A***, g***@e***.com"


def log_in_at_desk(page: Page, live_server: str, make_staff) -> None:
    _, email, password = make_staff("receptionist", "Rita Desk")
    log_in(page, live_server, email, password, "/desk")
    # The day's list is loaded by the script: proof that it ran.
    expect(page.locator("#today-list")).to_have_text("None yet.")
    expect(page.locator("#result")).to_be_hidden()


def check(page: Page, text: str) -> None:
    page.fill("#code", text)
    page.press("#code", "Enter")


def fits_the_screen(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"


def code_fits_its_box(page: Page) -> None:
    hidden = page.locator("#code").evaluate("el => el.scrollWidth - el.clientWidth")
    assert hidden <= 0, f"{hidden}px of the typed code are cut off in the box"


def test_redeem_recheck_and_undo(phone: Page, live_server, make_staff, issue_coupon):
    code = issue_coupon()
    page = phone
    # A fake clock: the page ignores one code submitted twice within 2 s (a scanner's
    # double fire), and the test moves time on instead of sleeping.
    page.clock.install()
    log_in_at_desk(page, live_server, make_staff)
    result = page.locator("#result")
    title = page.locator("#result-title")
    redeem = page.locator("#redeem-button")
    undo = page.locator("#undo-button")

    check(page, code)
    expect(result).to_have_attribute("data-state", "valid")
    expect(title).to_have_text("Valid coupon")
    expect(result).to_contain_text(code)
    expect(result).to_contain_text(MASKED_GUEST)
    expect(result).to_contain_text("Free massage oil")
    expect(redeem).to_be_visible()
    expect(undo).to_be_hidden()
    fits_the_screen(page)
    code_fits_its_box(page)

    redeem.tap()
    expect(result).to_have_attribute("data-state", "redeemed")
    expect(title).to_have_text("Redeemed \u2713")
    expect(result).to_contain_text(MASKED_GUEST)
    expect(result).to_contain_text(re.compile(r"Used.+by Rita Desk"))
    expect(redeem).to_be_hidden()
    expect(undo).to_be_visible()
    today = page.locator("#today-list li")
    expect(today).to_have_count(1)
    expect(today.first).to_contain_text(code)
    expect(today.first).to_contain_text(MASKED_GUEST)
    expect(today.first.get_by_role("button", name="Undo")).to_be_visible()
    # Big, clear state on a phone: the title and the Undo button are on screen.
    expect(title).to_be_in_viewport()
    expect(undo).to_be_in_viewport()
    assert title.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 28
    fits_the_screen(page)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # The same code again at once is taken for a scanner firing twice: ignored.
    check(page, code)
    page.wait_for_timeout(300)
    expect(result).to_have_attribute("data-state", "redeemed")

    # Later, a second check of the same code says it is used, and while the undo
    # window is open the card offers Undo (tested in test_undo_from_the_already_used_card).
    page.clock.fast_forward(2100)
    check(page, code)
    expect(result).to_have_attribute("data-state", "already_redeemed")
    expect(title).to_have_text("Already used")
    expect(result).to_contain_text(re.compile(r"Used.+by Rita Desk"))
    expect(redeem).to_be_hidden()
    expect(undo).to_be_visible()

    # Undo from the day's list.
    today.first.get_by_role("button", name="Undo").tap()
    expect(result).to_have_attribute("data-state", "undone")
    expect(title).to_have_text("Redemption undone")
    expect(result).to_contain_text("The coupon can be used again.")
    expect(today).to_have_count(1)
    expect(today.first).to_contain_text(f"{code} \u00b7 {MASKED_GUEST} (undone)")
    expect(today.first.get_by_role("button", name="Undo")).to_have_count(0)

    # The coupon is valid again, as a fresh check shows.
    page.clock.fast_forward(2100)
    check(page, code)
    expect(result).to_have_attribute("data-state", "valid")
    expect(redeem).to_be_visible()


def test_times_are_the_clinics_whatever_the_tablets_clock(
    browser, live_server, make_staff, issue_coupon
):
    """The clinic is in London; this tablet's clock is set to Tokyo (nine hours on)."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.browser.conftest import PHONE, open_page

    code = issue_coupon()
    with open_page(browser, {**PHONE, "timezone_id": "Asia/Tokyo"}) as page:
        log_in_at_desk(page, live_server, make_staff)
        before = datetime.now(UTC)
        check(page, code)
        page.locator("#redeem-button").tap()
        used = page.locator("#result dd", has_text="by Rita Desk")
        expect(used).to_be_visible()
        after = datetime.now(UTC)
        # Every minute from the check to now: a slow redemption can land in the one
        # between (the set of the first and one past the last missed 15:38).
        minutes = int((after - before).total_seconds() // 60) + 2
        london = {
            (before + timedelta(minutes=step))
            .astimezone(ZoneInfo("Europe/London"))
            .strftime("%H:%M")
            for step in range(minutes)
        }
        shown = re.search(r"\d\d:\d\d", used.inner_text()).group(0)
        assert shown in london, f"{shown} is not London's time ({london})"
        expect(page.locator("#today-list li").first).to_contain_text(shown)


def test_code_typed_lower_case_without_dashes(phone: Page, live_server, make_staff, issue_coupon):
    code = issue_coupon()
    page = phone
    log_in_at_desk(page, live_server, make_staff)
    result = page.locator("#result")

    check(page, code.lower().replace("-", ""))
    expect(result).to_have_attribute("data-state", "valid")
    expect(page.locator("#result-title")).to_have_text("Valid coupon")
    # The answer shows the code in its display form.
    expect(result).to_contain_text(code)
    expect(result).to_contain_text(MASKED_GUEST)

    page.locator("#redeem-button").tap()
    expect(result).to_have_attribute("data-state", "redeemed")
    # Undo right after redeeming, with the button in the result.
    page.locator("#undo-button").tap()
    expect(result).to_have_attribute("data-state", "undone")
    today = page.locator("#today-list li")
    expect(today).to_have_count(1)
    expect(today.first).to_contain_text(f"{code} \u00b7 {MASKED_GUEST} (undone)")


def test_invalid_code(phone: Page, live_server, make_staff):
    page = phone
    log_in_at_desk(page, live_server, make_staff)
    result = page.locator("#result")

    check(page, "AAAA-BBBB-CCCC-DDDD")
    expect(result).to_have_attribute("data-state", "invalid_code")
    expect(page.locator("#result-title")).to_have_text("Not a valid code")
    expect(result).to_contain_text("This is not a valid coupon code.")
    expect(page.locator("#redeem-button")).to_be_hidden()
    expect(page.locator("#undo-button")).to_be_hidden()
    expect(page.locator("#today-list")).to_have_text("None yet.")
    fits_the_screen(page)

    # Cut short in a copy: the answer says what is wrong with it.
    check(page, "11ZB-1A5M")
    expect(result).to_contain_text("Coupon codes have 16 characters; this has 8.")
    expect(result).not_to_contain_text("typos")


def test_lost_connection_is_shown(phone: Page, live_server, make_staff, issue_coupon):
    code = issue_coupon()
    page = phone
    log_in_at_desk(page, live_server, make_staff)
    result = page.locator("#result")
    page.route("**/api/v1/coupons/**", lambda route: route.abort("internetdisconnected"))

    check(page, code)
    expect(result).to_have_attribute("data-state", "error")
    expect(page.locator("#result-title")).to_have_text("Something went wrong")
    expect(result).to_contain_text("No connection to the server.")
    expect(page.locator("#redeem-button")).to_be_hidden()

    # Back online, the same code can be checked again at once.
    page.unroute("**/api/v1/coupons/**")
    page.click("#lookup-button")
    expect(result).to_have_attribute("data-state", "valid")


# A phone with its on-screen keyboard open: the browser's viewport shrinks to this.
KEYBOARD_OPEN = {**PHONE_SETTINGS, "viewport": {"width": 390, "height": 480}}


def test_the_result_comes_into_view_with_the_keyboard_open(
    browser, live_server, make_staff, issue_coupon
):
    from tests.browser.conftest import open_page

    code = issue_coupon()
    with open_page(browser, KEYBOARD_OPEN) as page:
        log_in_at_desk(page, live_server, make_staff)
        assert page.evaluate("window.scrollY") == 0
        check(page, code)
        redeem = page.locator("#redeem-button")
        expect(page.locator("#result")).to_have_attribute("data-state", "valid")
        expect(redeem).to_be_in_viewport(ratio=1)
        expect(page.locator("#result-title")).to_be_in_viewport()
        # Scrolled, and Redeem focused, so Enter redeems (a scan still types into the
        # code box: tests/browser/test_desk_keyboard.py).
        expect(redeem).to_be_focused()

        redeem.tap()
        expect(page.locator("#result")).to_have_attribute("data-state", "redeemed")
        expect(page.locator("#undo-button")).to_be_in_viewport(ratio=1)
        expect(page.locator("#code")).to_be_focused()


def test_undo_from_the_already_used_card(phone: Page, live_server, make_staff, issue_coupon):
    code = issue_coupon()
    page = phone
    page.clock.install()
    log_in_at_desk(page, live_server, make_staff)
    result = page.locator("#result")
    undo = page.locator("#undo-button")

    check(page, code)
    page.locator("#redeem-button").tap()
    expect(result).to_have_attribute("data-state", "redeemed")
    page.clock.fast_forward(2100)
    check(page, code)
    expect(result).to_have_attribute("data-state", "already_redeemed")
    expect(undo).to_be_visible()
    expect(undo).to_be_in_viewport()
    undo.tap()
    expect(result).to_have_attribute("data-state", "undone")
    expect(page.locator("#today-list li").first).to_contain_text(
        f"{code} \u00b7 {MASKED_GUEST} (undone)"
    )

    # Redeemed again, then checked after the 15 minutes: no Undo any more.
    page.clock.fast_forward(2100)
    check(page, code)
    page.locator("#redeem-button").tap()
    expect(result).to_have_attribute("data-state", "redeemed")
    page.clock.fast_forward("15:01")
    check(page, code)
    expect(result).to_have_attribute("data-state", "already_redeemed")
    expect(undo).to_be_hidden()


def test_no_undo_on_a_coupon_someone_else_used(
    phone: Page, live_server, make_staff, api_token, issue_coupon
):
    import requests

    code = issue_coupon()
    other_desk = {"Authorization": f"Bearer {api_token('receptionist', name='Olga Other')}"}
    page = phone
    log_in_at_desk(page, live_server, make_staff)
    # Used by the other desk after this page loaded its list.
    used = requests.post(
        f"{live_server}/api/v1/coupons/{code}/redeem", headers=other_desk, timeout=10
    )
    assert used.status_code == 200
    check(page, code)
    expect(page.locator("#result")).to_have_attribute("data-state", "already_redeemed")
    expect(page.locator("#result")).to_contain_text("by Olga Other")
    expect(page.locator("#undo-button")).to_be_hidden()


def test_opening_invalid_code_links_does_not_lock_the_desk(
    phone: Page, live_server, make_staff, issue_coupon
):
    """A page on another site can send the desk's browser to API addresses (the
    SameSite=Lax cookie goes along on a navigation): more invalid codes than the
    lockout's burst (10), then the desk still checks codes."""
    code = issue_coupon()
    page = phone
    log_in_at_desk(page, live_server, make_staff)
    for i in range(12):
        answer = page.goto(f"{live_server}/api/v1/coupons/ZZZZ-ZZZZ-ZZZZ-ZZ{i:02d}")
        assert answer.status != 423, "the desk was locked out"
    assert answer.json()["error"]["code"] == "csrf_failed"
    page.goto(f"{live_server}/desk")
    check(page, code)
    expect(page.locator("#result")).to_have_attribute("data-state", "valid")
