"""The dashboard after a list was imported: figures that agree, bars on one scale."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert

from campaign.campaigns.models import Campaign, Delivery
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.browser.conftest import log_in_as_marketing

pytestmark = pytest.mark.browser


def people(count: int, **values) -> list[dict]:
    rows = []
    for _ in range(count):
        address = f"p-{uuid.uuid4().hex[:12]}@example.com"
        rows.append({"email": address, "email_canonical": address, **values})
    return rows


def seed(now) -> None:
    """400 imported (consent two years old) today, 8 signups this week, one newsletter
    sent to 407 readers two days ago, 2 of whom unsubscribed."""
    db.session.execute(
        insert(Subscriber),
        people(400, status="confirmed", source="import", created_at=now,
               confirmed_at=now - timedelta(days=730))
        + people(6, status="confirmed", source="web", created_at=now - timedelta(hours=5),
                 confirmed_at=now - timedelta(hours=4))
        + people(2, status="pending", source="web", created_at=now - timedelta(hours=3)),
    )  # fmt: skip
    sent = now - timedelta(days=2)
    campaign_id = db.session.execute(
        insert(Campaign)
        .values(subject="Spring news", status="sent", started_at=sent, audience_size=407)
        .returning(Campaign.id)
    ).scalar_one()
    leavers = [
        db.session.execute(
            insert(Subscriber).values(**row).returning(Subscriber.id)
        ).scalar_one()
        for row in people(2, status="unsubscribed", source="web", created_at=sent - timedelta(
            days=30), confirmed_at=sent - timedelta(days=30), unsubscribed_at=sent + timedelta(
            hours=1))
    ]  # fmt: skip
    # Credited to this newsletter when they left, as the unsubscribe does.
    left = sent + timedelta(hours=1)
    deliveries = [{"subscriber_id": None}] * 405 + [
        {"subscriber_id": one, "unsubscribed_at": left} for one in leavers
    ]
    db.session.execute(
        insert(Delivery),
        [
            {**row, "campaign_id": campaign_id, "status": "sent", "sent_at": sent}
            for row in deliveries
        ]
        + [{"campaign_id": campaign_id, "status": "failed", "smtp_response": "550 5.1.1 no"}] * 3,
    )
    db.session.commit()


def test_the_figures_say_what_they_count_and_bars_share_one_scale(
    desktop: Page, live_server, make_staff, ctx
):
    now = utcnow()
    seed(now)
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/dashboard/")

    cards = page.locator(".dash-stat")
    expect(cards.nth(0).locator(".dash-stat-value")).to_have_text("406")
    # The import grew the list, and the change says so (the two who left were there).
    expect(cards.nth(0).locator(".dash-stat-detail")).to_have_text(f"+404 since {since(now)}")
    # The 400 were never asked to confirm: the rates are of those who were (10, 8 lately).
    expect(cards.nth(1).locator(".dash-stat-value")).to_have_text("80%")
    expect(cards.nth(1).locator(".dash-stat-detail")).to_have_text(
        f"Since {since(now)}: 75% of 8 signups; not counting 400 imported as confirmed"
    )

    svg = page.locator('svg[data-chart="campaigns"]')
    expect(svg).to_be_visible()
    drawn = svg.evaluate(
        """svg => {
          const width = name => svg.querySelector(`rect[class*="chart-tone-${name}"]`)
            .getBBox().width;
          const headings = [...svg.querySelectorAll(".chart-heading")].map(h => {
            const box = h.getBBox();
            return [box.x, box.x + box.width];
          });
          return { sent: width("green"), bounced: width("red"), unsubscribes: width("grey"),
                   headings, right: svg.viewBox.baseVal.width };
        }"""
    )
    per_message = drawn["sent"] / 407
    assert drawn["unsubscribes"] == pytest.approx(2 * per_message, abs=0.1), drawn
    assert drawn["bounced"] == pytest.approx(3 * per_message, abs=0.1), drawn
    # Each heading clear of the next, and inside the chart.
    for (_, end), (start, _) in zip(drawn["headings"], drawn["headings"][1:], strict=False):
        assert end < start, drawn["headings"]
    assert drawn["headings"][-1][1] <= drawn["right"], drawn
    # The numbers stay written out.
    expect(svg.locator("text.chart-total", has_text="407").first).to_be_visible()
    expect(page.locator("#panel-campaigns")).to_contain_text("All bars share one scale")


def since(now) -> str:
    """The clinic's Monday three weeks before this one, as the page writes it ("9 Nov")."""
    today = now.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/London")).date()
    monday = today - timedelta(days=today.weekday(), weeks=3)
    return f"{monday.day} {monday:%b}"
