"""Small server-side SVG charts: stacked areas over weeks, horizontal bars, grouped columns.

Each helper returns a ``Chart``: the SVG (``role="img"``, named by its ``<title>`` and
``<desc>``), an HTML legend, and the same numbers as an HTML table for the
``<details>`` under the chart. Every text is escaped. Colours come from CSS classes
(``chart-tone-<name>`` in site.css set ``--tone``), so no script and no inline style is
needed; hovering a bar or a week shows its numbers through SVG ``<title>`` tooltips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

FONT = 12


@dataclass(frozen=True)
class Series:
    name: str
    tone: str  # a chart-tone-* class in site.css
    values: Sequence[int]


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: Markup
    legend: Markup
    table: Markup


def number(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def percent(rate: float | None) -> str:
    """71%, or 4.5% below ten, or an em dash when there is nothing to divide."""
    if rate is None:
        return "\u2014"
    return f"{rate * 100:.1f}%" if rate < 0.1 else f"{rate * 100:.0f}%"


def nice_ticks(top: float, count: int = 4) -> list[int]:
    """Round axis steps (1, 2, 5 times a power of ten) from zero past ``top``."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))
    return [round(i * step) for i in range(math.ceil(top / step) + 1)]


def _el(tag: str, text: str | None = None, /, **attrs: object) -> Markup:
    """One SVG or HTML element, text and attributes escaped (Markup text is kept as is).

    Attribute names use _ for - and a trailing _ for a keyword: ``class_``.
    """
    rendered = Markup("").join(
        Markup(' {}="{}"').format(name.rstrip("_").replace("_", "-"), value)
        for name, value in attrs.items()
        if value is not None
    )
    if text is None:
        return Markup("<{}{}/>").format(tag, rendered)
    return Markup("<{0}{1}>{2}</{0}>").format(tag, rendered, text)


def _join(parts) -> Markup:
    return Markup("").join(parts)


def _fixed(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _svg(key: str, title: str, description: str, width: int, height: int, body) -> Markup:
    opening = Markup(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="{}-title {}-desc" data-chart="{}">'
    ).format(width, height, key, key, key)
    return (
        opening
        + _el("title", title, id=f"{key}-title")
        + _el("desc", description, id=f"{key}-desc")
        + _join(body)
        + Markup("</svg>")
    )


def _legend(series: Sequence[Series], values: Sequence[str] | None = None) -> Markup:
    items = []
    for i, one in enumerate(series):
        swatch = _el("span", "", class_=f"chart-swatch chart-tone-{one.tone}", aria_hidden="true")
        figure = Markup(" ") + _el("strong", values[i]) if values else ""
        items.append(_el("li", swatch + one.name + figure))
    return _el("ul", _join(items), class_="chart-legend")


def _table(title: str, first: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    head = _el("th", first, scope="col") + _join(
        _el("th", one.name, scope="col", class_="num") for one in series
    )
    rows = [
        _el(
            "tr",
            _el("th", label, scope="row")
            + _join(_el("td", number(one.values[i]), class_="num") for one in series),
        )
        for i, label in enumerate(labels)
    ]
    if not rows:
        rows = [_el("tr", _el("td", "None yet.", colspan=len(series) + 1))]
    return _el(
        "table",
        _el("caption", title, class_="visually-hidden")
        + _el("thead", _el("tr", head))
        + _el("tbody", _join(rows)),
        class_="chart-table",
    )


def _y_grid(ticks: list[int], left: float, right: float, y_of) -> list[Markup]:
    parts = []
    for tick in ticks:
        y = _fixed(y_of(tick))
        parts.append(_el("line", x1=left, x2=right, y1=y, y2=y, class_="chart-gridline"))
        parts.append(_el("text", number(tick), x=left - 8, y=y, dy="0.32em", text_anchor="end"))
    return [_el("g", _join(parts), class_="chart-grid", aria_hidden="true")]


def stacked_area_chart(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    long_labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 1040,
    height: int = 300,
) -> Chart:
    """Series stacked in order (the first on the baseline), one point per label."""
    left, right, top, bottom = 56, 16, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(labels)
    stacks = [[sum(one.values[i] for one in series[: n + 1]) for i in range(count)]
              for n in range(len(series))]  # fmt: skip
    ticks = nice_ticks(max(stacks[-1], default=0))

    def x_of(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / ticks[-1]

    body = _y_grid(ticks, left, width - right, y_of)
    for n, one in enumerate(series):
        if not any(one.values):
            # Its band has no height: its line would lie on the top of the stack and
            # read as if every subscriber were in this state.
            continue
        upper = [(x_of(i), y_of(stacks[n][i])) for i in range(count)]
        lower = [(x_of(i), y_of(stacks[n - 1][i] if n else 0)) for i in range(count)]
        line = " L".join(f"{_fixed(x)},{_fixed(y)}" for x, y in upper)
        back = " L".join(f"{_fixed(x)},{_fixed(y)}" for x, y in reversed(lower))
        tone = f"chart-tone-{one.tone}"
        body.append(_el("path", d=f"M{line} L{back} Z", class_=f"chart-area {tone}"))
        body.append(_el("path", d=f"M{line}", class_=f"chart-line {tone}"))
    body.append(_x_labels(labels, x_of, height - 10))
    # A hover band per week, its tooltip naming every figure of that week.
    step = plot_w / max(count - 1, 1)
    bands = []
    for i, long_label in enumerate(long_labels):
        figures = ", ".join(f"{one.name} {number(one.values[i])}" for one in series)
        bands.append(
            _el(
                "rect",
                _el("title", f"{long_label}: {figures}"),
                x=_fixed(max(left, x_of(i) - step / 2)),
                y=top,
                width=_fixed(min(step, plot_w)),
                height=plot_h,
                class_="chart-hover",
            )
        )
    body.append(_el("g", _join(bands)))
    latest = [number(one.values[-1]) for one in series] if count else None
    return Chart(
        key,
        title,
        _svg(key, title, description, width, height, body),
        _legend(series, latest),
        _table(title, "Week", long_labels, series),
    )


def _x_labels(labels: Sequence[str], x_of, y: float, most: int = 9) -> Markup:
    every = max(1, math.ceil(len(labels) / most))
    last = len(labels) - 1
    # Count back from the newest label, which is always shown.
    texts = [
        _el("text", label, x=_fixed(x_of(i)), y=y, text_anchor="middle")
        for i, label in enumerate(labels)
        if (last - i) % every == 0
    ]
    return _el("g", _join(texts), class_="chart-x", aria_hidden="true")


def _scale(origin: float, span: float, top: float):
    return lambda value: origin + span * value / top


def _stacked_bar(label: str, series: Sequence[Series], i: int, x_of, y: float, bar: float):
    """One row's bar: the series stacked left to right, then their total."""
    parts, start = [], 0
    for one in series:
        value = one.values[i]
        parts.append(
            _el(
                "rect",
                _el("title", f"{label}: {one.name} {number(value)}"),
                x=_fixed(x_of(start)),
                y=_fixed(y),
                width=_fixed(x_of(start + value) - x_of(start)),
                height=bar,
                class_=f"chart-bar chart-tone-{one.tone}",
            )
        )
        start += value
    parts.append(
        _el("text", number(start), x=_fixed(x_of(start) + 6), y=_fixed(y + bar / 2),
            dy="0.32em", class_="chart-total")
    )  # fmt: skip
    return _join(parts)


def _row_label(label: str, x: float, y: float, most: int) -> Markup:
    shown = label if len(label) <= most else label[: most - 1].rstrip() + "\u2026"
    return _el("text", shown, x=x, y=_fixed(y), dy="0.32em", text_anchor="end",
               class_="chart-label")  # fmt: skip


def _nothing_yet(x: float, y: float) -> Markup:
    return _el("text", "None yet", x=_fixed(x), y=_fixed(y), dy="0.32em",
               text_anchor="middle", class_="chart-empty")  # fmt: skip


def bar_chart(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    first_column: str,
    width: int = 500,
    label_width: int = 150,
) -> Chart:
    """Horizontal bars, one row per label, the series stacked left to right; totals at the end."""
    # Few rows get thicker bars, so a short chart still sits well beside a tall one.
    row = max(32, min(48, 200 / max(len(labels), 1)))
    bar, top, bottom, right = round(row * 0.62), 8, 26, 48
    height = round(top + row * max(len(labels), 1) + bottom)
    left = label_width + 12
    plot_w = width - left - right
    totals = [sum(one.values[i] for one in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0))
    x_of = _scale(left, plot_w, ticks[-1])
    grid = []
    for tick in ticks:
        x = _fixed(x_of(tick))
        grid.append(_el("line", x1=x, x2=x, y1=top, y2=height - bottom, class_="chart-gridline"))
        grid.append(_el("text", number(tick), x=x, y=height - 8, text_anchor="middle"))
    body = [_el("g", _join(grid), class_="chart-grid", aria_hidden="true")]
    for i, label in enumerate(labels):
        y = top + row * i + (row - bar) / 2
        body.append(
            _el(
                "g",
                _row_label(label, label_width, y + bar / 2, 22)
                + _stacked_bar(label, series, i, x_of, y, bar),
            )
        )
    if not labels:
        body.append(_nothing_yet(left + plot_w / 2, top + row / 2))
    return Chart(
        key,
        title,
        _svg(key, title, description, width, height, body),
        _legend(series) if len(series) > 1 else Markup(""),
        _table(title, first_column, labels, series),
    )


@dataclass(frozen=True)
class Column:
    heading: str
    series: Sequence[Series]


# Wide enough for a character of a column heading (12.5px, bold; see site.css).
HEADING_CHARACTER = 8.2


def _one_scale(largest: Sequence[int], room: float, least: Sequence[float]) -> float:
    """Pixels per unit, the same for every column, that fit the columns' largest bars
    into ``room``, giving column ``i`` at least ``least[i]`` (for its heading)."""
    narrow: set[int] = set()
    while True:
        wide = [i for i in range(len(largest)) if i not in narrow]
        units = sum(largest[i] for i in wide)
        if not units:
            return 1.0
        scale = (room - sum(least[i] for i in narrow)) / units
        too_narrow = {i for i in wide if largest[i] * scale < least[i]}
        if not too_narrow:
            return scale
        narrow |= too_narrow


def bar_table(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    columns: Sequence[Column],
    table_series: Sequence[Series],
    *,
    first_column: str,
    width: int = 1040,
    label_width: int = 230,
) -> Chart:
    """One row per label and a column of bars per measure, every column on one scale.

    The measures count the same kind of thing (a newsletter's readers), so a bar's
    length means the same number everywhere: 2 unsubscribes draw short beside 400 sent,
    as they are, and their figure beside the bar says how many. Each column is as wide
    as its longest bar and its figure, and at least as wide as its heading;
    ``table_series`` are the columns of the accessible table.
    """
    row, bar, top, gap, figure = 34, 20, 30, 32, 52
    height = top + row * max(len(labels), 1) + 6
    left = label_width + 16
    totals = [
        [sum(one.values[i] for one in column.series) for i in range(len(labels))]
        for column in columns
    ]
    largest = [max(column_totals, default=0) for column_totals in totals]
    # Room after the longest bar of each column for its figure.
    room = width - left - gap * (len(columns) - 1) - figure * len(columns)
    least = [max(len(column.heading) * HEADING_CHARACTER - figure, 0) for column in columns]
    scale = _one_scale(largest, room, least)
    body = [
        _row_label(label, label_width, top + row * i + row / 2, 32)
        for i, label in enumerate(labels)
    ]
    origin = left
    for column, most, narrowest in zip(columns, largest, least, strict=True):
        x_of = _scale(origin, scale, 1)
        parts = [
            _el("text", column.heading, x=_fixed(origin), y=16, class_="chart-heading"),
            _el("line", x1=_fixed(origin), x2=_fixed(origin), y1=top - 4, y2=height - 4,
                class_="chart-baseline"),
        ]  # fmt: skip
        for i, label in enumerate(labels):
            y = top + row * i + (row - bar) / 2
            parts.append(_stacked_bar(label, column.series, i, x_of, y, bar))
        body.append(_el("g", _join(parts)))
        origin += max(most * scale, narrowest) + figure + gap
    if not labels:
        body.append(_nothing_yet(left + (width - left) / 2, top + row / 2))
    series = [one for column in columns for one in column.series]
    return Chart(
        key,
        title,
        _svg(key, title, description, width, height, body),
        _legend(series),
        _table(title, first_column, labels, table_series),
    )


def column_chart(
    key: str,
    title: str,
    description: str,
    labels: Sequence[str],
    long_labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 500,
    height: int = 230,
) -> Chart:
    """Vertical columns grouped per label (one column per series), for weekly counts."""
    left, right, top, bottom = 44, 8, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    slot = plot_w / count
    column = slot * 0.78 / len(series)
    ticks = nice_ticks(max((v for one in series for v in one.values), default=0))

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / ticks[-1]

    def x_of(i: int) -> float:
        return left + slot * (i + 0.5)

    body = _y_grid(ticks, left, width - right, y_of)
    for i, long_label in enumerate(long_labels):
        parts = []
        for n, one in enumerate(series):
            value = one.values[i]
            parts.append(
                _el(
                    "rect",
                    _el("title", f"{long_label}: {one.name} {number(value)}"),
                    x=_fixed(x_of(i) - column * len(series) / 2 + column * n),
                    y=_fixed(y_of(value)),
                    width=_fixed(column),
                    height=_fixed(y_of(0) - y_of(value)),
                    class_=f"chart-bar chart-tone-{one.tone}",
                )
            )
        body.append(_el("g", _join(parts)))
    body.append(_x_labels(labels, x_of, height - 10, most=6))
    totals = [number(sum(one.values)) for one in series]
    return Chart(
        key,
        title,
        _svg(key, title, description, width, height, body),
        _legend(series, totals),
        _table(title, "Week", long_labels, series),
    )


def meter(rate: float | None, tone: str = "green", width: int = 200, height: int = 8) -> Markup:
    """A thin bar filled to ``rate``; decoration beside a figure already written out."""
    filled = width * min(max(rate or 0, 0), 1)
    track = _el("rect", width=width, height=height, rx=height / 2, class_="chart-meter-track")
    bar = _el(
        "rect",
        width=_fixed(filled),
        height=height,
        rx=height / 2,
        class_=f"chart-bar chart-tone-{tone}",
    )
    return _el(
        "svg",
        track + bar,
        class_="chart-meter",
        viewBox=f"0 0 {width} {height}",
        preserveAspectRatio="none",
        aria_hidden="true",
    )
