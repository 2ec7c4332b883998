"""The SVG chart helpers and the dashboard page as the server renders it."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from campaign.dashboard import charts, panels
from campaign.dashboard.charts import Series
from campaign.dashboard.services import CampaignResult, Dashboard
from tests.campaigns.helpers import add_confirmed
from tests.staff.helpers import log_in


def test_nice_ticks():
    assert charts.nice_ticks(0) == [0, 1]
    assert charts.nice_ticks(3) == [0, 1, 2, 3]
    assert charts.nice_ticks(9) == [0, 5, 10]
    assert charts.nice_ticks(412) == [0, 200, 400, 600]
    assert charts.nice_ticks(100_000) == [0, 50_000, 100_000]


def test_percent():
    assert charts.percent(None) == "\u2014"
    assert charts.percent(0.75) == "75%"
    assert charts.percent(0.045) == "4.5%"
    assert charts.percent(1) == "100%"


def test_text_is_escaped_everywhere():
    evil = '<script>alert("x")</script> & co'
    chart = charts.bar_chart(
        "evil",
        evil,
        evil,
        [evil],
        [Series(evil, "green", [3]), Series("Other", "red", [1])],
        first_column=evil,
    )
    for part in (chart.svg, chart.legend, chart.table):
        assert "<script>" not in part
        assert "&lt;script&gt;" in part
    assert 'role="img"' in chart.svg
    assert 'aria-labelledby="evil-title evil-desc"' in chart.svg


def test_bars_are_proportional():
    chart = charts.bar_chart(
        "b", "B", "B", ["one", "two"], [Series("N", "green", [10, 5])], first_column="Label"
    )
    widths = [float(w) for w in re.findall(r'<rect[^>]*width="([\d.]+)"', chart.svg)]
    assert widths[0] == 2 * widths[1] > 0
    assert '<td class="num">10</td>' in chart.table


def bar_widths(svg: str) -> dict[str, float]:
    """Each bar's width by its tooltip ("row: series value")."""
    return {
        title: float(width)
        for width, title in re.findall(
            r'<rect[^>]*width="([\d.]+)"[^>]*><title>([^<]+)</title>', svg
        )
    }


def test_bar_table_draws_every_column_on_one_scale():
    chart = charts.bar_table(
        "t",
        "T",
        "T",
        ["a", "b"],
        [
            charts.Column("Big", [Series("Big", "green", [600, 300])]),
            charts.Column("Small", [Series("Small", "red", [4, 2])]),
        ],
        [Series("Big", "green", [600, 300]), Series("Small", "red", [4, 2])],
        first_column="Row",
    )
    widths = bar_widths(chart.svg)
    per_unit = widths["a: Big 600"] / 600
    # 4 is a hundred and fiftieth of 600 in length too (to the tenth of a pixel drawn).
    for title, value in [("b: Big 300", 300), ("a: Small 4", 4), ("b: Small 2", 2)]:
        assert widths[title] == pytest.approx(value * per_unit, abs=0.06), title
    assert '<th scope="row">b</th><td class="num">300</td><td class="num">2</td>' in chart.table


def test_newsletter_results_compare_on_one_scale(seeded_results):
    chart = panels.campaigns_chart(seeded_results)
    widths = bar_widths(chart.svg)
    per_message = widths["Spring news: Sent 407"] / 407
    assert per_message > 0.5
    assert widths["Spring news: Unsubscribes 2"] == pytest.approx(2 * per_message, abs=0.06)
    assert widths["Spring news: Bounced 3"] == pytest.approx(3 * per_message, abs=0.06)
    # The figures stay as text beside the bars and in the table.
    assert ">2</text>" in chart.svg
    assert "one scale" in chart.svg
    # The columns do not overlap: each starts after the previous one's longest bar.
    starts = [
        float(x) for x in re.findall(r'<text x="([\d.]+)" y="16" class="chart-heading"', chart.svg)
    ]
    assert starts == sorted(starts)
    assert starts[1] > starts[0] + 407 * per_message
    assert starts[-1] + len("Unsubscribes caused") * charts.HEADING_CHARACTER <= 1040


@pytest.fixture
def seeded_results() -> Dashboard:
    campaigns = [
        CampaignResult(2, "Spring news", datetime(2026, 3, 10), 407, 5, 3, 2),
        CampaignResult(1, "March offers", datetime(2026, 3, 3), 380, 0, 0, 1),
    ]
    return Dashboard(
        as_of=datetime(2026, 3, 18),
        status_counts={},
        growth=[],
        confirmation=None,
        sources=[],
        campaigns=campaigns,
        coupons=[],
        welcome=None,
    )


def test_stacked_area_draws_one_band_per_series():
    chart = charts.stacked_area_chart(
        "s",
        "S",
        "S",
        ["a", "b", "c"],
        ["Week a", "Week b", "Week c"],
        [Series("Confirmed", "green", [1, 2, 3]), Series("Pending", "amber", [0, 1, 0])],
    )
    assert chart.svg.count('class="chart-area') == 2
    assert chart.svg.count('class="chart-line') == 2
    # The legend gives the latest figures; hover bands give each week's.
    assert "Confirmed <strong>3</strong>" in chart.legend
    assert "Week b: Confirmed 2, Pending 1" in chart.svg


def test_marketing_sees_the_dashboard(app, client, make_staff, ctx):
    add_confirmed(3)
    _, email, password = make_staff("marketing")
    log_in(client, email, password)

    response = client.get("/staff/dashboard/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('<svg class="chart"') == 4
    assert page.count(">Table</summary>") == 4
    # Drawn on the server: the scripts only scroll (the menu, a wide chart on a phone).
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == [
        '<script src="/static/staff-nav.js" defer>',
        '<script src="/static/dashboard.js" defer>',
    ]
    assert re.search(r"Confirmed subscribers</span>\s*<strong[^>]*>3</strong>", page)


def test_receptionists_may_not_see_it(client, make_staff):
    _, email, password = make_staff("receptionist")
    log_in(client, email, password)

    assert client.get("/staff/dashboard/").status_code == 403
