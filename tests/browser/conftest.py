"""Playwright on Debian's chromium, at phone size.

Playwright cannot download its own browser here, so it drives ``/usr/bin/chromium``
(CI installs it with apt-get). A missing browser fails the run: it never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
    "timezone_id": "Europe/London",
}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


DESKTOP = {
    "viewport": {"width": 1280, "height": 1000},
    "locale": "en-GB",
    "timezone_id": "Europe/London",
}


@contextmanager
def open_page(browser: Browser, settings: dict) -> Iterator[Page]:
    """A fresh page with its own cookies; JS errors on it fail the test."""
    context = browser.new_context(**settings)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(message) -> None:
        # Chromium logs every 4xx answer to fetch(); the pages show those on purpose.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A phone-sized page (the front desk is made for phones and tablets)."""
    with open_page(browser, PHONE) as page:
        yield page


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page (marketing writes newsletters at a desk)."""
    with open_page(browser, DESKTOP) as page:
        yield page


def log_in(page: Page, live_server: str, email: str, password: str, lands_on: str) -> None:
    page.goto(f"{live_server}/staff/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}{lands_on}")


def log_in_as_marketing(page: Page, live_server: str, make_staff) -> str:
    _, email, password = make_staff("marketing", "Mia Marketing")
    log_in(page, live_server, email, password, "/staff/")
    return email
