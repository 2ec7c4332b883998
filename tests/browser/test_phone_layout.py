"""Every page an owner or a guest opens on a phone fits its width: wide tables scroll
inside their card, long addresses and coupon codes stay on the screen."""

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
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

LONG_ADDRESS = "constance.abernathy-winterbottom.reception@harbour-massage-clinic.example"


def sideways_scroll(page: Page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_staff_pages_and_the_coupon_page_fit_a_phone(
    app, phone: Page, live_server, make_staff, issue_coupon
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
    log_in(phone, live_server, email, password, "/staff/")

    too_wide = {}
    for path in (
        "/staff/audit",
        f"/staff/subscribers/{subscriber_id}",
        "/staff/campaigns/",
        "/staff/account",
        "/staff/tokens",
        "/staff/team/",
        coupon_path,
    ):
        phone.goto(f"{live_server}{path}")
        if (overflow := sideways_scroll(phone)) > 0:
            too_wide[path] = overflow
    assert too_wide == {}, f"pages wider than a phone (px too wide): {too_wide}"
