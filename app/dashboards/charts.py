"""SVG charts of the dashboard: the completion funnel and the effect sizes.

Drawn from the same (already suppressed) figures as the tables beside them: a hidden
figure gets no bar, only the words "fewer than 5". The tables stay the accessible source;
each chart has a title and a description for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from app.coaching.charts import _element, _svg  # the app's escaping SVG builder
from app.dashboards.service import ChangeRow, FunnelStep

_LEFT = 200
_RIGHT = 460
_ROW = 26
_BAR = "#3b6ea8"
_BETTER = "#2e7d4f"
_WORSE = "#b3472d"
_GRID = "#d0d0d0"


def _text(x: float, y: float, content: str, **attributes: object) -> Markup:
    base: dict[str, object] = {"x": x, "y": y, "font-size": 12, "fill": "currentColor"}
    return _element("text", {**base, **attributes}, content)


def funnel_chart(
    steps: Sequence[FunnelStep],
    *,
    names: Sequence[str],
    title: str,
    desc: str,
    hidden: str,
) -> Markup:
    """Horizontal bars: trajectories that finished each session, in programme order."""
    largest = max((s.completed or 0 for s in steps), default=0) or 1
    height = 40 + _ROW * len(steps)
    parts: list[Markup] = []
    for index, (step, label) in enumerate(zip(steps, names, strict=True)):
        y = 30 + index * _ROW
        parts.append(_text(_LEFT - 8, y + 15, label, **{"text-anchor": "end"}))
        if step.completed is None:
            parts.append(_text(_LEFT + 4, y + 15, hidden, **{"class": "suppressed"}))
            continue
        width = max(1.0, (_RIGHT - _LEFT - 50) * step.completed / largest)
        bar = {"x": _LEFT, "y": y + 3, "width": width, "height": 16, "fill": _BAR}
        parts.append(_element("rect", bar))
        parts.append(_text(_LEFT + width + 4, y + 15, str(step.completed)))
    return _svg("dashboard-funnel", height, "chart dashboard-chart", title, desc, parts)


def effect_chart(
    rows: Sequence[ChangeRow],
    *,
    names: Sequence[str],
    ticks: Sequence[str],
    title: str,
    desc: str,
    hidden: str,
    chart_id: str,
) -> Markup:
    """Effect size d_z per scale, turned so that right is always better (less conflict too)."""
    span = 1.5  # the axis runs from −1.5 to +1.5; larger effects reach the edge
    middle = (_LEFT + _RIGHT) / 2
    scale = (_RIGHT - _LEFT) / 2 / span
    height = 56 + _ROW * len(rows)
    bottom = 30 + _ROW * len(rows)
    parts: list[Markup] = []
    for tick, tick_label in zip((-1.0, -0.5, 0.0, 0.5, 1.0), ticks, strict=True):
        x = middle + tick * scale
        stroke = "currentColor" if tick == 0 else _GRID
        parts.append(_element("line", {"x1": x, "x2": x, "y1": 28, "y2": bottom, "stroke": stroke}))
        parts.append(_text(x, bottom + 16, tick_label, **{"text-anchor": "middle"}))
    for index, (row, label) in enumerate(zip(rows, names, strict=True)):
        y = 30 + index * _ROW
        parts.append(_text(_LEFT - 8, y + 15, label, **{"text-anchor": "end"}))
        d_z = row.change.d_z if row.change is not None else None
        if d_z is None:
            note = hidden if row.change is None else "–"
            parts.append(_text(middle + 4, y + 15, note, **{"class": "suppressed"}))
            continue
        better = d_z if row.higher_is_better else -d_z
        end = middle + max(-span, min(span, better)) * scale
        bar = {
            "x": min(middle, end),
            "y": y + 4,
            "width": max(1.0, abs(end - middle)),
            "height": 14,
            "fill": _BETTER if better >= 0 else _WORSE,
        }
        parts.append(_element("rect", bar))
    return _svg(chart_id, height, "chart dashboard-chart", title, desc, parts)
