"""The dashboard's figures, aggregated in SQL so they stay fast on 100k subscribers.

Each function runs a few GROUP BY queries and returns small dataclasses: nothing loops
over subscribers, deliveries or coupons in Python, only over the 26 weeks or 12
campaigns the answer holds. Weeks start on Monday at midnight in the clinic's time zone
(``CLINIC_TIMEZONE``; the columns store UTC, so each week is a range of UTC times).

Erasing a subscriber leaves their deliveries and coupons behind with no subscriber
(``subscriber_id`` NULL). The delivery and coupon figures never join the subscriber
table, so they still count those rows, "unsubscribes caused" among them.

A person imported with a consent date came in confirmed: their ``confirmed_at`` (the
consent, given elsewhere) is older than their row. They joined this list when they
were imported, and we never asked them to confirm, so the growth counts them from the
import and the confirmation rate leaves them out (and says how many).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.sql import ColumnElement

from campaign import clinic
from campaign.campaigns.models import Campaign, Delivery, DeliveryStatus
from campaign.coupons.models import WELCOME, WELCOME_EXTRA, Coupon, CouponStatus, Offer
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus

WEEKS = 26
CAMPAIGNS = 12
SOURCES = 8
# "Recent" is the weeks the headline's change covers (this one and three before), so
# the growth and the confirmation rate beside it speak of the same people.
RECENT_WEEKS = 4


@dataclass(frozen=True)
class SubscriberWeek:
    """How many subscribers were in each state at the end of a week (or now, this week)."""

    week: date
    confirmed: int
    pending: int
    unsubscribed: int
    bounced: int


@dataclass(frozen=True)
class ConfirmationRate:
    """Signups asked to confirm that did (ever), all time and among those since ``since``.

    ``imported_confirmed``: people imported with a consent date, never asked, left out.
    """

    signups: int
    confirmed: int
    recent_signups: int
    recent_confirmed: int
    since: date
    imported_confirmed: int = 0

    @property
    def rate(self) -> float | None:
        return self.confirmed / self.signups if self.signups else None

    @property
    def recent_rate(self) -> float | None:
        return self.recent_confirmed / self.recent_signups if self.recent_signups else None


@dataclass(frozen=True)
class SourceCount:
    source: str
    signups: int
    confirmed: int


@dataclass(frozen=True)
class CampaignResult:
    """One newsletter's ledger: ``bounced`` is the part of ``failed`` refused with a 5xx."""

    campaign_id: int
    subject: str
    started_at: datetime
    sent: int
    failed: int
    bounced: int
    unsubscribes: int


@dataclass(frozen=True)
class CouponWeek:
    week: date
    issued: int
    redeemed: int


@dataclass(frozen=True)
class WelcomeRedemption:
    """Welcome-offer coupons issued (voided ones left out, and counted in ``voided``) and
    how many were redeemed, all time."""

    issued: int
    redeemed: int
    voided: int = 0

    @property
    def rate(self) -> float | None:
        return self.redeemed / self.issued if self.issued else None


@dataclass(frozen=True)
class Dashboard:
    as_of: datetime
    status_counts: dict[str, int]
    growth: list[SubscriberWeek]
    confirmation: ConfirmationRate
    sources: list[SourceCount]
    campaigns: list[CampaignResult]
    coupons: list[CouponWeek]
    welcome: WelcomeRedemption


def dashboard(now: datetime | None = None) -> Dashboard:
    """Every figure the dashboard shows, as of ``now`` (naive UTC)."""
    now = now or utcnow()
    skip_jit_compilation()
    return Dashboard(
        as_of=now,
        status_counts=status_counts(),
        growth=subscriber_growth(now),
        confirmation=confirmation_rate(now),
        sources=signups_by_source(),
        campaigns=campaign_results(),
        coupons=coupons_by_week(now),
        welcome=welcome_redemption(),
    )


# The only dialect-specific SQL lives in this helper.


def skip_jit_compilation() -> None:
    """PostgreSQL: no JIT for the rest of this transaction.

    Per-person lookups make the planner's estimates large enough to JIT-compile, which
    takes about a second, while the queries themselves run in tens of milliseconds.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


@dataclass(frozen=True)
class Weeks:
    """The clinic's Mondays of the last weeks, this week's last, and the stored (naive
    UTC) time at which each begins: midnight there, summer time or not."""

    mondays: list[date]
    starts: list[datetime]


def _weeks(now: datetime, count: int) -> Weeks:
    today = clinic.local_time(now).date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=back) for back in range(count - 1, -1, -1)]
    return Weeks(mondays, [clinic.utc_time(datetime.combine(day, time())) for day in mondays])


def _count_by_week(moment: ColumnElement, weeks: Weeks, *criteria) -> dict[date | None, int]:
    """Rows per week of ``moment``; rows from before the first week are under None."""
    # The week's number: the first start the moment is before (one comparison each in
    # SQL, the same on every database; 0 is before the first week).
    bucket = case(
        *((moment < start, number) for number, start in enumerate(weeks.starts)),
        else_=len(weeks.starts),
    ).label("week")
    # Grouping a subquery's column: PostgreSQL cannot match an expression with parameters.
    rows = select(bucket).where(moment.is_not(None), *criteria).subquery()
    counts = db.session.execute(select(rows.c.week, func.count()).group_by(rows.c.week))
    return {(weeks.mondays[number - 1] if number else None): count for number, count in counts}


def _running_totals(counts: dict[date | None, int], weeks: list[date]) -> list[int]:
    total = counts.get(None, 0)
    totals = []
    for week in weeks:
        total += counts.get(week, 0)
        totals.append(total)
    return totals


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _came_in_confirmed() -> ColumnElement[bool]:
    """Imported with a consent date: confirmed before their row existed (never NULL)."""
    return and_(
        Subscriber.confirmed_at.is_not(None), Subscriber.confirmed_at < Subscriber.created_at
    )


def _confirmed_here_at() -> ColumnElement:
    """When a person became a confirmed subscriber of this list: their confirmation, or
    the import that brought them in already confirmed."""
    return case((_came_in_confirmed(), Subscriber.created_at), else_=Subscriber.confirmed_at)


def status_counts() -> dict[str, int]:
    """Subscribers in each state now; every state is present, zero if none."""
    counts = dict.fromkeys(SubscriberStatus, 0)
    rows = db.session.execute(
        select(Subscriber.status, func.count()).group_by(Subscriber.status)
    ).all()
    counts.update({SubscriberStatus(status): count for status, count in rows})
    return {status.value: count for status, count in counts.items()}


def subscriber_growth(now: datetime, weeks: int = WEEKS) -> list[SubscriberWeek]:
    """Subscribers per state at the end of each of the last ``weeks`` weeks.

    Rebuilt from each person's current state and timestamps: pending from
    ``created_at``; confirmed from ``confirmed_at``, or from ``created_at`` for a person
    imported already confirmed (the list grew on the day of the import, and newsletters
    before it did not reach them); unsubscribed from ``unsubscribed_at``. Bounced has no
    timestamp of its own, so it counts from the subscriber's last hard-bounced delivery
    (when it was claimed for sending), else from their confirmation. A person who left
    and came back is shown in their current round only. The last week ends now, so it
    matches ``status_counts()``.
    """
    weeks_shown = _weeks(now, weeks)
    mondays = weeks_shown.mondays
    person = Subscriber
    was_confirmed = person.confirmed_at.is_not(None)
    unsubscribed = person.status == SubscriberStatus.UNSUBSCRIBED
    left_at = func.coalesce(person.unsubscribed_at, person.created_at)
    bounced = _bounced_subscribers()
    bounced_was_confirmed = bounced.c.confirmed_at.is_not(None)

    def running(moment: ColumnElement, *criteria) -> list[int]:
        return _running_totals(_count_by_week(moment, weeks_shown, *criteria), mondays)

    # An imported person's consent (their confirmed_at) can predate the import that
    # created their row: they joined this list, confirmed, when they were imported.
    signed_up = running(person.created_at)
    confirmed = running(_confirmed_here_at(), person.status != SubscriberStatus.PENDING)
    unsub_confirmed = running(left_at, unsubscribed, was_confirmed)
    unsub_pending = running(left_at, unsubscribed, ~was_confirmed)
    bounce_confirmed = running(bounced.c.bounced_at, bounced_was_confirmed)
    bounce_pending = running(bounced.c.bounced_at, ~bounced_was_confirmed)
    return [
        SubscriberWeek(
            week=monday,
            confirmed=confirmed[i] - unsub_confirmed[i] - bounce_confirmed[i],
            pending=signed_up[i] - confirmed[i] - unsub_pending[i] - bounce_pending[i],
            unsubscribed=unsub_confirmed[i] + unsub_pending[i],
            bounced=bounce_confirmed[i] + bounce_pending[i],
        )
        for i, monday in enumerate(mondays)
    ]


def _bounced_subscribers():
    """Bounced subscribers and when: their last hard bounce, else their confirmation."""
    hard_bounce = and_(
        Delivery.subscriber_id == Subscriber.id,
        Delivery.status == DeliveryStatus.FAILED,
        Delivery.smtp_response.like("5%"),
    )
    bounced_at = func.coalesce(
        func.max(Delivery.claimed_at), _confirmed_here_at(), Subscriber.created_at
    )
    return (
        select(Subscriber.confirmed_at, bounced_at.label("bounced_at"))
        .outerjoin(Delivery, hard_bounce)
        .where(Subscriber.status == SubscriberStatus.BOUNCED)
        .group_by(Subscriber.id, Subscriber.confirmed_at, Subscriber.created_at)
        .subquery()
    )


def confirmation_rate(now: datetime, weeks: int = RECENT_WEEKS) -> ConfirmationRate:
    """Of the people asked to confirm by email (signups, and imports without a consent
    date), those who ever did (``confirmed_at`` set): all of them, and those who signed
    up since the clinic's Monday ``weeks`` - 1 weeks before this one.

    People imported already confirmed were never asked: counting them would make an
    import of 400 read as 400 signups who all confirmed. They are counted apart.
    """
    since = _weeks(now, weeks)
    recent = Subscriber.created_at >= since.starts[0]
    confirmed = Subscriber.confirmed_at.is_not(None)
    imported = _came_in_confirmed()
    asked = ~imported
    everyone, everyone_confirmed, recent_signups, recent_confirmed, imported_count = (
        db.session.execute(
            select(
                func.count(),
                func.count(Subscriber.confirmed_at),
                _count_if(and_(asked, recent)),
                _count_if(and_(asked, recent, confirmed)),
                _count_if(imported),
            )
        ).one()
    )
    # Everyone imported already confirmed has a confirmed_at.
    signups, confirmed_count = everyone - imported_count, everyone_confirmed - imported_count
    return ConfirmationRate(
        signups,
        confirmed_count,
        recent_signups,
        recent_confirmed,
        since=since.mondays[0],
        imported_confirmed=imported_count,
    )


def signups_by_source(limit: int = SOURCES) -> list[SourceCount]:
    """Signups (current subscribers) per source, the largest first, and how many confirmed."""
    signups = func.count().label("signups")
    rows = db.session.execute(
        select(Subscriber.source, signups, func.count(Subscriber.confirmed_at))
        .group_by(Subscriber.source)
        .order_by(signups.desc(), Subscriber.source)
        .limit(limit)
    )
    return [SourceCount(source, total, confirmed) for source, total, confirmed in rows]


def campaign_results(limit: int = CAMPAIGNS) -> list[CampaignResult]:
    """Sent, failed, bounced and unsubscribes caused, for the last campaigns that started.

    *Bounced* is a failed delivery whose SMTP answer was a 5xx. *Unsubscribes caused*:
    readers who got this newsletter and unsubscribed within a week of its delivery to
    them, with no other newsletter delivered to them in between, credited to it when they
    left (``campaigns.receivers.credit_unsubscribe``); each
    unsubscribe counts against one newsletter at most.
    """
    campaigns = db.session.execute(
        select(Campaign.id, Campaign.subject, Campaign.started_at)
        .where(Campaign.started_at.is_not(None))
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
        .limit(limit)
    ).all()
    ids = [campaign.id for campaign in campaigns]
    # Grouped on the (campaign_id, status) index; only failures are read for their answer.
    counts = {
        (campaign_id, status): count
        for campaign_id, status, count in db.session.execute(
            select(Delivery.campaign_id, Delivery.status, func.count())
            .where(Delivery.campaign_id.in_(ids))
            .group_by(Delivery.campaign_id, Delivery.status)
        )
    }
    bounces = dict(
        db.session.execute(
            select(Delivery.campaign_id, func.count())
            .where(
                Delivery.campaign_id.in_(ids),
                Delivery.status == DeliveryStatus.FAILED,
                Delivery.smtp_response.like("5%"),
            )
            .group_by(Delivery.campaign_id)
        ).all()
    )
    # Each unsubscribe was credited to one delivery when it happened (a few rows, on
    # their own index), so it stays counted when the reader comes back or is erased.
    unsubscribes = dict(
        db.session.execute(
            select(Delivery.campaign_id, func.count())
            .where(Delivery.campaign_id.in_(ids), Delivery.unsubscribed_at.is_not(None))
            .group_by(Delivery.campaign_id)
        ).all()
    )
    return [
        CampaignResult(
            campaign_id=campaign.id,
            subject=campaign.subject,
            started_at=campaign.started_at,
            sent=counts.get((campaign.id, DeliveryStatus.SENT), 0),
            failed=counts.get((campaign.id, DeliveryStatus.FAILED), 0),
            bounced=bounces.get(campaign.id, 0),
            unsubscribes=unsubscribes.get(campaign.id, 0),
        )
        for campaign in campaigns
    ]


def coupons_by_week(now: datetime, weeks: int = WEEKS) -> list[CouponWeek]:
    """Coupons issued (any offer, any state, voided ones too) in the week of their issue,
    and redeemed (still redeemed, any offer) in the week of their redemption."""
    shown = _weeks(now, weeks)
    issued = _count_by_week(Coupon.issued_at, shown)
    redeemed = _count_by_week(Coupon.redeemed_at, shown, Coupon.status == CouponStatus.REDEEMED)
    return [
        CouponWeek(monday, issued.get(monday, 0), redeemed.get(monday, 0))
        for monday in shown.mondays
    ]


def welcome_redemption() -> WelcomeRedemption:
    """Welcome-offer coupons redeemed, of those issued and not voided (all time); a
    voided one could never be used, so it is counted apart."""
    voided = Coupon.status == CouponStatus.VOID
    issued, redeemed, voided_count = db.session.execute(
        select(
            _count_if(~voided),
            _count_if(Coupon.status == CouponStatus.REDEEMED),
            _count_if(voided),
        )
        .join(Offer, Offer.id == Coupon.offer_id)
        .where(Offer.kind.in_([WELCOME, WELCOME_EXTRA]))
    ).one()
    return WelcomeRedemption(issued, redeemed, voided_count)
