"""Marketing staff write, test and send a newsletter in a real browser, on a desktop."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in_as_marketing
from tests.campaigns.helpers import add_confirmed

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Left behind for a person to look at (/tmp/campaign-compose.png, /tmp/campaign-sent.png).
COMPOSE_SCREENSHOT = Path(tempfile.gettempdir()) / "campaign-compose.png"
SENT_SCREENSHOT = Path(tempfile.gettempdir()) / "campaign-sent.png"
READERS = 40
SUBJECT = "Spring at the clinic"
BODY = """Hello {{ first_name }},

Our **hot-stone special** is back this month.

See you soon!"""


def fits_the_screen(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def test_write_preview_test_and_send_a_newsletter(
    desktop: Page, live_server, make_staff, ctx, smtp, worker
):
    addresses = add_confirmed(READERS)
    page = desktop
    staff_email = log_in_as_marketing(page, live_server, make_staff)

    page.goto(f"{live_server}/staff/campaigns")
    expect(page.get_by_role("heading", name="Newsletters")).to_be_visible()
    expect(page.locator(".campaign-list")).to_contain_text("No newsletters yet.")
    page.get_by_role("link", name="Write a newsletter").click()
    expect(page).to_have_url(f"{live_server}/staff/campaigns/new")

    # Typing updates the preview: the real email layout with the sample reader, Ann.
    preview = page.frame_locator("#preview")
    page.fill("#subject", SUBJECT)
    page.fill("#preheader", "Book before the end of April")
    page.locator("#body_markdown").press_sequentially(BODY)
    expect(preview.locator("body")).to_contain_text("Hello Ann,")
    expect(preview.locator("strong", has_text="hot-stone special")).to_be_visible()
    expect(preview.locator("body")).not_to_contain_text("{{")
    expect(preview.locator("body")).not_to_contain_text("**")
    expect(page.locator("#preview-status")).to_have_text("")
    fits_the_screen(page)
    page.screenshot(path=COMPOSE_SCREENSHOT, full_page=True)

    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/staff/campaigns/\d+$"))
    status = page.locator("#campaign-status")
    expect(status).to_have_text("draft")
    expect(page.locator("#subject")).to_have_value(SUBJECT)
    expect(page.locator("#body_markdown")).to_have_value(BODY)
    expect(page.locator("#progress")).to_be_hidden()
    # Only what a draft can do is offered.
    expect(page.locator("[data-action=send]")).to_be_visible()
    expect(page.locator("[data-action=schedule]")).to_be_visible()
    expect(page.locator("[data-action=pause]")).to_be_hidden()
    expect(page.locator("[data-action=resume]")).to_be_hidden()
    # The saved draft is previewed too.
    expect(preview.locator("body")).to_contain_text("Hello Ann,")

    # A test copy goes to the staff's own address, through the worker and real SMTP.
    expect(page.locator("#test-emails")).to_have_value(staff_email)
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#control-message")).to_have_text(f"Test sent to {staff_email}.")
    (test_copy,) = smtp.wait_for(staff_email)
    assert test_copy.subject.startswith("[Test] ")
    assert test_copy.subject == f"[Test] {SUBJECT}"
    assert "hot-stone special" in test_copy.text
    assert "<strong>hot-stone special</strong>" in test_copy.html
    expect(status).to_have_text("draft")
    # Nobody else got anything yet.
    assert len(smtp.messages) == 1

    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.locator("[data-action=send]").click()
    bar = page.locator("#progress-bar")
    expect(page.locator("#progress")).to_be_visible()
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=90_000)
    expect(status).to_have_text("sent", timeout=30_000)
    # The question said how many it goes to.
    assert asked == [f"Send this newsletter now to {READERS:,} subscribers?"]
    expect(status).to_have_class(re.compile(r"\bsent\b"))
    expect(page.locator("#progress-text")).to_contain_text(
        f"100% \u00b7 {READERS} sent, 0 failed, 0 skipped, 0 remaining"
    )
    fill_width = page.locator("#progress-fill").evaluate("el => el.style.width")
    assert fill_width == "100%"
    expect(page.locator("#control-message")).to_have_text("Finished.")
    # A sent newsletter can no longer be sent, scheduled, paused or edited.
    for action in ("send", "schedule", "pause", "resume", "cancel"):
        expect(page.locator(f"[data-action={action}]")).to_be_hidden()
    expect(page.get_by_role("link", name="Ledger (CSV)")).to_be_visible()
    expect(page.locator("#save-button")).to_be_hidden()
    expect(page.locator("#body_markdown")).not_to_be_editable()
    fits_the_screen(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SENT_SCREENSHOT, full_page=True)

    # Every reader got exactly one personalised copy; the test copy was the only extra.
    per_recipient = Counter(message.to for message in smtp.messages)
    assert all(per_recipient[address.lower()] == 1 for address in addresses), per_recipient
    assert per_recipient[staff_email.lower()] == 1
    assert sum(per_recipient.values()) == READERS + 1
    sample = smtp.to(addresses[3])[0]
    assert sample.subject == SUBJECT
    assert "Hello Reader3," in sample.text
    assert "<strong>hot-stone special</strong>" in sample.html

    # The list shows the newsletter as sent.
    page.get_by_role("link", name="All newsletters").click()
    row = page.locator(".campaign-list tbody tr", has_text=SUBJECT)
    expect(row.locator(".badge")).to_have_text("sent")
    expect(row).to_contain_text(str(READERS))


def test_unsaved_changes_are_neither_tested_nor_sent(
    desktop: Page, live_server, make_staff, ctx, smtp, worker
):
    add_confirmed(3)
    page = desktop
    staff_email = log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/campaigns/new")
    page.fill("#subject", SUBJECT)
    page.fill("#body_markdown", BODY)
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")
    expect(page.locator("#campaign-status")).to_have_text("draft")

    # An edit made after saving: a test or a send would use the old text, so both wait.
    page.fill("#body_markdown", "Hello {{ first_name }}, a *new* text.")
    expect(page.frame_locator("#preview").locator("em")).to_have_text("new")
    page.get_by_role("button", name="Send test").click()
    message = page.locator("#control-message")
    expect(message).to_have_text(re.compile(r"^Save your changes first"))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())
    page.locator("[data-action=send]").click()
    expect(message).to_have_text(re.compile(r"^Save your changes first"))
    assert dialogs == []
    expect(page.locator("#campaign-status")).to_have_text("draft")

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#compose")).to_have_attribute("data-ready", "true")
    expect(page.locator(".alert.ok")).to_have_text("Saved.")
    expect(page.locator("#body_markdown")).to_have_value("Hello {{ first_name }}, a *new* text.")
    page.get_by_role("button", name="Send test").click()
    expect(message).to_have_text(f"Test sent to {staff_email}.")
    (test_copy,) = smtp.wait_for(staff_email)
    assert "<em>new</em>" in test_copy.html
    assert len(smtp.messages) == 1
