"""The dashboard's charts, drawn from its figures: which numbers, which colours, which words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from campaign.dashboard import charts
from campaign.dashboard.charts import Chart, Series
from campaign.dashboard.services import Dashboard


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    detail: str
    meter: Markup | None = None


def headlines(figures: Dashboard) -> list[Headline]:
    """The few numbers at the top: list size, confirmation, welcome-offer redemption.

    Each detail names what it counts, since the charts beside them count differently
    (every offer, voided coupons too, over the weeks shown).
    """
    confirmed = figures.status_counts["confirmed"]
    growth = figures.growth
    rates = figures.confirmation
    # The change covers the weeks of the recent confirmation rate: from the end of the
    # Sunday before ``rates.since`` (the week before's count) until now.
    weeks = [row.week for row in growth]
    start = weeks.index(rates.since) if rates.since in weeks else 0
    change = confirmed - growth[start - 1].confirmed if start > 0 else None
    welcome = figures.welcome
    since = _short(rates.since)
    confirmation = (
        f"Since {since}: {charts.percent(rates.recent_rate)} "
        f"of {charts.number(rates.recent_signups)} signups"
    )
    if rates.imported_confirmed:
        confirmation += (
            f"; not counting {charts.number(rates.imported_confirmed)} imported as confirmed"
        )
    redeemed = (
        f"{charts.number(welcome.redeemed)} of {charts.number(welcome.issued)} coupons, all time"
    )
    if welcome.voided:
        redeemed += f"; not counting {charts.number(welcome.voided)} voided"
    return [
        Headline(
            "Confirmed subscribers",
            charts.number(confirmed),
            f"{change:+,} since {since}" if change is not None else "",
        ),
        Headline(
            "Confirmation rate", charts.percent(rates.rate), confirmation, charts.meter(rates.rate)
        ),
        Headline(
            "Welcome offer redeemed",
            charts.percent(welcome.rate),
            redeemed,
            charts.meter(welcome.rate, "blue"),
        ),
        Headline(
            "Pending confirmation",
            charts.number(figures.status_counts["pending"]),
            f"{charts.number(figures.status_counts['unsubscribed'])} unsubscribed, "
            f"{charts.number(figures.status_counts['bounced'])} bounced",
        ),
    ]


def _short(week: date) -> str:
    return f"{week.day} {week:%b}"


def _long(week: date) -> str:
    return f"Week of {week.day} {week:%b %Y}"


def subscribers_chart(figures: Dashboard) -> Chart:
    weeks = [row.week for row in figures.growth]
    return charts.stacked_area_chart(
        "subscribers",
        "Subscribers over time",
        f"Subscribers in each state at the end of each week, for the last {len(weeks)} weeks; "
        "people imported count from the day of their import.",
        [_short(week) for week in weeks],
        [_long(week) for week in weeks],
        [
            Series("Confirmed", "green", [row.confirmed for row in figures.growth]),
            Series("Pending", "amber", [row.pending for row in figures.growth]),
            Series("Unsubscribed", "grey", [row.unsubscribed for row in figures.growth]),
            Series("Bounced", "red", [row.bounced for row in figures.growth]),
        ],
    )


def sources_chart(figures: Dashboard) -> Chart:
    rows = figures.sources
    return charts.bar_chart(
        "sources",
        "Signups by source",
        "Signups from each source, split into confirmed and not (yet) confirmed.",
        [row.source for row in rows],
        [
            Series("Confirmed", "green", [row.confirmed for row in rows]),
            Series("Not confirmed", "light", [row.signups - row.confirmed for row in rows]),
        ],
        first_column="Source",
        label_width=110,
    )


def coupons_chart(figures: Dashboard) -> Chart:
    weeks = [row.week for row in figures.coupons]
    return charts.column_chart(
        "coupons",
        "Coupons issued and redeemed",
        f"Coupons of every offer issued (voided ones too) and redeemed (redemptions not "
        f"undone) in each of the last {len(weeks)} weeks; the key gives the totals of "
        "these weeks.",
        [_short(week) for week in weeks],
        [_long(week) for week in weeks],
        [
            Series("Issued", "blue", [row.issued for row in figures.coupons]),
            Series("Redeemed", "green", [row.redeemed for row in figures.coupons]),
        ],
    )


def campaigns_chart(figures: Dashboard) -> Chart:
    rows = figures.campaigns
    sent = Series("Sent", "green", [row.sent for row in rows])
    bounced = Series("Bounced", "red", [row.bounced for row in rows])
    unsubscribes = Series("Unsubscribes", "grey", [row.unsubscribes for row in rows])
    return charts.bar_table(
        "campaigns",
        "Newsletter results",
        "For each recent newsletter, newest first: messages sent; failures, of which "
        "bounces; and readers who unsubscribed within a week of receiving it. Every bar "
        "is on one scale, so equal lengths are equal numbers of messages.",
        [row.subject for row in rows],
        [
            charts.Column("Sent", [sent]),
            charts.Column(
                "Failed",
                [bounced, Series("Other failures", "amber", [r.failed - r.bounced for r in rows])],
            ),
            charts.Column("Unsubscribes caused", [unsubscribes]),
        ],
        [sent, Series("Failed", "amber", [row.failed for row in rows]), bounced, unsubscribes],
        first_column="Newsletter",
    )


def all_charts(figures: Dashboard) -> dict[str, Chart]:
    return {
        "subscribers": subscribers_chart(figures),
        "sources": sources_chart(figures),
        "coupons": coupons_chart(figures),
        "campaigns": campaigns_chart(figures),
    }
