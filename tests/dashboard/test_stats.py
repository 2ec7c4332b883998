"""The dashboard's figures on a known dataset, exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select, update

from campaign.campaigns.models import Campaign, Delivery
from campaign.campaigns.receivers import credit_unsubscribe
from campaign.coupons.models import Coupon, Offer
from campaign.dashboard import panels, services
from campaign.dashboard.services import (
    CampaignResult,
    ConfirmationRate,
    CouponWeek,
    SourceCount,
    SubscriberWeek,
)
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.campaigns.helpers import add_confirmed

# A Wednesday. Its week starts on Monday 16 March; the 26-week window on 22 September.
NOW = datetime(2026, 3, 18, 12, 0)
LONG_AGO = datetime(2025, 6, 1, 10, 0)  # before the window
W0, W1, W2, W3 = date(2026, 3, 16), date(2026, 3, 9), date(2026, 3, 2), date(2026, 2, 23)
OLD_SEND = datetime(2026, 3, 5, 9, 0)  # "March offers"
NEW_SEND = datetime(2026, 3, 10, 9, 0)  # "Spring news"


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour)


def person(status: str, created: datetime, source: str = "test", **moments) -> int:
    tag = uuid.uuid4().hex[:10]
    return db.session.execute(
        insert(Subscriber)
        .values(
            email=f"{tag}@example.com",
            email_canonical=f"{tag}@example.com",
            status=status,
            source=source,
            created_at=created,
            **moments,
        )
        .returning(Subscriber.id)
    ).scalar_one()


def confirmed_people(count: int, created: datetime, confirmed: datetime, source: str) -> list[int]:
    """add_confirmed, moved back to the given moments."""
    emails = add_confirmed(count)
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.email.in_(emails))
        .values(created_at=created, confirmed_at=confirmed, source=source)
    )
    return list(db.session.scalars(select(Subscriber.id).where(Subscriber.email.in_(emails))))


def campaign(subject: str, started_at: datetime | None, status: str = "sent") -> int:
    return db.session.execute(
        insert(Campaign)
        .values(subject=subject, status=status, started_at=started_at)
        .returning(Campaign.id)
    ).scalar_one()


def deliver(campaign_id: int, subscriber_id: int | None, status: str = "sent", **values) -> None:
    db.session.execute(
        insert(Delivery).values(
            campaign_id=campaign_id, subscriber_id=subscriber_id, status=status, **values
        )
    )


def coupon(offer_id: int, issued: datetime, status: str = "issued", **values) -> None:
    tag = uuid.uuid4().hex
    db.session.execute(
        insert(Coupon).values(
            offer_id=offer_id,
            owner_key=tag,
            nonce=tag[:32],
            code_digest=tag,
            status=status,
            issued_at=issued,
            expires_at=issued + timedelta(days=90),
            **values,
        )
    )


def seed() -> dict[str, int]:
    """16 people, 3 campaigns (one a draft), 7 coupons; the expected figures follow."""
    a = confirmed_people(4, LONG_AGO, LONG_AGO, "test")
    b = confirmed_people(3, at("2026-03-03"), at("2026-03-10"), "web")
    for _ in range(2):
        person("pending", at("2026-03-17"), "web")
    person("pending", LONG_AGO, "import")
    # E: got both newsletters, unsubscribed the day after the second.
    e = [
        person("unsubscribed", LONG_AGO, confirmed_at=LONG_AGO, unsubscribed_at=at("2026-03-11", 8))
        for _ in range(2)
    ]
    person("unsubscribed", at("2026-02-24"), "api", unsubscribed_at=at("2026-02-25"))
    g = person("bounced", LONG_AGO, confirmed_at=LONG_AGO, bounce_count=1)
    # H: unsubscribed 8 days after the last newsletter: not counted against it.
    h = person(
        "unsubscribed", LONG_AGO, confirmed_at=LONG_AGO, unsubscribed_at=at("2026-03-18", 10)
    )
    # J: unsubscribed on a Sunday, three days after the first newsletter.
    j = person(
        "unsubscribed", LONG_AGO, confirmed_at=LONG_AGO, unsubscribed_at=at("2026-03-08", 23)
    )

    old = campaign("March offers", OLD_SEND)
    new = campaign("Spring news", NEW_SEND)
    campaign("Draft, never sent", None, status="draft")
    for subscriber_id in [*a[:3], *e, j]:
        deliver(old, subscriber_id, sent_at=OLD_SEND, smtp_response="250 OK")
    deliver(old, a[3], "failed", smtp_response="451 4.7.1 try again later")
    for subscriber_id in [*a, *e, h]:
        deliver(new, subscriber_id, sent_at=NEW_SEND, smtp_response="250 OK")
    deliver(new, b[0], "skipped")
    deliver(new, g, "failed", claimed_at=at("2026-03-10", 10), smtp_response="550 no such user")
    # Erased readers leave anonymous rows behind; they still count.
    deliver(new, None, sent_at=NEW_SEND, smtp_response="250 OK")
    deliver(new, None, sent_at=NEW_SEND, smtp_response="250 OK")
    deliver(new, None, "failed", smtp_response="550 mailbox unavailable")
    # Each unsubscribe credited as it happened: E's to the later newsletter, J's to the
    # first, H's to none.
    for subscriber_id, moment in [
        *((one, at("2026-03-11", 8)) for one in e),
        (h, at("2026-03-18", 10)),
        (j, at("2026-03-08", 23)),
    ]:
        credit_unsubscribe(subscriber_id, at=moment)

    welcome = db.session.execute(
        insert(Offer).values(kind="welcome", title="Free oil").returning(Offer.id)
    ).scalar_one()
    promo = db.session.execute(
        insert(Offer).values(kind="promo", title="Spring promo").returning(Offer.id)
    ).scalar_one()
    coupon(welcome, at("2026-03-03"), "redeemed", subscriber_id=b[0], redeemed_at=at("2026-03-11"))
    coupon(welcome, at("2026-03-03"), subscriber_id=b[1])
    coupon(welcome, at("2026-03-10"), "void", subscriber_id=b[2])
    coupon(welcome, at("2026-03-17"), "redeemed", redeemed_at=at("2026-03-18"))  # erased owner
    coupon(welcome, LONG_AGO, "redeemed", subscriber_id=a[0], redeemed_at=at("2025-06-10"))
    coupon(welcome, at("2025-12-01") + timedelta(days=9), subscriber_id=a[1])  # expired
    coupon(promo, at("2026-03-10"), "redeemed", subscriber_id=a[2], redeemed_at=at("2026-03-12"))
    db.session.commit()
    return {"old": old, "new": new}


@pytest.fixture
def seeded(ctx) -> dict[str, int]:
    return seed()


def test_status_counts(seeded):
    assert services.status_counts() == {
        "pending": 3,
        "confirmed": 7,
        "unsubscribed": 5,
        "bounced": 1,
    }


def test_subscribers_over_time(seeded):
    growth = services.subscriber_growth(NOW)

    assert len(growth) == 26
    assert growth[0].week == date(2025, 9, 22)
    assert [row.week for row in growth[-4:]] == [W3, W2, W1, W0]
    # Everything before the window is the starting point.
    before = SubscriberWeek(date(2025, 9, 22), confirmed=9, pending=1, unsubscribed=0, bounced=0)
    assert growth[0] == before
    assert all(
        (row.confirmed, row.pending, row.unsubscribed, row.bounced) == (9, 1, 0, 0)
        for row in growth[:22]
    )
    assert growth[-4:] == [
        # F signed up and left while pending.
        SubscriberWeek(W3, confirmed=9, pending=1, unsubscribed=1, bounced=0),
        # B signed up; J unsubscribed on Sunday, the last day of the week.
        SubscriberWeek(W2, confirmed=8, pending=4, unsubscribed=2, bounced=0),
        # B confirmed, E unsubscribed, G bounced on the newsletter of the 10th.
        SubscriberWeek(W1, confirmed=8, pending=1, unsubscribed=4, bounced=1),
        # Two new signups; H unsubscribed.
        SubscriberWeek(W0, confirmed=7, pending=3, unsubscribed=5, bounced=1),
    ]
    # The last week ends now: it matches the current counts.
    assert services.status_counts() == {
        "confirmed": growth[-1].confirmed,
        "pending": growth[-1].pending,
        "unsubscribed": growth[-1].unsubscribed,
        "bounced": growth[-1].bounced,
    }


def test_confirmation_rate(seeded):
    rates = services.confirmation_rate(NOW)

    # "Recent": since the Monday three weeks before this one, as the headline's change.
    assert rates == ConfirmationRate(
        signups=16, confirmed=12, recent_signups=6, recent_confirmed=3, since=W3
    )
    assert rates.rate == 0.75
    assert rates.recent_rate == 0.5


def test_signups_by_source(seeded):
    assert services.signups_by_source() == [
        SourceCount("test", signups=9, confirmed=9),
        SourceCount("web", signups=5, confirmed=3),
        SourceCount("api", signups=1, confirmed=0),
        SourceCount("import", signups=1, confirmed=0),
    ]


def test_campaign_results(seeded):
    assert services.campaign_results() == [
        # 2 anonymous deliveries sent and 1 failed count; the skipped one does not.
        CampaignResult(
            seeded["new"], "Spring news", NEW_SEND, sent=9, failed=2, bounced=2, unsubscribes=2
        ),
        # E's unsubscribes go to the later newsletter; J's to this one. A 4xx is no bounce.
        CampaignResult(
            seeded["old"], "March offers", OLD_SEND, sent=6, failed=1, bounced=0, unsubscribes=1
        ),
    ]
    assert [row.subject for row in services.campaign_results(limit=1)] == ["Spring news"]


def test_coupons_by_week(seeded):
    weeks = services.coupons_by_week(NOW)

    assert len(weeks) == 26
    assert weeks[-4:] == [
        CouponWeek(W3, issued=0, redeemed=0),
        CouponWeek(W2, issued=2, redeemed=0),
        CouponWeek(W1, issued=2, redeemed=2),
        CouponWeek(W0, issued=1, redeemed=1),
    ]
    assert sum(week.issued for week in weeks) == 6  # the one from June is before the window
    assert sum(week.redeemed for week in weeks) == 3


def test_welcome_offer_redemption_rate(seeded):
    welcome = services.welcome_redemption()

    # Voided coupons and other offers are left out; the anonymous one counts.
    assert (welcome.issued, welcome.redeemed, welcome.voided) == (5, 3, 1)
    assert welcome.rate == 0.6


def test_empty_database(ctx):
    figures = services.dashboard(NOW)

    assert figures.status_counts == {"pending": 0, "confirmed": 0, "unsubscribed": 0, "bounced": 0}
    assert figures.growth[-1] == SubscriberWeek(W0, 0, 0, 0, 0)
    assert figures.confirmation.rate is None
    assert figures.sources == []
    assert figures.campaigns == []
    assert figures.coupons[-1] == CouponWeek(W0, 0, 0)
    assert figures.welcome.rate is None


@pytest.mark.parametrize(
    ("zone", "moment", "monday"),
    [
        ("Europe/London", datetime(2026, 3, 8, 23, 59, 59), date(2026, 3, 2)),  # Sunday night
        ("Europe/London", datetime(2026, 3, 9, 0, 0), date(2026, 3, 9)),  # Monday midnight
        ("Europe/London", datetime(2026, 1, 1, 8, 0), date(2025, 12, 29)),  # across a year end
        # 22:00 UTC on Sunday is 09:00 on Monday in Sydney (summer time, UTC+11).
        ("Australia/Sydney", datetime(2026, 3, 8, 22, 0), date(2026, 3, 9)),
        # 03:00 UTC on Monday is 23:00 on Sunday in New York (summer time since 8 March).
        ("America/New_York", datetime(2026, 3, 9, 3, 0), date(2026, 3, 2)),
    ],
)
def test_weeks_follow_the_clinics_calendar(app, ctx, monkeypatch, zone, moment, monday):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", zone)
    person("pending", moment)
    weeks = services.subscriber_growth(NOW)
    first = next(week for week in weeks if week.pending)
    assert first.week == monday
    coupons = services.coupons_by_week(NOW)
    assert [week.week for week in coupons][-1] == W0


def test_the_work_is_done_by_aggregate_queries(seeded):
    """The number of queries does not grow with the data: no per-row work in Python."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        services.dashboard(NOW)
        few = len(statements)
        add_confirmed(300)
        statements.clear()
        figures = services.dashboard(NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert figures.status_counts["confirmed"] == 307
    assert len(statements) == few <= 16
    subscriber_reads = [s for s in statements if "FROM subscriber" in s]
    assert subscriber_reads
    assert all("count(" in s.lower() or "GROUP BY" in s for s in subscriber_reads), statements


def test_an_imported_list_joins_on_the_day_of_its_import_never_as_negative_pending(ctx):
    imported_on = NOW - timedelta(days=3)  # Sunday 15 March, in week W1
    consented = NOW - timedelta(weeks=6)
    confirmed_people(40, created=imported_on, confirmed=consented, source="import")
    growth = services.subscriber_growth(NOW)
    assert all(week.pending == 0 for week in growth), [w.pending for w in growth]
    # Newsletters before the import never reached them: the list grew that week.
    assert [(w.week, w.confirmed) for w in growth[-4:]] == [(W3, 0), (W2, 0), (W1, 40), (W0, 40)]
    assert growth[-1].confirmed == services.status_counts()["confirmed"] == 40


def test_people_imported_confirmed_are_no_signups_of_the_confirmation_rate(ctx):
    # An import of 400 with consent dates of long ago, and 8 people who signed up.
    confirmed_people(400, created=at("2026-03-04"), confirmed=LONG_AGO, source="import")
    confirmed_people(6, created=at("2026-03-02"), confirmed=at("2026-03-03"), source="web")
    for _ in range(2):
        person("pending", at("2026-03-17"), "web")
    # Imported without a consent date: asked to confirm by email, so counted.
    person("pending", at("2026-03-04"), "import", confirmation_sent_at=at("2026-03-04"))

    rates = services.confirmation_rate(NOW)

    assert rates == ConfirmationRate(
        signups=9, confirmed=6, recent_signups=9, recent_confirmed=6, since=W3,
        imported_confirmed=400,
    )  # fmt: skip
    cards = {card.label: card for card in panels.headlines(services.dashboard(NOW))}
    assert (cards["Confirmed subscribers"].value, cards["Confirmed subscribers"].detail) == (
        "406",
        "+406 since 23 Feb",
    )
    assert cards["Confirmation rate"].value == "67%"
    assert cards["Confirmation rate"].detail == (
        "Since 23 Feb: 67% of 9 signups; not counting 400 imported as confirmed"
    )


@pytest.mark.parametrize(("zone", "counted"), [("Europe/London", 0), ("Australia/Sydney", 1)])
def test_recent_signups_start_at_the_clinics_monday_midnight(app, ctx, monkeypatch, zone, counted):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", zone)
    # 14:00 UTC on Sunday 22 February: still Sunday in London, Monday 01:00 in Sydney.
    person("pending", datetime(2026, 2, 22, 14, 0))
    rates = services.confirmation_rate(NOW)
    assert rates.since == W3
    assert (rates.signups, rates.recent_signups) == (1, counted)


def test_the_coupon_figures_say_what_they_count(seeded):
    figures = services.dashboard(NOW)
    cards = {card.label: card for card in panels.headlines(figures)}
    # Welcome offer, all time, the voided one apart: 3 of 5, not counting 1 voided.
    assert cards["Welcome offer redeemed"].detail == (
        "3 of 5 coupons, all time; not counting 1 voided"
    )
    # The chart: every offer, voided ones too, over the 26 weeks shown (June's is before).
    chart = panels.coupons_chart(figures)
    assert "Issued <strong>6</strong>" in chart.legend
    assert "Redeemed <strong>3</strong>" in chart.legend
    assert "voided ones too" in chart.svg
