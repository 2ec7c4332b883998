"""The import page's script, in a real browser: the row errors it draws when the dry
run ends name each row's address, as text, and the notes come apart from them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import DESKTOP, open_page
from tests.subscribers.test_import import job_id_of, upload

pytestmark = pytest.mark.browser

ORIGIN = "http://clinic.test"


def test_the_script_shows_each_rows_address(browser, marketing_client, ctx):
    from campaign.subscribers.tasks import analyse_import

    content = (
        "email,consented_at,Phone\n"
        "<i>x</i>@example.com,2025-01-01,1\nann@example.com,2999-01-01,2\n"
    )
    job_id = job_id_of(upload(marketing_client, content))
    page_path = f"/staff/subscribers/import/{job_id}"
    # The page as it is before the dry run: the script follows the job from there.
    waiting = marketing_client.get(page_path).get_data(as_text=True)
    analyse_import.apply(args=[job_id])

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == page_path:
            route.fulfill(body=waiting, content_type="text/html; charset=utf-8")
            return
        # The script, the job's JSON, the styles: from the app.
        with marketing_client.get(path) as answer:
            route.fulfill(
                status=answer.status_code, body=answer.get_data(), headers=dict(answer.headers)
            )

    with open_page(browser, DESKTOP) as page:
        page.route(f"{ORIGIN}/**", serve)
        page.goto(ORIGIN + page_path)
        expect(page.locator("#import-status")).to_have_text("analysed")
        rows = page.locator("#import-errors li")
        expect(rows).to_have_text(
            [
                re.compile(r"^Row 2 \(<i>x</i>@example\.com\): email: "),
                "Row 3 (ann@example.com): consented_at: consent date is in the future",
            ]
        )
        assert page.locator("#import-errors i").count() == 0
        # How the file was read comes apart from the rows left out, drawn by the script too.
        expect(page.locator("#import-notes li")).to_have_text(
            [re.compile(r"^Row 1: Columns not read: 'Phone'")]
        )
