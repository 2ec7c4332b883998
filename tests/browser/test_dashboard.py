"""The marketing dashboard in a real browser, on a desktop, over half a year of history."""

from __future__ import annotations

import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert, select

from campaign.campaigns.models import Campaign, Delivery
from campaign.coupons.models import Coupon, Offer
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.browser.conftest import log_in_as_marketing

pytestmark = pytest.mark.browser

# Left behind for a person to look at (/tmp/dashboard.png, and the whole page).
SCREENSHOT = Path(tempfile.gettempdir()) / "dashboard.png"
FULL_SCREENSHOT = Path(tempfile.gettempdir()) / "dashboard-full.png"
CHARTS = ["subscribers", "sources", "coupons", "campaigns"]
# (weeks ago, subject, delivered to erased readers, 4xx failures, 5xx bounces, unsubscribes)
CAMPAIGNS = [
    (18, "Autumn opening hours", 240, 2, 4, 3),
    (14, "Winter warmers: hot stones", 330, 1, 6, 5),
    (10, "Gift vouchers for the holidays", 420, 3, 3, 9),
    (6, "New year, new routine", 510, 0, 5, 4),
    (2, "Spring news & <offers>", 640, 4, 7, 6),
]


@dataclass
class Expected:
    statuses: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    confirmed_by_source: Counter = field(default_factory=Counter)
    welcome_issued: int = 0
    welcome_redeemed: int = 0


def seed_history(now: datetime) -> Expected:
    """About 900 signups over 26 weeks, five newsletters, a welcome coupon per confirmation."""
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), datetime.min.time())

    def in_week(weeks_ago: int, fraction: float) -> datetime:
        # Always inside that week, and never later than now.
        return monday - timedelta(weeks=weeks_ago) + (now - monday) * fraction

    expected = Expected()
    people, coupons = [], []
    offer_id = db.session.execute(
        insert(Offer).values(kind="welcome", title="Free massage oil").returning(Offer.id)
    ).scalar_one()
    for weeks_ago in range(25, -1, -1):
        signups = 12 + (25 - weeks_ago) * 2
        for j in range(signups):
            created = in_week(weeks_ago, (j + 1) / (signups + 1))
            source = ["web"] * 6 + ["qr-poster"] * 2 + ["api", "import"]
            row = {"status": "confirmed", "source": source[j % 10], "created_at": created}
            if (weeks_ago <= 1 and j % 5 < 2) or (weeks_ago > 1 and j % 7 == 0):
                row["status"] = "pending"
            else:
                row["confirmed_at"] = created + min((now - created) / 10, timedelta(days=2))
                if weeks_ago >= 4 and j % 23 == 5:
                    row["status"] = "bounced"
                elif weeks_ago >= 4 and j % 17 == 3:
                    row["status"] = "unsubscribed"
                    row["unsubscribed_at"] = created + timedelta(weeks=2)
                void = j % 29 == 0
                redeemed = not void and weeks_ago >= 1 and j % 3 == 0
                coupons.append(
                    {
                        "status": "void" if void else "redeemed" if redeemed else "issued",
                        "issued_at": row["confirmed_at"],
                        "redeemed_at": created + (now - created) * 0.4 if redeemed else None,
                    }
                )
                expected.welcome_issued += not void
                expected.welcome_redeemed += redeemed
                expected.confirmed_by_source[row["source"]] += 1
            people.append(row)
            expected.statuses[row["status"]] += 1
            expected.sources[row["source"]] += 1

    for weeks_ago, subject, delivered, failed, bounced, unsubscribes in CAMPAIGNS:
        started = in_week(weeks_ago, 0.3)
        campaign_id = db.session.execute(
            insert(Campaign)
            .values(subject=subject, status="sent", started_at=started, audience_size=delivered)
            .returning(Campaign.id)
        ).scalar_one()
        deliveries = [{"status": "sent", "sent_at": started}] * delivered
        deliveries += [{"status": "failed", "smtp_response": "451 4.3.0 try later"}] * failed
        deliveries += [{"status": "failed", "smtp_response": "550 5.1.1 no such user"}] * bounced
        for _ in range(unsubscribes):
            reader = {
                "status": "unsubscribed",
                "source": "web",
                "created_at": in_week(25, 0.5),
                "confirmed_at": in_week(25, 0.5),
                "unsubscribed_at": started + timedelta(days=1),
            }
            # Credited to this newsletter when they left, as the unsubscribe does.
            deliveries.append(
                {
                    "status": "sent",
                    "sent_at": started,
                    "unsubscribed_at": reader["unsubscribed_at"],
                    "reader": reader,
                }
            )
            expected.statuses["unsubscribed"] += 1
            expected.sources["web"] += 1
            expected.confirmed_by_source["web"] += 1
        for delivery in deliveries:
            reader = delivery.pop("reader", None)
            subscriber_id = _insert_person(reader) if reader else None
            delivery.update(campaign_id=campaign_id, subscriber_id=subscriber_id)
        db.session.execute(insert(Delivery), deliveries)

    for row in people:
        tag = uuid.uuid4().hex[:12]
        row.update(email=f"{tag}@example.com", email_canonical=f"{tag}@example.com")
    db.session.execute(insert(Subscriber), people)
    for row in coupons:
        tag = uuid.uuid4().hex
        row.update(
            offer_id=offer_id,
            owner_key=tag,
            nonce=tag[:32],
            code_digest=tag,
            expires_at=row["issued_at"] + timedelta(days=90),
        )
    db.session.execute(insert(Coupon), coupons)
    db.session.commit()
    return expected


def _insert_person(row: dict) -> int:
    tag = uuid.uuid4().hex[:12]
    return db.session.execute(
        insert(Subscriber)
        .values(email=f"{tag}@example.com", email_canonical=f"{tag}@example.com", **row)
        .returning(Subscriber.id)
    ).scalar_one()


def table_rows(page: Page, chart: str) -> list[list[str]]:
    """Open the chart's table and read its body, cell by cell."""
    panel = page.locator(f"#panel-{chart}")
    panel.get_by_text("Table", exact=True).click()
    table = panel.locator("table")
    expect(table).to_be_visible()
    return table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )


def test_dashboard_draws_every_chart_with_its_table(desktop: Page, live_server, make_staff, ctx):
    expected = seed_history(utcnow())
    assert db.session.scalar(select(db.func.count()).select_from(Subscriber)) > 900
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)

    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page).to_have_url(f"{live_server}/staff/dashboard/")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    for key in CHARTS:
        svg = page.locator(f'svg[data-chart="{key}"]')
        expect(svg).to_be_visible()
        marks = svg.locator("path.chart-area, rect.chart-bar")
        assert marks.count() > 0, key
        # Something is actually drawn: at least one mark with a real size.
        drawn = marks.evaluate_all(
            "els => els.filter(e => { const b = e.getBBox(); return b.width * b.height > 4; })"
            ".length"
        )
        assert drawn > 0, f"{key} draws nothing"
        box = svg.bounding_box()
        assert box["width"] > 400, (key, box)
        assert box["height"] > 120, (key, box)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    page.screenshot(path=SCREENSHOT)
    page.screenshot(path=FULL_SCREENSHOT, full_page=True)

    statuses = expected.statuses
    cards = page.locator(".dash-stat")
    expect(cards.nth(0).locator(".dash-stat-label")).to_have_text("Confirmed subscribers")
    expect(cards.nth(0).locator(".dash-stat-value")).to_have_text(f"{statuses['confirmed']:,}")
    rate = expected.welcome_redeemed / expected.welcome_issued
    expect(cards.nth(2).locator(".dash-stat-value")).to_have_text(f"{rate * 100:.0f}%")
    expect(cards.nth(2)).to_contain_text(
        f"{expected.welcome_redeemed:,} of {expected.welcome_issued:,} coupons"
    )

    subscribers = table_rows(page, "subscribers")
    assert len(subscribers) == 26
    assert subscribers[-1][1:] == [
        f"{statuses[state]:,}" for state in ("confirmed", "pending", "unsubscribed", "bounced")
    ]

    sources = table_rows(page, "sources")
    assert sources == [
        [source, f"{expected.confirmed_by_source[source]:,}",
         f"{total - expected.confirmed_by_source[source]:,}"]
        for source, total in sorted(expected.sources.items(), key=lambda kv: (-kv[1], kv[0]))
    ]  # fmt: skip

    newest_first = list(reversed(CAMPAIGNS))
    assert table_rows(page, "campaigns") == [
        [subject, f"{delivered + unsubs:,}", str(failed + bounced), str(bounced), str(unsubs)]
        for _, subject, delivered, failed, bounced, unsubs in newest_first
    ]
    # The subject's "<offers>" is text, not markup.
    expect(page.locator('svg[data-chart="campaigns"]')).to_contain_text("Spring news & <offers>")

    coupons = table_rows(page, "coupons")
    assert len(coupons) == 26
    # Everything issued since the first week shown; the week shown first starts 25 weeks ago.
    assert sum(int(row[1].replace(",", "")) for row in coupons) > 0
    assert sum(int(row[2].replace(",", "")) for row in coupons) == expected.welcome_redeemed


def test_on_a_phone_the_weekly_chart_opens_at_the_newest_weeks(
    phone: Page, live_server, make_staff, ctx
):
    seed_history(utcnow())
    page = phone
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/dashboard/")
    frame = page.locator("#panel-subscribers .chart-frame")
    expect(frame).to_be_visible()
    scrolled = frame.evaluate("f => [f.scrollLeft, f.scrollWidth - f.clientWidth]")
    assert scrolled[1] > 0, "the chart fits the phone: nothing to test"
    assert scrolled[0] >= scrolled[1] - 1, scrolled
    expect(page.locator("#panel-subscribers .scroll-hint")).to_be_visible()
    # The newsletters chart lists the newest first: it stays at its start.
    assert page.locator("#panel-campaigns .chart-frame").evaluate("f => f.scrollLeft") == 0


def test_a_state_nobody_is_in_draws_no_line_on_top_of_the_stack(
    desktop: Page, live_server, make_staff, ctx
):
    now = utcnow()
    db.session.execute(
        insert(Subscriber),
        [
            {
                "email": (address := f"reader-{uuid.uuid4().hex[:8]}@example.com"),
                "email_canonical": address,
                "status": "confirmed",
                "source": "web",
                "created_at": now - timedelta(days=20),
                "confirmed_at": now - timedelta(days=20),
            }
            for _ in range(5)
        ],
    )
    db.session.commit()
    page = desktop
    log_in_as_marketing(page, live_server, make_staff)
    page.goto(f"{live_server}/staff/dashboard/")
    svg = page.locator('svg[data-chart="subscribers"]')
    expect(svg).to_be_visible()
    assert svg.locator("path.chart-line.chart-tone-green").count() == 1
    assert svg.locator("path.chart-line.chart-tone-red").count() == 0  # nobody bounced
    assert svg.locator("path.chart-area.chart-tone-red").count() == 0
