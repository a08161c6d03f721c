"""Server-side SVG charts: no JavaScript, no CDN, no inline styles (CSP).

Charts are drawn with presentation attributes and the `chart__*` classes of app.css.
Each has a <title> and <desc> referenced by aria-labelledby, and every page places the
chart's data table beside it. Suppressed cells (`Hidden`) get no bar, only their
marker, so the drawing never reveals a hidden value.
"""

from collections.abc import Callable, Sequence
from datetime import date

from markupsafe import Markup, escape

from app.reports.suppression import Hidden

WIDTH = 640
FONT = 12
SERIES_CLASSES = ("chart__bar", "chart__bar chart__bar--alt")


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (axis end)."""
    if value <= 0:
        return 1
    if value <= 1:  # shares and rates
        return next(step for step in (0.1, 0.2, 0.25, 0.5, 1) if step >= value)
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _axis(value: float) -> tuple[float, float]:
    """(step, top) for a whole-number axis: a 1, 2 or 5 × 10^k step, about four ticks."""
    raw = max(value / 4, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = max(1, -(-int(value) // step))
    return step, step * ticks


def _svg(chart_id: str, title: str, description: str, height: int, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'focusable="false" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(
    x: float, y: float, content: str, css: str = "chart__label", anchor: str = "start"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}" '
        f'font-size="{FONT}">{escape(content)}</text>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, Sequence]],
    *,
    series: Sequence[str],
    fmt: Callable[[float], str],
    scale_max: float | None = None,
) -> Markup:
    """Horizontal bars: one group per row, one bar per series (at most two)."""
    label_width = min(230, max(90, 7 * max((len(label) for label, _ in rows), default=0)))
    value_room = 70
    plot = WIDTH - label_width - value_room
    bar_h, gap = 16, 10
    group_h = bar_h * len(series) + gap
    legend_h = 24 if len(series) > 1 else 0
    height = legend_h + group_h * max(len(rows), 1) + 10
    numbers = [v for _, values in rows for v in values if isinstance(v, (int, float))]
    top = scale_max or _nice_max(max(numbers, default=0))
    body = []
    if len(series) > 1:
        x = label_width
        for index, name in enumerate(series):
            body.append(
                f'<rect x="{x}" y="4" width="12" height="12" class="{SERIES_CLASSES[index]}"/>'
            )
            body.append(_text(x + 16, 14, name))
            x += 24 + 8 * len(name)
    if not rows:
        return _svg(chart_id, title, description, height, body)
    for r, (label, values) in enumerate(rows):
        y0 = legend_h + r * group_h
        body.append(_text(label_width - 8, y0 + bar_h * len(series) / 2 + 4, label, anchor="end"))
        for s, value in enumerate(values):
            y = y0 + s * bar_h
            if isinstance(value, Hidden) or value is None:
                marker = str(value) if value is not None else "—"
                body.append(_text(label_width + 4, y + bar_h - 4, marker, "chart__hidden"))
                continue
            width = plot * (value / top) if top else 0
            body.append(
                f'<rect x="{label_width}" y="{y + 1}" width="{max(width, 0):.1f}" '
                f'height="{bar_h - 2}" class="{SERIES_CLASSES[s]}">'
                f"<title>{escape(label)} · {escape(series[s])}: {escape(fmt(value))}"
                f"</title></rect>"
            )
            body.append(_text(label_width + width + 4, y + bar_h - 4, fmt(value), "chart__value"))
    body.append(
        f'<line x1="{label_width}" y1="{legend_h}" x2="{label_width}" '
        f'y2="{height - 10}" class="chart__axis"/>'
    )
    return _svg(chart_id, title, description, height, body)


def time_chart(
    chart_id: str,
    title: str,
    description: str,
    points: Sequence[tuple[date, int]],
    *,
    kind: str,
    fmt: Callable[[float], str],
    date_fmt: Callable[[date], str],
) -> Markup:
    """Vertical bars (`kind="bars"`) or a line (`kind="line"`) over dates."""
    height, left, right, top_pad, bottom = 240, 56, 16, 12, 36
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    step, top = _axis(max((v for _, v in points), default=0))
    body = []
    ticks = round(top / step)
    for i in range(ticks + 1):  # horizontal grid with value labels
        value = step * i
        y = top_pad + plot_h - plot_h * i / ticks
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" '
            f'class="chart__grid"/>'
        )
        body.append(_text(left - 6, y + 4, fmt(value), anchor="end"))
    n = len(points)
    if n:
        step = plot_w / n
        coords = []
        for i, (day, value) in enumerate(points):
            x = left + i * step
            h = plot_h * value / top
            if kind == "bars":
                body.append(
                    f'<rect x="{x + step * 0.1:.1f}" y="{top_pad + plot_h - h:.1f}" '
                    f'width="{max(step * 0.8, 0.5):.1f}" height="{h:.1f}" '
                    f'class="chart__bar"><title>{escape(date_fmt(day))}: '
                    f"{escape(fmt(value))}</title></rect>"
                )
            coords.append(f"{x + step / 2:.1f},{top_pad + plot_h - h:.1f}")
        if kind == "line":
            body.append(f'<polyline points="{" ".join(coords)}" class="chart__line" fill="none"/>')
        labels = min(n, 6)
        for t in range(labels):
            i = round(t * (n - 1) / (labels - 1)) if labels > 1 else 0
            x = left + i * step + step / 2
            body.append(_text(x, height - bottom + 18, date_fmt(points[i][0]), anchor="middle"))
    body.append(
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - right}" '
        f'y2="{top_pad + plot_h}" class="chart__axis"/>'
    )
    return _svg(chart_id, title, description, height, body)


DIVERGING_CLASSES = (
    "chart__seg chart__seg--low2",
    "chart__seg chart__seg--low1",
    "chart__seg chart__seg--mid",
    "chart__seg chart__seg--high1",
    "chart__seg chart__seg--high2",
)


def _diverging_class(index: int, points: int) -> str:
    """Low points in one hue, high points in another, darker towards the ends."""
    middle = (points - 1) / 2
    if index == middle:
        return DIVERGING_CLASSES[2]
    if index < middle:
        return DIVERGING_CLASSES[0 if middle - index > 1 else 1]
    return DIVERGING_CLASSES[4 if index - middle > 1 else 3]


def diverging_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, Sequence]],
    *,
    points: Sequence[str],
    fmt: Callable[[float], str],
) -> Markup:
    """A diverging stacked bar per row for a scale: the shares of the low points to the
    left of the centre line, the high points to the right, the middle point (odd scales)
    split across it. A row with any hidden share (or none at all) draws no bar, only its
    marker: the other segments would give the hidden one away."""
    label_width = min(200, max(90, 7 * max((len(label) for label, _ in rows), default=0)))
    legend_h = 22 * ((len(points) + 2) // 3)
    bar_h, gap = 20, 12
    height = legend_h + (bar_h + gap) * max(len(rows), 1) + 24
    plot = WIDTH - label_width - 20
    centre = label_width + plot / 2
    body = []
    for index, name in enumerate(points):
        x = label_width + (index % 3) * (plot / 3)
        y = 4 + 22 * (index // 3)
        body.append(
            f'<rect x="{x:.1f}" y="{y}" width="12" height="12" '
            f'class="{_diverging_class(index, len(points))}"/>'
        )
        body.append(_text(x + 16, y + 10, name))
    half = len(points) // 2
    for r, (label, shares) in enumerate(rows):
        y = legend_h + r * (bar_h + gap)
        body.append(_text(label_width - 8, y + bar_h / 2 + 4, label, anchor="end"))
        if not shares or any(isinstance(s, Hidden) or s is None for s in shares):
            marker = next((str(s) for s in shares if isinstance(s, Hidden)), "—")
            body.append(_text(centre + 4, y + bar_h - 5, marker, "chart__hidden"))
            continue
        odd = len(points) % 2 == 1
        middle = shares[half] if odd else 0
        left = centre - (sum(shares[:half]) + middle / 2) * plot / 2
        x = left
        for index, share in enumerate(shares):
            width = share * plot / 2
            if width > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{bar_h}" '
                    f'class="{_diverging_class(index, len(points))}">'
                    f"<title>{escape(label)} · {escape(points[index])}: {escape(fmt(share))}"
                    f"</title></rect>"
                )
            x += width
    body.append(
        f'<line x1="{centre:.1f}" y1="{legend_h}" x2="{centre:.1f}" y2="{height - 20}" '
        f'class="chart__axis"/>'
    )
    body.append(_text(label_width, height - 6, "100%", anchor="start"))
    body.append(_text(centre, height - 6, "0", anchor="middle"))
    body.append(_text(WIDTH - 20, height - 6, "100%", anchor="end"))
    return _svg(chart_id, title, description, height, body)


def _span_of(rows, reference: float | None) -> tuple[float, float]:
    """An axis from the data (estimates and interval ends) and the reference line, widened
    to 1, 2, 2.5 or 5 × 10^k on each side."""
    values = [
        v
        for _label, *numbers in rows
        for v in numbers
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    if reference is not None:
        values.append(reference)
    low, high = min(values, default=0), max(values, default=1)
    if low >= 0 and high <= 1 and reference is None:
        return 0.0, _nice_max(high) if high > 0 else 1.0
    bound = _nice_max(max(abs(low), abs(high)))
    return -bound, bound


def interval_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, object, object, object]],
    *,
    fmt: Callable[[float], str],
    reference: float | None = None,
) -> Markup:
    """A dot for each row's estimate and a line for its interval (a forest plot), with a
    vertical reference line (e.g. no difference). A row with a hidden estimate (or none)
    draws only its marker; a missing interval draws only the dot."""
    label_width = min(230, max(90, 7 * max((len(label) for label, *_ in rows), default=0)))
    right = 24
    plot = WIDTH - label_width - right
    row_h = 28
    height = row_h * max(len(rows), 1) + 36
    low, high = _span_of(rows, reference)

    def x(value: float) -> float:
        return label_width + plot * (value - low) / (high - low)

    body = []
    for r, (label, estimate, lower, upper) in enumerate(rows):
        y = 8 + r * row_h + row_h / 2
        body.append(_text(label_width - 8, y + 4, label, anchor="end"))
        if isinstance(estimate, Hidden) or estimate is None:
            marker = str(estimate) if estimate is not None else "—"
            body.append(_text(label_width + 4, y + 4, marker, "chart__hidden"))
            continue
        interval = ""
        if isinstance(lower, (int, float)) and isinstance(upper, (int, float)):
            body.append(
                f'<line x1="{x(lower):.1f}" y1="{y:.1f}" x2="{x(upper):.1f}" y2="{y:.1f}" '
                f'class="chart__line"/>'
            )
            interval = f" ({fmt(lower)} – {fmt(upper)})"
        body.append(
            f'<circle cx="{x(estimate):.1f}" cy="{y:.1f}" r="5" class="chart__bar">'
            f"<title>{escape(label)}: {escape(fmt(estimate))}{escape(interval)}</title></circle>"
        )
    bottom = 8 + row_h * max(len(rows), 1)
    if reference is not None:
        body.append(
            f'<line x1="{x(reference):.1f}" y1="4" x2="{x(reference):.1f}" y2="{bottom}" '
            f'class="chart__axis"/>'
        )
    body.append(
        f'<line x1="{label_width}" y1="{bottom}" x2="{WIDTH - right}" y2="{bottom}" '
        f'class="chart__grid"/>'
    )
    ticks = [low, high] if reference is None else [low, reference, high]
    if reference is None:
        ticks.insert(1, (low + high) / 2)
    for value in ticks:
        body.append(_text(x(value), bottom + 18, fmt(value), anchor="middle"))
    return _svg(chart_id, title, description, height, body)
