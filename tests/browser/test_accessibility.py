"""What the accessibility audit measured, checked again in a real browser: the desk with
and without JavaScript, live regions, focus after a move, errors tied to their fields,
contrast and focus rings, and the keyboard's way round the staff pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, log_in, open_page
from tests.campaigns.helpers import add_confirmed

pytestmark = pytest.mark.browser

ACCENT = "rgb(47, 107, 87)"

# Each text an element is given, in order (as a screen reader is handed a live region's).
RECORD_TEXTS = """([el, name]) => {
  window[name] = [];
  new MutationObserver(() => window[name].push(el.textContent))
    .observe(el, {childList: true, characterData: true, subtree: true});
}"""


def contrast(page: Page, selector: str, fore: str, back: str) -> float:
    """The WCAG contrast ratio between two computed colours of the element."""
    return page.locator(selector).first.evaluate(
        """(el, [fore, back]) => {
          const style = getComputedStyle(el);
          const lum = (css) => {
            const [r, g, b] = css.match(/[\\d.]+/g).slice(0, 3).map((v) => {
              const c = Number(v) / 255;
              return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
          };
          const back_ = back === "white" ? "rgb(255, 255, 255)" : style[back];
          const [a, b] = [lum(style[fore]), lum(back_)].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }""",
        [fore, back],
    )


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.tagName")


def submit_unchecked(page: Page, form: str = "main form") -> None:
    """Let the server see what the browser's own checks would stop."""
    page.locator(form).first.evaluate("f => { f.noValidate = true; }")


def tied_error(page: Page, field: str, text: str | re.Pattern) -> None:
    """The field is marked invalid, is described by an alert saying `text`, has the focus."""
    box = page.locator(f"#{field}")
    expect(box).to_have_attribute("aria-invalid", "true")
    described = box.get_attribute("aria-describedby").split()
    messages = page.locator(", ".join(f"#{ref}" for ref in described))
    expect(messages.filter(has_text=text)).to_have_count(1)
    expect(messages.filter(has_text=text)).to_have_attribute("role", "alert")
    assert focused(page) == field
    assert page.title().startswith("Error: ")


# --- the front desk -----------------------------------------------------------------


def test_the_desk_without_javascript_says_so_and_sends_nothing(browser, live_server, make_staff):
    _, email, password = make_staff("receptionist", "Rita Desk")
    with open_page(browser, {**PHONE, "java_script_enabled": False}) as page:
        log_in(page, live_server, email, password, "/desk")
        # (Playwright's text search skips <noscript>: find the message by its place.)
        message = page.locator("main noscript .alert")
        expect(message).to_be_visible()
        assert "The front desk needs JavaScript" in message.evaluate("el => el.textContent")
        # The day's list was never loaded: it must not claim there is nothing in it.
        expect(page.get_by_text("None yet.")).to_have_count(0)
        page.fill("#code", "AAAA-BBBB-CCCC-DDDD")
        page.press("#code", "Enter")
        page.wait_for_timeout(500)
        assert page.url == f"{live_server}/desk"
        expect(page.locator("#code")).to_have_value("AAAA-BBBB-CCCC-DDDD")


def test_the_days_list_shows_loading_until_it_has_loaded(phone: Page, live_server, make_staff):
    held = []
    phone.route("**/api/v1/desk/redemptions", lambda route: held.append(route))
    _, email, password = make_staff("receptionist", "Rita Desk")
    log_in(phone, live_server, email, password, "/desk")
    today = phone.locator("#today-list")
    expect(today).to_have_text("Loading\u2026")
    expect(today).to_have_attribute("aria-busy", "true")
    # The page says "Loading…" before its script asks: wait until the request is held.
    for _ in range(200):
        if held:
            break
        phone.wait_for_timeout(50)
    held[0].continue_()
    expect(today).to_have_text("None yet.")
    expect(today).not_to_have_attribute("aria-busy", "true")


def test_desk_results_are_told_and_the_focus_goes_where_the_next_key_acts(
    phone: Page, live_server, make_staff, issue_coupon
):
    first, second = issue_coupon(), issue_coupon()
    page = phone
    page.clock.install()
    _, email, password = make_staff("receptionist", "Rita Desk")
    log_in(page, live_server, email, password, "/desk")
    expect(page.locator("#today-list")).to_have_text("None yet.")
    # The live region is on the page (empty, not hidden) before the first result.
    news = page.get_by_role("status")
    expect(news).to_have_count(1)
    expect(news).to_have_text("")
    page.evaluate(f"({RECORD_TEXTS})([document.getElementById('result-news'), 'told'])")

    for code in (first, second):  # two results with the same title in a row
        page.fill("#code", code)
        page.press("#code", "Enter")
        expect(page.locator("#result")).to_have_attribute("data-state", "valid")
        expect(news).to_have_text("Valid coupon: Free massage oil")
        # Redeem takes the focus, so Enter redeems; a scanner's next code and its Enter
        # still go to the box (tests/browser/test_desk_keyboard.py).
        # Waited for: the card already says "valid" from the first code while the
        # second is looked up (the fill put the focus in the box meanwhile).
        expect(page.locator("#redeem-button")).to_be_focused()
        page.clock.fast_forward(2100)
    # Emptied in between, so the second, identical text is a change and is told again.
    valid = "Valid coupon: Free massage oil"
    assert page.evaluate("window.told") == [valid, "", valid]

    page.locator("#redeem-button").tap()
    expect(news).to_have_text("Redeemed \u2713")
    assert focused(page) == "code"
    undo = page.locator("#today-list").get_by_role("button", name=f"Undo {second}")
    expect(undo).to_be_visible()
    # Big enough for a finger at the desk, as are the links of the menu.
    assert undo.bounding_box()["height"] >= 44
    heights = page.locator(".staff-nav a").evaluate_all(
        "links => links.map(a => a.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44, heights


def test_escape_closes_the_camera(phone: Page, live_server, make_staff):
    # A camera from a canvas: the page gets a real video stream without a device.
    phone.add_init_script(
        """navigator.mediaDevices.getUserMedia = async () => {
             const canvas = document.createElement("canvas");
             canvas.width = 64; canvas.height = 64;
             canvas.getContext("2d").fillRect(0, 0, 64, 64);
             window.cameraStream = canvas.captureStream(5);
             return window.cameraStream;
           };"""
    )
    _, email, password = make_staff("receptionist", "Rita Desk")
    log_in(phone, live_server, email, password, "/desk")
    phone.get_by_role("button", name="Scan QR with camera").click()
    expect(phone.locator("#scanner")).to_be_visible()
    phone.keyboard.press("Escape")
    expect(phone.locator("#scanner")).to_be_hidden()
    assert phone.evaluate("window.cameraStream.getTracks().every(t => t.readyState === 'ended')")
    assert focused(phone) == "code"


# --- colours, focus, the keyboard's way in -----------------------------------------


def test_fields_rings_and_amber_text_are_strong_enough(desktop: Page, live_server, make_staff):
    _, email, password = make_staff("admin", "Olga Owner")
    log_in(desktop, live_server, email, password, "/staff/")
    page = desktop
    page.goto(f"{live_server}/staff/offer")
    assert contrast(page, "#title", "borderTopColor", "white") >= 3
    assert contrast(page, "#terms", "borderTopColor", "white") >= 3
    page.keyboard.press("Tab")  # the first stop: the skip link
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.focus("#title")
    ring = page.locator("#title").evaluate(
        "el => [getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineColor]"
    )
    assert ring == ["solid", ACCENT]
    # The page shown is marked in the menu; the others are not.
    nav = page.get_by_role("navigation", name="Staff")
    expect(nav.get_by_role("link", name="Offer")).to_have_attribute("aria-current", "page")
    expect(nav.locator("[aria-current]")).to_have_count(1)

    # A table that scrolls sideways on a phone is a named stop for the keyboard, with a ring.
    page.goto(f"{live_server}/staff/campaigns/")
    frame = page.get_by_role("region", name="Newsletters (table)")
    expect(frame).to_have_attribute("tabindex", "0")
    page.keyboard.press("Tab")
    frame.focus()
    assert frame.evaluate("el => getComputedStyle(el).outlineColor") == ACCENT

    page.evaluate(
        """document.querySelector("main").insertAdjacentHTML("beforeend",
             '<span class="badge scheduled">scheduled</span><span class="late">late</span>')"""
    )
    assert contrast(page, ".badge.scheduled", "color", "backgroundColor") >= 4.5
    assert contrast(page, ".late", "color", "white") >= 4.5


def test_pages_have_their_own_title_and_heading(desktop: Page, live_server, make_staff):
    _, email, password = make_staff("admin", "Olga Owner")
    log_in(desktop, live_server, email, password, "/staff/")
    home = desktop.title()
    desktop.goto(f"{live_server}/staff/team/")
    assert desktop.title() != home
    assert desktop.title().startswith("Staff accounts")
    desktop.goto(f"{live_server}/staff/campaigns/new")
    expect(desktop.get_by_role("heading", level=1)).to_have_text("New newsletter")


# --- errors tied to their fields ---------------------------------------------------


def test_form_errors_are_tied_to_their_fields(browser, live_server, make_staff):
    _, email, password = make_staff("admin", "Olga Owner")
    with open_page(browser, {"viewport": {"width": 1280, "height": 1000}}) as page:
        # Login: one message for both fields (it must not say which was wrong).
        page.goto(f"{live_server}/staff/login")
        page.fill("#email", email)
        page.fill("#password", "not the password")
        page.get_by_role("button", name="Log in").click()
        tied_error(page, "email", "do not match")
        expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#password")).to_have_attribute("aria-describedby", "login-error")

        log_in(page, live_server, email, password, "/staff/")
        page.goto(f"{live_server}/staff/offer")
        page.fill("#validity_days", "0")
        submit_unchecked(page)
        page.get_by_role("button", name="Save").click()
        tied_error(page, "validity_days", "valid for 1 to 3650 days")
        expect(page.locator("#title")).not_to_have_attribute("aria-invalid", "true")

        page.goto(f"{live_server}/staff/clinic/")
        page.fill("#postal_address", "")
        submit_unchecked(page)
        page.get_by_role("button", name="Save").click()
        tied_error(page, "postal_address", "required")

        page.goto(f"{live_server}/staff/account")
        page.fill("#current", "not the password")
        page.fill("#password", "a brand new password")
        page.fill("#confirm", "a brand new password")
        page.get_by_role("button", name="Change password").click()
        tied_error(page, "current", "current password is not right")

        page.goto(f"{live_server}/staff/team/")
        page.fill("#email", email)  # already has an account
        page.get_by_role("button", name="Add and send the invitation").click()
        tied_error(page, "email", "already has an account")

        page.goto(f"{live_server}/staff/subscribers/import")
        submit_unchecked(page)
        page.get_by_role("button", name="Upload and check").click()
        tied_error(page, "file", "Choose a CSV file.")

        page.goto(f"{live_server}/staff/campaigns/new")
        page.fill("#body_markdown", "Hello")
        submit_unchecked(page, "#compose-form")
        page.get_by_role("button", name="Create draft").click()
        tied_error(page, "subject", "subject is required")


# --- the newsletter page -----------------------------------------------------------


def create_draft(page: Page, live_server: str) -> str:
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#subject", "Spring at the clinic")
    page.fill("#body_markdown", "Hello {{ first_name }}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")
    return page.url


def test_focus_follows_the_newsletter_controls(desktop: Page, live_server, make_staff, ctx):
    add_confirmed(3)
    page = desktop
    _, email, password = make_staff("marketing", "Mia Marketing")
    log_in(page, live_server, email, password, "/staff/")
    create_draft(page, live_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Newsletter: Spring at the clinic")

    # Save reloads the page: the focus is on the message that says it worked.
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Saved.")
    expect(page.locator(".flash")).to_be_focused()

    # A schedule in the past: the time field is marked, described and focused.
    page.fill("#send-at-input", "2001-01-01T09:00")
    page.get_by_role("button", name="Schedule").click()
    time_box = page.locator("#send-at-input")
    expect(time_box).to_have_attribute("aria-invalid", "true")
    expect(time_box).to_have_attribute("aria-describedby", "control-message")
    expect(time_box).to_be_focused()
    # A test to an address that is not staff marks the other field instead.
    page.fill("#test-emails", "somebody@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#test-emails")).to_be_focused()
    expect(page.locator("#test-emails")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#test-emails")).to_have_attribute(
        "aria-describedby", "test-help control-message"
    )
    expect(time_box).not_to_have_attribute("aria-invalid", "true")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()
    # No worker runs here: the send stays at "sending".
    expect(page.locator("#campaign-status")).to_have_text("sending")
    # The pressed button is gone: the focus is on the control in its place.
    expect(page.locator("[data-action=pause]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#campaign-status")).to_have_text("paused")
    expect(page.locator("[data-action=resume]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#campaign-status")).to_have_text("sending")
    expect(page.locator("[data-action=pause]")).to_be_focused()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-action=cancel]").click()
    expect(page.locator("#campaign-status")).to_have_text("cancelled")
    # Nothing replaces Cancel: the message saying what happened has the focus.
    expect(page.locator("#control-message")).to_be_focused()


def test_progress_is_rounded_quiet_and_tells_milestones(desktop: Page, live_server, make_staff):
    page = desktop
    _, email, password = make_staff("marketing", "Mia Marketing")
    log_in(page, live_server, email, password, "/staff/")
    url = create_draft(page, live_server)
    campaign_id = url.rsplit("/", 1)[1]
    # The send as the API reports it, one answer a second: 10%, 30%, 30% again, 55%.
    answers = iter((10, 30, 30, 55))
    shown: list[int] = []
    held = []

    def answer(route) -> None:
        if not held:  # the first waits until the test records what the page says
            held.append(route)
            return
        respond(route)

    def respond(route) -> None:
        done = next(answers, shown[-1] if shown else 55)
        shown.append(done)
        counts = {"total": 100, "sent": done, "failed": 0, "skipped": 0, "cancelled": 0,
                  "queued": 100 - done}  # fmt: skip
        route.fulfill(json={
            "id": int(campaign_id), "status": "sending", "send_at": None, "counts": counts,
            "rate_per_minute": 769.7401234, "eta_seconds": 300,
        })  # fmt: skip

    page.route(f"**/api/v1/campaigns/{campaign_id}", answer)
    page.goto(url)
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")
    for selector, name in (("#progress-news", "told"), ("#progress-text", "rewritten")):
        page.evaluate(f"({RECORD_TEXTS})([document.querySelector('{selector}'), '{name}'])")
    respond(held[0])
    text = page.locator("#progress-text")
    expect(text).not_to_have_attribute("aria-live", re.compile("."))
    news = page.locator("#progress-news")
    expect(news).to_have_attribute("aria-live", "polite")
    expect(text).to_contain_text("55% \u00b7 55 sent", timeout=15_000)
    expect(text).to_contain_text("770/min")
    page.wait_for_timeout(2500)  # more answers, all the same
    rewritten = page.evaluate("window.rewritten")
    # Written once for each new figure (10%, 30%, 55%), never again with the same text.
    assert len(rewritten) == 3, rewritten
    told = [t for t in page.evaluate("window.told") if t]
    assert told == ["Status: sending.", "30% sent: 30 of 100.", "55% sent: 55 of 100."], told


# --- the import page ---------------------------------------------------------------


def test_the_import_tells_when_the_dry_run_is_done(
    desktop: Page, live_server, make_staff, ctx, tmp_path
):
    from campaign.subscribers.tasks import analyse_import

    page = desktop
    _, email, password = make_staff("marketing", "Mia Marketing")
    log_in(page, live_server, email, password, "/staff/")
    csv = tmp_path / "list.csv"
    csv.write_text(
        "email,first_name,consented_at,source\n"
        "ann@example.com,Ann,2024-01-02,shop\n"
        "bob@example.com,Bob,,shop\n"
        "not an address,Cy,,shop\n"
    )
    page.goto(f"{live_server}/staff/subscribers/import")
    page.set_input_files("#file", str(csv))
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_url(re.compile(r"/staff/subscribers/import/\d+$"))
    news = page.locator("#import-news")
    expect(news).to_have_attribute("aria-live", "polite")
    expect(news).to_have_text("")
    analyse_import.apply(args=[int(page.url.rsplit("/", 1)[1])])
    expect(news).to_have_text(
        "Dry run finished: 2 to import, 1 row with errors. Import now is available."
    )
    expect(page.get_by_role("button", name="Import now")).to_be_visible()
