"""Server-rendered, accessible SVG charts: scores over time and the relationship profile.

Every chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>` (the desc
is a one-sentence text alternative listing the values), scales with its viewBox, and
uses presentation attributes and class names only: the CSP forbids inline styles, so
there is no `style` attribute and no `<style>` element, and CSS can restyle any class.
All text is XML-escaped by `_element`; nothing is interpolated into markup by hand.
The caller passes every word the chart shows already translated, so this module stays
free of i18n.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from markupsafe import Markup, escape

from app.instruments.reliable_change import ChangeClass

Classification = Literal["reliably_improved", "no_reliable_change", "reliably_deteriorated"]

SVG_NS: Final = "http://www.w3.org/2000/svg"
#: Reliable change is shown by a glyph and a class, never by colour alone.
CHANGE_MARKERS: Final[Mapping[str, tuple[str, str]]] = {
    ChangeClass.IMPROVED.value: ("▲", "improved"),
    ChangeClass.NO_CHANGE.value: ("=", "no-change"),
    ChangeClass.DETERIORATED.value: ("▼", "deteriorated"),
}

_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_:-]*")
_CHART_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")
# Characters XML 1.0 does not allow at all; a label containing one would break parsing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_WIDTH: Final = 480
_TEXT: Final = "currentColor"
_GRID: Final = "#d0d0d0"


@dataclass(frozen=True)
class ChartPoint:
    """One measurement: its label ("Intake"), score and reliable change versus baseline."""

    label: str
    value: float | None
    change: Classification | ChangeClass | None = None


@dataclass(frozen=True)
class ChartLabels:
    """The translated words a score chart shows."""

    improved: str
    no_change: str
    deteriorated: str
    #: Shown for a measurement without a score.
    no_value: str
    #: E.g. "better"; when given, an arrow by the y axis shows which way is better.
    better: str = ""
    decimal_mark: str = "."

    def change(self, classification: str) -> str:
        """Return the words for a reliable change classification."""
        return {
            ChangeClass.IMPROVED.value: self.improved,
            ChangeClass.NO_CHANGE.value: self.no_change,
            ChangeClass.DETERIORATED.value: self.deteriorated,
        }[classification]


@dataclass(frozen=True)
class ProfileRow:
    """One coding dimension in the profile, on its own min..max scale."""

    label: str
    value: float | None
    min: int
    max: int
    #: The same dimension in an earlier coding, drawn as a hollow marker.
    earlier: float | None = None
    #: False where more is worse (anger, helplessness, emotional labour).
    favourable: bool = True


@dataclass(frozen=True)
class ProfileLabels:
    """The translated words a profile chart shows."""

    not_rated: str
    #: E.g. "earlier coding", before the earlier value.
    earlier: str
    #: E.g. "lower is better", shown beside dimensions where more is worse.
    lower_is_favourable: str = ""
    decimal_mark: str = "."


# --- scores over time --------------------------------------------------------------------


def subscale_chart(
    points: Sequence[ChartPoint],
    *,
    title: str,
    y_min: float,
    y_max: float,
    higher_is_better: bool,
    labels: ChartLabels,
    chart_id: str | None = None,
) -> Markup:
    """Return a line chart of one subscale across measurements, with reliable-change markers.

    A trajectory page draws a dozen of these with a dozen points each, so the markup is
    written with f-strings rather than through `_element` (which builds the same
    elements, attribute by attribute): every text is escaped by `_text`, every number
    written by `_n`, and the fixed parts (grid, axis, x labels) are cached.
    """
    if not y_min < y_max:
        raise ValueError(f"y_min ({y_min}) must be less than y_max ({y_max})")
    chart_id = _checked_id(chart_id) or _derived_id("scores", title, points, y_min, y_max)
    height = 250
    left, right, top, bottom = 48.0, _WIDTH - 16.0, 44.0, height - 52.0
    # Room at both sides so the first and last labels are not cut off.
    inset = 44.0
    count = len(points)
    span = right - left - 2 * inset
    scale = y_max - y_min
    mark = labels.decimal_mark

    def x_at(index: int) -> float:
        if count == 1:
            return (left + right) / 2
        return left + inset + index * span / (count - 1)

    def y_at(value: float) -> float:
        # Values outside the scale are drawn at its edge; their label still says the value.
        share = (min(max(value, y_min), y_max) - y_min) / scale
        return bottom - share * (bottom - top)

    parts: list[str] = [_chart_title(title), _y_axis(y_min, y_max, mark)]
    if labels.better:
        arrow = "↑" if higher_is_better else "↓"
        parts.append(
            f'<text class="axis-hint" x="4" y="{_n(top - 10)}" font-size="11" fill="{_TEXT}">'
            f"{_text(f'{arrow} {labels.better}')}</text>"
        )

    # The line, broken where a measurement has no score.
    segments: list[str] = []
    pen_down = False
    for index, point in enumerate(points):
        if point.value is None or not math.isfinite(point.value):
            pen_down = False
            continue
        command = "L" if pen_down else "M"
        segments.append(f"{command}{_n(x_at(index))} {_n(y_at(point.value))}")
        pen_down = True
    if segments:
        parts.append(
            f'<path class="series-line" d="{" ".join(segments)}" fill="none" '
            f'stroke="{_TEXT}" stroke-width="2"/>'
        )

    # Points, their values and change markers; x labels.
    descriptions: list[str] = []
    for index, point in enumerate(points):
        x = x_at(index)
        label = point.label
        parts.append(_x_label(label, x, bottom + 20))
        if point.value is None or not math.isfinite(point.value):
            summary = f"{label}: {labels.no_value}"
            descriptions.append(summary)
            parts.append(
                f'<g class="point point--missing"><title>{_text(summary)}</title>'
                f'<text class="value" x="{_n(x)}" y="{_n(bottom - 6)}" text-anchor="middle" '
                f'font-size="12" fill="{_TEXT}">–</text></g>'
            )
            continue
        y = y_at(point.value)
        number = f"{point.value:.1f}".replace(".", mark)
        summary = f"{label}: {number}"
        marker = ""
        classes = "point"
        if point.change is not None:
            classification = str(ChangeClass(point.change).value)
            glyph, slug = CHANGE_MARKERS[classification]
            words = labels.change(classification)
            summary = f"{summary} ({words})"
            classes += f" point--{slug}"
            marker = (
                f'<g class="change change--{slug}"><title>{_text(f"{label}: {words}")}</title>'
                f'<text x="{_n(x + 8)}" y="{_n(y - 10)}" text-anchor="start" font-size="12" '
                f'fill="{_TEXT}">{glyph}</text></g>'
            )
        descriptions.append(summary)
        value_x, anchor = (x - 2, "end") if marker else (x, "middle")
        parts.append(
            f'<g class="{classes}"><title>{_text(summary)}</title>'
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="4.5" fill="{_TEXT}"/>'
            f'<text class="value" x="{_n(value_x)}" y="{_n(y - 10)}" text-anchor="{anchor}" '
            f'font-size="12" fill="{_TEXT}">{_text(number)}</text>{marker}</g>'
        )

    desc = "; ".join(descriptions) + "." if descriptions else labels.no_value
    direction = "higher" if higher_is_better else "lower"
    return _svg(
        chart_id,
        height,
        f"chart chart--scores chart--{direction}-is-better",
        title,
        desc,
        [Markup("".join(parts))],  # noqa: S704 - every text escaped above # nosec B704
    )


@lru_cache(maxsize=64)
def _y_axis(y_min: float, y_max: float, decimal_mark: str) -> str:
    """Return the gridlines, tick labels and axis line of a score chart (the same for many)."""
    left, right, top, bottom = 48.0, _WIDTH - 16.0, 44.0, 250 - 52.0
    pieces: list[str] = []
    for tick in _ticks(y_min, y_max):
        share = (min(max(tick, y_min), y_max) - y_min) / (y_max - y_min)
        y = bottom - share * (bottom - top)
        pieces.append(
            f'<line class="grid" x1="{_n(left)}" x2="{_n(right)}" y1="{_n(y)}" y2="{_n(y)}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text class="tick-label" x="{_n(left - 8)}" y="{_n(y + 4)}" text-anchor="end" '
            f'font-size="11" fill="{_TEXT}">{_text(_plain_number(tick, decimal_mark))}</text>'
        )
    pieces.append(
        f'<line class="axis" x1="{_n(left)}" x2="{_n(left)}" y1="{_n(top)}" y2="{_n(bottom)}" '
        f'stroke="{_TEXT}" stroke-width="1"/>'
    )
    return "".join(pieces)


def _ticks(low: float, high: float) -> list[float]:
    """Return round tick values from low to high, about six of them."""
    raw = (high - low) / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    count = math.floor((high - first) / step + 1e-9)
    return [round(first + i * step, 10) for i in range(count + 1)]


@lru_cache(maxsize=512)
def _x_label(label: str, x: float, y: float) -> str:
    """Return an x-axis label, wrapped over two lines when it is long."""
    spans = "".join(
        f'<tspan x="{_n(x)}" dy="{0 if i == 0 else 13}">{_text(line)}</tspan>'
        for i, line in enumerate(_wrap(label, 16))
    )
    return (
        f'<text class="x-label" x="{_n(x)}" y="{_n(y)}" text-anchor="middle" font-size="11" '
        f'fill="{_TEXT}">{spans}</text>'
    )


def _wrap(text: str, width: int) -> list[str]:
    words = text.split()
    if len(text) <= width or len(words) < 2:
        return [text]
    first: list[str] = []
    while words and len(" ".join([*first, words[0]])) <= width:
        first.append(words.pop(0))
    if not first:
        first.append(words.pop(0))
    return [" ".join(first), " ".join(words)] if words else [" ".join(first)]


# --- the relationship profile ------------------------------------------------------------


def profile_chart(
    dimensions: Sequence[ProfileRow],
    *,
    title: str,
    labels: ProfileLabels,
    chart_id: str | None = None,
) -> Markup:
    """Return the profile: one bar per coding dimension on its own scale, earlier as a marker.

    A rating v on min..max fills (v − min + 1) of the (max − min + 1) scale points, so the
    lowest rating is a short bar rather than none and the highest fills the track.
    """
    chart_id = _checked_id(chart_id) or _derived_id("profile", title, dimensions)
    row_height, first_row = 42.0, 36.0
    height = int(first_row + row_height * len(dimensions) + 8)
    track_left, track_right = 16.0, _WIDTH - 72.0
    bar_height = 12.0

    def number(value: float) -> str:
        return _plain_number(value, labels.decimal_mark, decimals=1)

    parts: list[Markup] = [_chart_title(title)]
    descriptions: list[str] = []
    for index, row in enumerate(dimensions):
        if row.min >= row.max:
            raise ValueError(f'"{row.label}": min ({row.min}) must be less than max ({row.max})')
        top = first_row + index * row_height
        bar_y = top + 18
        middle = bar_y + bar_height / 2
        cell = (track_right - track_left) / (row.max - row.min + 1)

        def end_of(value: float, row: ProfileRow = row, cell: float = cell) -> float:
            clamped = min(max(value, row.min), row.max)
            return track_left + (clamped - row.min + 1) * cell

        label_parts: list[Markup | str] = [row.label]
        if not row.favourable and labels.lower_is_favourable:
            label_parts.append(
                _element(
                    "tspan", {"class": "hint", "font-size": 11}, f" ({labels.lower_is_favourable})"
                )
            )
        row_parts: list[Markup] = [
            _element(
                "text",
                {
                    "class": "row-label",
                    "x": track_left,
                    "y": top + 12,
                    "font-size": 12,
                    "fill": _TEXT,
                },
                *label_parts,
            ),
            _element(
                "rect",
                {
                    "class": "track",
                    "x": track_left,
                    "y": bar_y,
                    "width": track_right - track_left,
                    "height": bar_height,
                    "fill": "#ececec",
                    "stroke": "#b0b0b0",
                    "stroke-width": 1,
                },
            ),
        ]
        # Thin separators between the scale points, so a bar can be read against them.
        for step in range(1, row.max - row.min + 1):
            x = track_left + step * cell
            row_parts.append(
                _element(
                    "line",
                    {
                        "class": "scale-point",
                        "x1": x,
                        "x2": x,
                        "y1": bar_y,
                        "y2": bar_y + bar_height,
                        "stroke": "#ffffff",
                        "stroke-width": 1,
                    },
                )
            )

        scale = f"{row.min}–{row.max}"
        earlier_x: float | None = None
        earlier_text = ""
        if row.earlier is not None and math.isfinite(row.earlier):
            earlier_x = end_of(row.earlier)
            earlier_text = f"{labels.earlier} {number(row.earlier)}"

        if row.value is None or not math.isfinite(row.value):
            summary = f"{row.label}: {labels.not_rated}"
            row_parts.append(
                _element(
                    "text",
                    {
                        "class": "not-rated",
                        "x": track_left + 6,
                        "y": middle + 4,
                        "font-size": 11,
                        "fill": _TEXT,
                    },
                    labels.not_rated,
                )
            )
            state = "unrated"
        else:
            summary = f"{row.label}: {number(row.value)} ({scale})"
            bar_end = end_of(row.value)
            fill = "#3d6fa8" if row.favourable else "#a8563d"
            row_parts.append(
                _element(
                    "rect",
                    {
                        "class": "bar",
                        "x": track_left,
                        "y": bar_y,
                        "width": bar_end - track_left,
                        "height": bar_height,
                        "fill": fill,
                    },
                )
            )
            text_x = bar_end + 6
            # Step past the earlier marker only where it would cover the value (about
            # 30 units wide); further away, the value stays at the end of its own bar.
            if earlier_x is not None and bar_end - 7 <= earlier_x <= bar_end + 30:
                text_x = earlier_x + 12
            row_parts.append(
                _element(
                    "text",
                    {
                        "class": "value",
                        "x": text_x,
                        "y": middle + 4,
                        "font-size": 12,
                        "font-weight": "bold",
                        "fill": _TEXT,
                    },
                    number(row.value),
                )
            )
            state = "rated"
        if earlier_x is not None:
            summary = f"{summary}, {earlier_text}"
            row_parts.append(_earlier_marker(earlier_x, middle, earlier_text))
        descriptions.append(summary)
        direction = "favourable" if row.favourable else "unfavourable"
        parts.append(
            _element(
                "g",
                {"class": f"profile-row profile-row--{state} profile-row--{direction}"},
                _element("title", {}, summary),
                *row_parts,
            )
        )

    desc = "; ".join(descriptions) + "." if descriptions else labels.not_rated
    return _svg(chart_id, height, "chart chart--profile", title, desc, parts)


def _earlier_marker(x: float, y: float, text: str) -> Markup:
    """Return a hollow diamond at an earlier coding's value."""
    size = 6.0
    corners = [(x, y - size), (x + size, y), (x, y + size), (x - size, y)]
    return _element(
        "g",
        {"class": "earlier"},
        _element("title", {}, text),
        _element(
            "polygon",
            {
                "points": " ".join(f"{_n(a)},{_n(b)}" for a, b in corners),
                "fill": "#ffffff",
                "stroke": "#222222",
                "stroke-width": 2,
            },
        ),
    )


# --- shared ------------------------------------------------------------------------------


def _svg(
    chart_id: str, height: int, classes: str, title: str, desc: str, parts: Iterable[Markup]
) -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    return _element(
        "svg",
        {
            "xmlns": SVG_NS,
            "id": chart_id,
            "class": classes,
            "viewBox": f"0 0 {_WIDTH} {height}",
            "role": "img",
            "aria-labelledby": f"{title_id} {desc_id}",
        },
        _element("title", {"id": title_id}, title),
        _element("desc", {"id": desc_id}, desc),
        *parts,
    )


def _chart_title(title: str) -> Markup:
    # Visible as well as in <title>: the figure may stand on its own on a page. Hidden
    # from assistive technology, which already reads the <title>.
    return Markup(  # noqa: S704 - the title is escaped # nosec B704
        f'<text class="chart-title" x="16" y="22" font-size="14" font-weight="bold" '
        f'fill="{_TEXT}" aria-hidden="true">{_text(title)}</text>'
    )


def _element(tag: str, attributes: Mapping[str, object], *children: Markup | str) -> Markup:
    """Return one XML element; attribute values and str children are escaped."""
    # A trajectory page draws thousands of elements: names are checked once each (cached),
    # and numbers, whose text cannot hold anything to escape, are written directly.
    pieces = [f"<{_checked_name(tag, attribute=False)}"]
    for name, value in attributes.items():
        if isinstance(value, float):
            text = _n(value)
        elif type(value) is int:
            text = str(value)
        else:
            text = str(escape(_xml_text(str(value))))
        pieces.append(f' {_checked_name(name, attribute=True)}="{text}"')
    if not children:
        return Markup("".join(pieces) + "/>")  # noqa: S704 - every value escaped above # nosec
    content = "".join(
        str(child) if isinstance(child, Markup) else str(escape(_xml_text(child)))
        for child in children
    )
    return Markup("".join(pieces) + f">{content}</{tag}>")  # noqa: S704 - escaped above # nosec


@lru_cache(maxsize=512)
def _checked_name(name: str, *, attribute: bool) -> str:
    """The element or attribute name, if it is a plain XML name (errors are not cached)."""
    if not _NAME.fullmatch(name):
        kind = "attribute" if attribute else "element"
        raise ValueError(f"invalid {kind} name {name!r}")
    # "font-style" is harmless, but keeping "style=" out of the markup altogether makes
    # the CSP rule checkable with one substring test.
    if attribute and "style" in name:
        raise ValueError("inline styles are forbidden by the CSP; use a class")
    return name


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _text(text: str) -> str:
    """Return text for an attribute value or element content, escaped as `_element` does."""
    return str(escape(_NOT_XML.sub("", text)))


def _n(value: float) -> str:
    """Return a coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _plain_number(value: float, decimal_mark: str, decimals: int = 2) -> str:
    """Return 3 as "3" and 2.5 as "2.5" (with the locale's decimal mark)."""
    if float(value).is_integer():
        return str(int(value))
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text.replace(".", decimal_mark)


def _checked_id(chart_id: str | None) -> str | None:
    if chart_id is not None and not _CHART_ID.fullmatch(chart_id):
        raise ValueError(f"chart_id must be letters, digits, - and _, not {chart_id!r}")
    return chart_id


def _derived_id(kind: str, *content: object) -> str:
    # Stable for the same content, so a page renders identically each time; different
    # charts on one page get different ids for their aria-labelledby.
    digest = hashlib.sha256(repr(content).encode("utf-8")).hexdigest()[:10]
    return f"{kind}-{digest}"
