"""The newsletter editor in a real browser: adding an image, unsaved edits, a stale preview,
the controls' messages, deleting a draft, and a phone's width."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import log_in_as_marketing
from tests.campaigns.helpers import add_confirmed
from tests.images import helpers

pytestmark = pytest.mark.browser


def serve_base_url_from(page: Page, live_server: str) -> None:
    """Readers load images from BASE_URL (https://clinic.test in the tests): answer
    it from the test server, as the clinic's public address would."""

    def forward(route: Route) -> None:
        path = urlsplit(route.request.url).path
        response = route.fetch(url=live_server + path)
        route.fulfill(response=response)

    page.route("https://clinic.test/images/**", forward)


def test_add_an_image_uploads_it_and_puts_it_where_the_cursor_is(
    desktop: Page, live_server, make_staff, ctx, tmp_path
):
    page = desktop
    serve_base_url_from(page, live_server)
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#subject", "June")
    body = page.locator("#body_markdown")
    body.fill("Our new room is ready.")
    body.press("End")

    photo = tmp_path / "room.jpg"
    photo.write_bytes(helpers.phone_photo(1600, 1200))
    page.set_input_files("#image-file", str(photo))

    expect(page.locator("#image-status")).to_contain_text("Type what the picture shows")
    expect(body).to_have_value(
        re.compile(
            r"^Our new room is ready\.\n\n!\[Describe the image\]"
            r"\(https://clinic\.test/images/[0-9a-f]{24}-1200x1600\.jpg\)\n\n$"
        )
    )
    # The description is selected: typing replaces it.
    page.keyboard.type("The new treatment room")
    expect(body).to_have_value(re.compile(r"!\[The new treatment room\]\(https://clinic\.test/"))

    picture = page.frame_locator("#preview").locator("img[alt='The new treatment room']")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("width", "536")  # 1200 x 1600 shown in the 536 px column
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 1200

    page.get_by_role("button", name="Create draft").click()
    expect(page).to_have_url(re.compile(r"/staff/campaigns/\d+$"))

    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Images").click()
    expect(page.locator(".image-row")).to_have_count(1)
    expect(page.locator(".image-row")).to_contain_text("room.jpg")
    expect(page.locator(".image-row")).to_contain_text("1200 x 1600 px")


def test_an_image_uploaded_before_is_picked_without_leaving_the_editor(
    desktop: Page, live_server, make_staff, ctx, tmp_path
):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/images/")
    logo = tmp_path / "logo.png"
    logo.write_bytes(helpers.logo_png())
    page.set_input_files("#image", str(logo))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash")).to_contain_text("logo.png is uploaded")

    page.goto(f"{live_server}/staff/campaigns/new")
    body = page.locator("#body_markdown")
    body.fill("Hello")
    body.press("End")
    page.get_by_text("Or pick one uploaded before").click()
    page.get_by_role("button", name="Insert logo.png").click()
    expect(body).to_have_value(
        re.compile(
            r"^Hello\n\n!\[Describe the image\]\(https://clinic\.test/images/[0-9a-f]{24}-400x200\.png\)\n\n$"
        )
    )
    page.keyboard.type("Our logo")  # the description is selected, as after an upload
    expect(body).to_have_value(re.compile(r"!\[Our logo\]"))
    expect(page.locator("details.image-pick")).not_to_have_attribute("open", "")


def test_a_file_that_is_not_an_image_is_explained_and_nothing_inserted(
    desktop: Page, live_server, make_staff, ctx, tmp_path
):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#body_markdown", "Hello")
    document = tmp_path / "prices.pdf"
    document.write_bytes(b"%PDF-1.4 not a picture")
    page.set_input_files("#image-file", str(document))
    expect(page.locator("#image-status")).to_contain_text("could not be read as an image")
    expect(page.locator("#body_markdown")).to_have_value("Hello")


def test_leaving_with_unsaved_edits_asks_first(desktop: Page, live_server, make_staff, ctx):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#subject", "July")
    page.locator("#body_markdown").press_sequentially("Summer hours")

    asked: list[str] = []

    def stay(dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.get_by_role("link", name="All newsletters").click()
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"]
    expect(page).to_have_url(f"{live_server}/staff/campaigns/new")
    expect(page.locator("#body_markdown")).to_have_value("Summer hours")

    # Saved, nothing is lost by leaving: no question.
    page.get_by_role("button", name="Create draft").click()
    expect(page).to_have_url(re.compile(r"/staff/campaigns/\d+$"))
    page.on("dialog", lambda dialog: asked.append(dialog.type))
    page.get_by_role("link", name="All newsletters").click()
    expect(page).to_have_url(f"{live_server}/staff/campaigns/")
    assert asked == ["beforeunload"]


def test_a_preview_that_could_not_be_updated_says_so(desktop: Page, live_server, make_staff, ctx):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.locator("#body_markdown").press_sequentially("Hello {{ first_name }}")
    expect(page.frame_locator("#preview").locator("body")).to_contain_text("Hello Ann")
    expect(page.locator("#preview")).not_to_have_class(re.compile("stale"))

    page.fill("#body_markdown", "Hello {{ frist_name }}")
    status = page.locator("#preview-status")
    expect(status).to_contain_text("Unknown variable")
    expect(status).to_contain_text("The preview shows the last version that worked.")
    expect(status).to_have_class(re.compile("problem"))
    expect(page.locator("#preview")).to_have_class(re.compile("stale"))

    page.fill("#body_markdown", "Hello again {{ first_name }}")
    expect(page.frame_locator("#preview").locator("body")).to_contain_text("Hello again Ann")
    expect(status).to_have_text("")
    expect(page.locator("#preview")).not_to_have_class(re.compile("stale"))


def test_the_preview_notes_an_odd_fallback_name_as_advice(
    desktop: Page, live_server, make_staff, ctx
):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#body_markdown", "Dear {{ first_name }},\n\nOur spring menu is out.")
    status = page.locator("#preview-status")
    expect(status).to_contain_text("A reader who gave no first name reads \u201cDear there,\u201d")
    expect(status).not_to_have_class(re.compile("problem"))
    expect(page.frame_locator("#preview").locator("body")).to_contain_text("Dear Ann,")
    expect(page.locator("#preview")).not_to_have_class(re.compile("stale"))

    page.fill("#body_markdown", 'Dear {{ first_name | default("friend") }},')
    expect(status).to_have_text("")
    page.select_option("#preview-as", label="A reader who gave no first name")
    expect(page.frame_locator("#preview").locator("body")).to_contain_text("Dear friend,")


def test_the_preview_switches_to_each_kind_of_reader(desktop: Page, live_server, make_staff, ctx):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#body_markdown", "Hello {{ first_name }},\n\nYour oil: {{ coupon_code }}.")
    preview = page.frame_locator("#preview").locator("body")
    expect(preview).to_contain_text("Your oil: SAMP-LE00-C0DE-0000.")
    page.select_option("#preview-as", label="Ann, whose coupon is used")
    expect(preview).not_to_contain_text("Your oil")
    expect(preview).to_contain_text("Hello Ann,")
    page.select_option("#preview-as", label="A reader who gave no first name")
    expect(preview).to_contain_text("Hello there,")
    expect(preview).to_contain_text("Your oil: SAMP-LE00-C0DE-0000.")


def test_the_images_page_copies_an_images_line_and_deletes_an_unused_one(
    desktop: Page, live_server, make_staff, ctx, tmp_path
):
    page = desktop
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/images/")
    logo = tmp_path / "logo.png"
    logo.write_bytes(helpers.logo_png())
    page.set_input_files("#image", str(logo))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".flash")).to_contain_text("logo.png is uploaded")
    copy = page.get_by_role("button", name="Copy the line for logo.png")
    copy.click()
    expect(copy).to_have_text("Copied")
    line = page.locator(".markdown-line").input_value()
    assert line.startswith("![Describe the image](https://clinic.test/images/")
    assert page.evaluate("navigator.clipboard.readText()") == line

    # Delete asks first: dismissed, the image stays; accepted, it goes.
    delete = page.get_by_role("button", name="Delete logo.png")
    asked = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.dismiss())
    delete.click()
    page.reload()  # what the server kept, not what the page still shows
    expect(page.locator(".markdown-line")).to_have_count(1)
    assert asked == ["Delete logo.png? No newsletter shows it."]
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.locator(".flash")).to_contain_text("logo.png is deleted.")
    expect(page.get_by_text("No images yet.")).to_be_visible()


# --- a phone's width, the controls' messages, deleting a draft ---------------------

PHONE_WIDTH = 390
DANGER = "rgb(163, 53, 43)"  # --danger in site.css


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def create_draft(page: Page, live_server: str, subject: str = "Spring at the clinic") -> str:
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#subject", subject)
    page.fill("#body_markdown", "Hello {{ first_name }}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")
    return page.url


def test_the_editor_fits_a_phone_screen(phone: Page, live_server, make_staff, ctx):
    page = phone
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    expect(page.get_by_role("heading", name="New newsletter")).to_be_visible()
    # The variables' hint holds long code ({{ first_name | default("friend") }}).
    assert page_width(page) <= PHONE_WIDTH

    create_draft(page, live_server)
    # A long error under the test row wraps too.
    page.fill("#test-emails", "somebody-with-a-long-address-at-the-clinic@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#control-message")).to_contain_text("is not a staff account")
    assert page_width(page) <= PHONE_WIDTH


def message_follows(page: Page, row_id: str) -> bool:
    """The controls' message is just under the row with this id."""
    row_above = "document.getElementById('control-message').previousElementSibling.id"
    return page.evaluate(row_above) == row_id


def test_each_control_message_is_under_its_control_and_errors_read_as_errors(
    desktop: Page, live_server, make_staff, ctx
):
    add_confirmed(2)
    page = desktop
    staff_email = log_in_as_marketing(page, live_server, make_staff)
    create_draft(page, live_server)
    message = page.locator("#control-message")
    alert = message.get_by_role("alert")
    status = message.get_by_role("status")

    # A test to someone who is not staff: an error, in red, under the test row.
    page.fill("#test-emails", "x@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(alert).to_have_text("x@example.com is not a staff account.")
    expect(status).to_have_text("")
    expect(message).to_have_class(re.compile(r"\berror\b"))
    assert message.evaluate("el => getComputedStyle(el).color") == DANGER
    assert message_follows(page, "test-row")
    expect(page.locator("#test-emails")).to_be_focused()  # the focus handling stays

    # A test to themselves: a success, politely told, in the same place.
    page.fill("#test-emails", staff_email)
    page.get_by_role("button", name="Send test").click()
    expect(status).to_have_text(f"Test sent to {staff_email}.")
    expect(alert).to_have_text("")
    expect(message).to_have_class(re.compile(r"\bok\b"))
    assert message.evaluate("el => getComputedStyle(el).color") != DANGER
    assert message_follows(page, "test-row")

    # A time that has passed: an error under the schedule row, the time field focused.
    page.fill("#send-at-input", "2001-01-01T09:00")
    page.get_by_role("button", name="Schedule").click()
    expect(alert).to_have_text("That time has passed: please pick a later one.")
    assert message_follows(page, "schedule-row")
    expect(page.locator("#send-at-input")).to_be_focused()

    # Unsaved edits: Send now refuses, said as an error under its own row.
    page.fill("#body_markdown", "Hello {{ first_name }}, new words")
    page.get_by_role("button", name="Send now").click()
    expect(alert).to_have_text(re.compile(r"^Save your changes first"))
    assert message_follows(page, "schedule-row")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")

    page.fill("#send-at-input", "2031-06-03T09:30")
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#campaign-status")).to_have_text("scheduled")
    expect(status).to_have_text("Scheduled.")
    assert message_follows(page, "schedule-row")

    # "Not yet": back to a draft, then scheduled again.
    page.get_by_role("button", name="Back to draft").click()
    expect(page.locator("#campaign-status")).to_have_text("draft")
    expect(status).to_have_text(re.compile(r"^Back to a draft: it will not be sent"))
    expect(page.get_by_role("button", name="Back to draft")).to_be_hidden()
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#campaign-status")).to_have_text("scheduled")

    # A scheduled newsletter has reached nobody: the question says so.
    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#campaign-status")).to_have_text("cancelled")
    assert asked == ["Cancel this newsletter? It will not be sent."]
    expect(status).to_have_text("Cancelled: it will not be sent.")
    assert message_follows(page, "state-row")
    expect(message).to_be_focused()  # Cancel is gone; nothing replaces it
    # Nothing more goes into it: no image to add.
    expect(page.locator("#image-file")).to_be_hidden()
    # It never started: no bar at 100 %, no figures of nothing.
    expect(page.locator("#progress-bar")).to_be_hidden()
    expect(page.locator("#progress-text")).to_have_text(
        "Cancelled before sending started: nothing was sent."
    )
    page.reload()
    expect(page.locator("#progress-bar")).to_be_hidden()
    expect(page.locator("#progress-text")).to_have_text(
        "Cancelled before sending started: nothing was sent."
    )


def test_a_sending_newsletter_is_cancelled_with_the_wording_for_it(
    desktop: Page, live_server, make_staff, ctx
):
    add_confirmed(2)
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    create_draft(page, live_server)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()
    # No worker runs here: the send stays at "sending". Send now's row is hidden, so
    # its message is under the row that replaces it.
    expect(page.locator("#campaign-status")).to_have_text("sending")
    expect(page.locator("#control-message").get_by_role("status")).to_have_text("Sending started.")
    assert message_follows(page, "state-row")
    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#campaign-status")).to_have_text("cancelled")
    assert asked == ["Cancel this newsletter? Nobody else will receive it."]
    # The bar stops where the send did: it read "100%" for none of two sent.
    text = page.locator("#progress-text")
    expect(text).to_have_text("0% \u00b7 0 sent, 0 failed, 0 skipped, 0 remaining, 2 cancelled")
    expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", "0")


def test_a_draft_is_deleted_after_a_question(desktop: Page, live_server, make_staff, ctx):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    url = create_draft(page, live_server, subject="Not this month")
    # A draft was never sent: it is deleted, not cancelled.
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    delete = page.get_by_role("button", name="Delete draft")
    expect(delete).to_be_visible()

    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.dismiss())
    delete.click()
    expect(page).to_have_url(url)
    assert asked == ["Delete the draft \u201cNot this month\u201d? It cannot be undone."]

    # Unsaved edits: the one question covers them (leaving does not ask again).
    page.fill("#subject", "Not this month either")
    page.on("dialog", lambda dialog: asked.append(dialog.type) or dialog.accept())
    delete.click()
    expect(page).to_have_url(f"{live_server}/staff/campaigns/")
    assert asked[1:] == ["confirm"]
    expect(page.locator(".flash")).to_have_text("The draft \u201cNot this month\u201d is deleted.")
    expect(page.locator(".campaign-list")).not_to_contain_text("Not this month")


def test_scheduling_a_draft_offers_cancel_in_place_of_delete(
    desktop: Page, live_server, make_staff, ctx
):
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    create_draft(page, live_server)
    page.fill("#send-at-input", "2031-06-03T09:30")
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#campaign-status")).to_have_text("scheduled")
    expect(page.get_by_role("button", name="Delete draft")).to_be_hidden()
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
