"""The newsletter editor in a real browser: adding an image, unsaved edits, a stale preview."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import log_in_as_marketing
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
    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    expect(page.locator(".markdown-line")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.locator(".flash")).to_contain_text("logo.png is deleted.")
    expect(page.get_by_text("No images yet.")).to_be_visible()
