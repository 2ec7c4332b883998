"""Every page an owner or a guest opens on a phone fits its width, down to the narrowest
(320 px): wide tables scroll inside their card, long addresses and coupon codes stay on
the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from campaign.audit import AuditEvent
from campaign.campaigns.models import Campaign
from campaign.coupons import services as coupon_services
from campaign.coupons.models import Coupon
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.browser.conftest import PHONE, log_in, open_page

pytestmark = pytest.mark.browser

LONG_ADDRESS = "constance.abernathy-winterbottom.reception@harbour-massage-clinic.example"


def sideways_scroll(page: Page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("width", [390, 320])
def test_staff_pages_and_the_coupon_page_fit_a_phone(
    app, browser, width, live_server, make_staff, issue_coupon
):
    issue_coupon(LONG_ADDRESS, first_name="Constance")
    with app.app_context():
        subscriber_id = db.session.scalar(select(Subscriber.id).filter_by(email=LONG_ADDRESS))
        coupon = db.session.scalar(select(Coupon).filter_by(subscriber_id=subscriber_id))
        coupon_path = f"/coupon/{coupon_services.coupon_page_token(coupon)}"
        db.session.add(
            Campaign(subject="Spring treatments and a few words on posture " * 2, body_markdown="x")
        )
        db.session.add(
            AuditEvent(
                action="clinic.details_changed",
                target=f"subscriber:{subscriber_id}",
                details={"name": "Harbour Wellness & Massage", "note": "x" * 200},
            )
        )
        db.session.commit()
        db.session.remove()
    _, email, password = make_staff("admin", "Olga Owner")
    with open_page(browser, {**PHONE, "viewport": {"width": width, "height": 700}}) as phone:
        log_in(phone, live_server, email, password, "/staff/")
        too_wide = {}
        for path in (
            "/staff/audit",
            f"/staff/subscribers/{subscriber_id}",
            "/staff/campaigns/",
            "/staff/account",
            "/staff/tokens",
            "/staff/team/",
            "/staff/dashboard/",
            "/staff/images/",
            "/desk",
            coupon_path,
        ):
            phone.goto(f"{live_server}{path}")
            if path.startswith(("/staff", "/desk")):
                # One row of menu, scrolled to show the page one is on.
                nav = phone.locator(".staff-nav")
                assert nav.bounding_box()["height"] < 60, (path, nav.bounding_box())
                current = phone.locator(".staff-nav [aria-current]").first
                box = current.bounding_box()
                assert box["x"] >= 0, (path, box)
                assert box["x"] + box["width"] <= width, (path, box)
            # Every "Table" disclosure open: the tables scroll in their frame.
            phone.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
            if (overflow := sideways_scroll(phone)) > 0:
                too_wide[path] = overflow
        assert too_wide == {}, f"pages wider than a phone (px too wide): {too_wide}"
        # The coupon's code stays inside its dashed box.
        code, card = phone.locator(".coupon-card .code"), phone.locator(".coupon-card")
        inside = code.evaluate(
            """(el) => {
              const box = el.closest(".coupon-card").getBoundingClientRect();
              const range = document.createRange();
              range.selectNodeContents(el);
              const text = range.getBoundingClientRect();
              return text.left >= box.left && text.right <= box.right;
            }"""
        )
        assert inside, (code.bounding_box(), card.bounding_box())
        # On one line: the guest shows it at the desk, and "DTYZ-CD5X-TMQB-" over "SCNV"
        # reads as two codes.
        lines = code.evaluate(
            """(el) => {
              const range = document.createRange();
              range.selectNodeContents(el);
              return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
            }"""
        )
        assert lines == 1, code.bounding_box()
