"""The front desk with a keyboard or a wedge scanner, in another locale, and a void coupon."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, log_in, open_page

pytestmark = pytest.mark.browser

CLINIC_ZONE = ZoneInfo("Europe/London")  # the tests' CLINIC_TIMEZONE


def at_desk(page: Page, live_server: str, make_staff) -> None:
    _, email, password = make_staff("receptionist", "Rita Desk")
    log_in(page, live_server, email, password, "/desk")
    expect(page.locator("#today-list")).to_have_text("None yet.")


def check(page: Page, text: str) -> None:
    page.fill("#code", text)
    page.press("#code", "Enter")


def as_other_staff_pages_write_it(iso: str) -> str:
    """The API's UTC time as the staff pages write it: "1 March 2027, 23:59"."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(CLINIC_ZONE)
    return moment.strftime("%-d %B %Y, %H:%M")


def status_of(live_server: str, token: str, code: str) -> str:
    answer = requests.get(
        f"{live_server}/api/v1/coupons/{code}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return answer.json()["status"]


def test_enter_after_a_good_check_redeems(phone: Page, live_server, make_staff, issue_coupon):
    code = issue_coupon()
    page = phone
    at_desk(page, live_server, make_staff)
    redeem = page.locator("#redeem-button")

    check(page, code)
    expect(page.locator("#result")).to_have_attribute("data-state", "valid")
    expect(page.locator("#result-news")).to_have_text("Valid coupon: Free massage oil")
    expect(redeem).to_be_focused()
    assert redeem.evaluate("el => el.matches(':focus-visible')"), "no focus outline on Redeem"

    page.keyboard.press("Enter")
    expect(page.locator("#result")).to_have_attribute("data-state", "redeemed")
    # Back in the box for the next code.
    expect(page.locator("#code")).to_be_focused()
    expect(page.locator("#today-list li")).to_have_count(1)


def test_a_code_scanned_while_redeem_has_the_focus_is_looked_up_not_redeemed(
    phone: Page, live_server, make_staff, issue_coupon, api_token
):
    first, second = issue_coupon(), issue_coupon()
    token = api_token("receptionist")
    page = phone
    at_desk(page, live_server, make_staff)
    result = page.locator("#result")

    check(page, first)
    expect(page.locator("#redeem-button")).to_be_focused()
    # A keyboard-wedge scanner types into whatever has the focus, then presses Enter.
    page.keyboard.type(second.replace("-", ""), delay=5)
    page.keyboard.press("Enter")
    expect(result).to_have_attribute("data-state", "valid")
    expect(result).to_contain_text(second)
    expect(page.locator("#code")).to_have_value(second.replace("-", ""))
    expect(page.locator("#redeem-button")).to_be_focused()

    # The first coupon scanned again: checked again, not redeemed.
    page.keyboard.type(first, delay=5)
    page.keyboard.press("Enter")
    expect(result).to_contain_text(first)
    expect(result).to_have_attribute("data-state", "valid")
    assert status_of(live_server, token, first) == "issued"
    assert status_of(live_server, token, second) == "issued"
    expect(page.locator("#today-list")).to_have_text("None yet.")


def slow_network(page: Page, latency_ms: int) -> None:
    """Every request of the page waits ``latency_ms`` for its answer, as on a busy Wi-Fi."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {"offline": False, "downloadThroughput": -1, "uploadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", {**conditions, "latency": latency_ms})


@pytest.mark.parametrize(
    "key_delay_ms", [40, 0], ids=["answer-while-typing", "enter-while-waiting"]
)
def test_a_code_scanned_while_the_last_is_being_checked_arrives_whole(
    phone: Page, live_server, make_staff, issue_coupon, key_delay_ms
):
    """A scanner's next code, typed before the last one's answer came: its keys went on
    the end of the last code, then the answer selected the box and the rest of the keys
    replaced it ("16 characters; this has 13"). Typed faster, its Enter was dropped."""
    first, second = issue_coupon(), issue_coupon()
    page = phone
    at_desk(page, live_server, make_staff)
    result = page.locator("#result")
    slow_network(page, 400)

    check(page, first)
    page.keyboard.type(second, delay=key_delay_ms)
    page.keyboard.press("Enter")
    expect(result).to_contain_text(second, timeout=10_000)
    expect(result).to_have_attribute("data-state", "valid")
    expect(page.locator("#code")).to_have_value(second)
    expect(page.locator("#redeem-button")).to_be_focused()


def test_times_read_as_on_the_other_staff_pages_in_any_locale(
    browser, live_server, make_staff, issue_coupon
):
    """The tablet speaks American English and keeps New York's time; the clinic is in
    London, and the desk writes its times as the other staff pages do."""
    code = issue_coupon()
    settings = {**PHONE, "locale": "en-US", "timezone_id": "America/New_York"}
    with open_page(browser, settings) as page:
        at_desk(page, live_server, make_staff)
        with page.expect_response(re.compile(r"/api/v1/coupons/[^/]+$")) as looked_up:
            check(page, code)
        expires = looked_up.value.json()["expires_at"]
        expires_shown = page.locator("#result dt:text-is('Expires') + dd")
        expect(expires_shown).to_have_text(as_other_staff_pages_write_it(expires))
        expect(expires_shown).to_have_text(re.compile(r"^\d{1,2} [A-Z][a-z]+ \d{4}, 23:59$"))

        with page.expect_response(re.compile(r"/redeem$")) as redeemed:
            page.locator("#redeem-button").tap()
        used_at = redeemed.value.json()["redeemed_at"]
        expect(page.locator("#result dt:text-is('Used') + dd")).to_have_text(
            f"{as_other_staff_pages_write_it(used_at)} by Rita Desk"
        )
        # The day's list is of today: the time of day, 24-hour.
        clock = as_other_staff_pages_write_it(used_at)[-5:]
        expect(page.locator("#today-list li").first).to_have_text(
            re.compile(rf"^{clock} \u00b7 {code} \u00b7 ")
        )
        expect(page.locator("#result")).not_to_contain_text(re.compile(r"AM|PM"))


def test_a_void_coupon_shows_the_admins_reason(
    phone: Page, live_server, make_staff, issue_coupon, api_token
):
    code = issue_coupon()
    admin = {"Authorization": f"Bearer {api_token('admin')}"}
    voided = requests.post(
        f"{live_server}/api/v1/coupons/{code}/void",
        headers=admin,
        json={"reason": "Issued twice by mistake"},
        timeout=10,
    )
    assert voided.status_code == 200
    page = phone
    at_desk(page, live_server, make_staff)

    check(page, code)
    result = page.locator("#result")
    expect(result).to_have_attribute("data-state", "void")
    expect(page.locator("#result-title")).to_have_text("Cancelled (void)")
    expect(page.locator("#result dt:text-is('Reason') + dd")).to_have_text(
        "Issued twice by mistake"
    )
    expect(page.locator("#result-news")).to_have_text("Cancelled (void): Issued twice by mistake")
    expect(page.locator("#redeem-button")).to_be_hidden()
    # Nothing to redeem: the box keeps the focus for the next code.
    expect(page.locator("#code")).to_be_focused()
