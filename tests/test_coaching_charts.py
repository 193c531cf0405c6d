"""SVG charts: valid XML, text alternatives, change markers, escaping, no inline styles."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from app.coaching.charts import (
    ChartLabels,
    ChartPoint,
    ProfileLabels,
    ProfileRow,
    profile_chart,
    subscale_chart,
)
from app.instruments.reliable_change import ChangeClass

NS = {"svg": "http://www.w3.org/2000/svg"}
LABELS = ChartLabels(
    improved="reliably improved",
    no_change="no reliable change",
    deteriorated="reliably deteriorated",
    no_value="no score",
    better="better",
)
PROFILE_LABELS = ProfileLabels(
    not_rated="not rated", earlier="earlier coding", lower_is_favourable="lower is better"
)
EVIL = '<script>alert("x")</script> & co'


def scores(*points: ChartPoint, title: str = "Closeness", higher_is_better: bool = True) -> str:
    return subscale_chart(
        points, title=title, y_min=1, y_max=5, higher_is_better=higher_is_better, labels=LABELS
    )


def profile(*rows: ProfileRow, title: str = "Relationship profile") -> str:
    return profile_chart(rows, title=title, labels=PROFILE_LABELS)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is XML


def text_alternative(root: ET.Element) -> tuple[str, str]:
    """Return the title and desc that aria-labelledby points at, checking the ids."""
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert title is not None and desc is not None
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return title.text or "", desc.text or ""


def classes(root: ET.Element) -> list[str]:
    return [c for element in root.iter() for c in (element.get("class") or "").split()]


def assert_no_inline_style(svg: str, root: ET.Element) -> None:
    assert "style=" not in svg
    assert root.find(".//svg:style", NS) is None
    assert all("style" not in element.attrib for element in root.iter())


SERIES = (
    ChartPoint("Intake", 3.2),
    ChartPoint("Na zes weken", 3.9, "reliably_improved"),
    ChartPoint("Follow-up", 3.1, "no_reliable_change"),
    ChartPoint("Later", 2.0, "reliably_deteriorated"),
)


# --- scores over time --------------------------------------------------------------------


def test_a_score_chart_is_valid_svg_with_a_text_alternative() -> None:
    svg = scores(*SERIES)
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("width") is None  # sized by CSS; the viewBox keeps the proportions
    title, desc = text_alternative(root)
    assert title == "Closeness"
    assert desc == (
        "Intake: 3.2; Na zes weken: 3.9 (reliably improved); "
        "Follow-up: 3.1 (no reliable change); Later: 2.0 (reliably deteriorated)."
    )
    assert_no_inline_style(svg, root)


def test_every_point_is_a_circle_with_its_value() -> None:
    root = parse(scores(*SERIES))
    assert len(root.findall(".//svg:circle", NS)) == 4
    values = [t.text for t in root.iterfind(".//svg:text[@class='value']", NS)]
    assert values == ["3.2", "3.9", "3.1", "2.0"]


@pytest.mark.parametrize(
    ("change", "glyph", "words"),
    [
        ("reliably_improved", "▲", "reliably improved"),
        ("no_reliable_change", "=", "no reliable change"),
        ("reliably_deteriorated", "▼", "reliably deteriorated"),
        (ChangeClass.IMPROVED, "▲", "reliably improved"),
    ],
)
def test_each_classification_has_its_own_marker_and_words(
    change: str, glyph: str, words: str
) -> None:
    root = parse(scores(ChartPoint("Intake", 3.0), ChartPoint("Na zes weken", 4.0, change)))  # type: ignore[arg-type]
    (marker,) = [
        g
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "change" in (g.get("class") or "").split()
    ]
    tooltip = marker.find("svg:title", NS)
    assert tooltip is not None and tooltip.text == f"Na zes weken: {words}"
    assert [t.text for t in marker.iterfind("svg:text", NS)] == [glyph]
    assert f"({words})" in text_alternative(root)[1]


def test_markers_differ_in_shape_not_only_in_colour() -> None:
    root = parse(scores(*SERIES))
    found = classes(root)
    for slug in ("improved", "no-change", "deteriorated"):
        assert f"change--{slug}" in found
    glyphs = [
        t.text
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "change" in (g.get("class") or "").split()
        for t in g.iterfind("svg:text", NS)
    ]
    assert glyphs == ["▲", "=", "▼"]


def test_a_single_point() -> None:
    svg = scores(ChartPoint("Intake", 4.0))
    root = parse(svg)
    assert text_alternative(root)[1] == "Intake: 4.0."
    assert len(root.findall(".//svg:circle", NS)) == 1
    (path,) = root.iterfind(".//svg:path", NS)
    assert path.get("d", "").count("M") == 1


def test_a_missing_value_breaks_the_line_and_is_said_in_the_desc() -> None:
    root = parse(
        scores(
            ChartPoint("Intake", 3.0), ChartPoint("Na zes weken", None), ChartPoint("Later", 4.0)
        )
    )
    assert text_alternative(root)[1] == "Intake: 3.0; Na zes weken: no score; Later: 4.0."
    assert len(root.findall(".//svg:circle", NS)) == 2
    (path,) = root.iterfind(".//svg:path", NS)
    # Two separate one-point pieces, never a line drawn across the gap.
    assert "L" not in (path.get("d") or "")
    assert "point--missing" in classes(root)


def test_no_points_at_all() -> None:
    root = parse(scores())
    assert text_alternative(root)[1] == "no score"
    assert root.find(".//svg:path", NS) is None


def test_labels_are_escaped() -> None:
    svg = scores(ChartPoint(EVIL, 3.0, "reliably_improved"), title=EVIL)
    assert "<script" not in svg
    root = parse(svg)
    assert text_alternative(root)[0] == EVIL
    assert EVIL in text_alternative(root)[1]


def test_the_y_axis_has_ticks_within_the_range() -> None:
    root = parse(scores(ChartPoint("Intake", 3.0)))
    ticks = [t.text for t in root.iterfind(".//svg:text[@class='tick-label']", NS)]
    assert ticks == ["1", "2", "3", "4", "5"]
    wide = parse(
        subscale_chart(
            [ChartPoint("Intake", 55.0)],
            title="Strain",
            y_min=0,
            y_max=100,
            higher_is_better=False,
            labels=LABELS,
        )
    )
    ticks = [t.text for t in wide.iterfind(".//svg:text[@class='tick-label']", NS)]
    assert ticks == ["0", "20", "40", "60", "80", "100"]


def test_the_better_direction_is_written_not_only_coded() -> None:
    up = parse(scores(ChartPoint("Intake", 3.0)))
    down = parse(scores(ChartPoint("Intake", 3.0), higher_is_better=False))
    hint = ".//svg:text[@class='axis-hint']"
    assert up.find(hint, NS).text == "↑ better"  # type: ignore[union-attr]
    assert down.find(hint, NS).text == "↓ better"  # type: ignore[union-attr]
    assert "chart--lower-is-better" in classes(down)


def test_a_decimal_comma_for_dutch() -> None:
    labels = ChartLabels("beter", "gelijk", "slechter", "geen score", decimal_mark=",")
    svg = subscale_chart(
        [ChartPoint("Intake", 3.25)],
        title="Nabijheid",
        y_min=1,
        y_max=5,
        higher_is_better=True,
        labels=labels,
    )
    assert text_alternative(parse(svg))[1] == "Intake: 3,2."


def test_ids_are_unique_per_chart_and_can_be_chosen() -> None:
    a = parse(scores(ChartPoint("Intake", 3.0), title="Closeness"))
    b = parse(scores(ChartPoint("Intake", 3.0), title="Conflict"))
    assert a.get("id") != b.get("id")
    chosen = parse(
        subscale_chart(
            [ChartPoint("Intake", 3.0)],
            title="x",
            y_min=1,
            y_max=5,
            higher_is_better=True,
            labels=LABELS,
            chart_id="closeness-chart",
        )
    )
    assert chosen.get("aria-labelledby") == "closeness-chart-title closeness-chart-desc"


@pytest.mark.parametrize("bad_id", ['x" onload="alert(1)', "1abc", ""])
def test_a_chart_id_cannot_inject_markup(bad_id: str) -> None:
    with pytest.raises(ValueError, match="chart_id"):
        subscale_chart(
            [], title="x", y_min=1, y_max=5, higher_is_better=True, labels=LABELS, chart_id=bad_id
        )


def test_the_y_range_must_be_a_range() -> None:
    with pytest.raises(ValueError, match="y_min"):
        subscale_chart([], title="x", y_min=5, y_max=5, higher_is_better=True, labels=LABELS)


def test_values_outside_the_range_stay_inside_the_plot() -> None:
    root = parse(scores(ChartPoint("Intake", 9.0)))
    (circle,) = root.iterfind(".//svg:circle", NS)
    top = min(float(t.get("y1", "0")) for t in root.iterfind(".//svg:line[@class='grid']", NS))
    assert float(circle.get("cy", "0")) == top
    assert text_alternative(root)[1] == "Intake: 9.0."


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_text_gives_well_formed_svg(title: str, label: str) -> None:
    root = parse(scores(ChartPoint(label, 3.0, "reliably_improved"), title=title))
    assert root.find("svg:title", NS) is not None


# --- the relationship profile ------------------------------------------------------------


PROFILE_ROWS = (
    ProfileRow("Sensitivity and attunement", 5, 1, 7, earlier=3),
    ProfileRow("Anger", 2, 1, 7, earlier=5, favourable=False),
    ProfileRow("Helplessness", None, 1, 7, favourable=False),
    ProfileRow("Coherence", 4, 1, 5),
)


def test_a_profile_is_valid_svg_with_a_text_alternative() -> None:
    svg = profile(*PROFILE_ROWS)
    assert isinstance(svg, Markup)
    root = parse(svg)
    title, desc = text_alternative(root)
    assert title == "Relationship profile"
    assert desc == (
        "Sensitivity and attunement: 5 (1–7), earlier coding 3; "
        "Anger: 2 (1–7), earlier coding 5; Helplessness: not rated; Coherence: 4 (1–5)."
    )
    assert_no_inline_style(svg, root)


def test_one_bar_per_rated_dimension_with_its_value() -> None:
    root = parse(profile(*PROFILE_ROWS))
    assert len(root.findall(".//svg:rect[@class='bar']", NS)) == 3
    assert len(root.findall(".//svg:rect[@class='track']", NS)) == 4
    values = [t.text for t in root.iterfind(".//svg:text[@class='value']", NS)]
    assert values == ["5", "2", "4"]


def test_each_bar_is_on_its_own_scale() -> None:
    root = parse(profile(ProfileRow("Top of 1–7", 7, 1, 7), ProfileRow("Top of 1–5", 5, 1, 5)))
    tracks = root.findall(".//svg:rect[@class='track']", NS)
    bars = root.findall(".//svg:rect[@class='bar']", NS)
    assert [b.get("width") for b in bars] == [t.get("width") for t in tracks]


def test_an_unrated_dimension_says_so() -> None:
    root = parse(profile(ProfileRow("Helplessness", None, 1, 7)))
    (note,) = root.iterfind(".//svg:text[@class='not-rated']", NS)
    assert note.text == "not rated"
    assert "profile-row--unrated" in classes(root)
    assert root.find(".//svg:rect[@class='bar']", NS) is None


def test_an_earlier_coding_is_a_hollow_marker_with_a_tooltip() -> None:
    root = parse(profile(*PROFILE_ROWS))
    earlier = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "earlier"]
    assert [g.find("svg:title", NS).text for g in earlier] == [  # type: ignore[union-attr]
        "earlier coding 3",
        "earlier coding 5",
    ]
    for g in earlier:
        polygon = g.find("svg:polygon", NS)
        assert polygon is not None and polygon.get("fill") == "#ffffff"


def test_an_earlier_value_without_a_current_one_is_still_drawn() -> None:
    root = parse(profile(ProfileRow("Anger", None, 1, 7, earlier=4)))
    assert text_alternative(root)[1] == "Anger: not rated, earlier coding 4."
    assert "earlier" in classes(root)


def test_dimensions_where_less_is_better_are_marked_in_words() -> None:
    root = parse(profile(*PROFILE_ROWS))
    hints = [t.text for t in root.iterfind(".//svg:tspan[@class='hint']", NS)]
    assert hints == [" (lower is better)", " (lower is better)"]
    assert classes(root).count("profile-row--unfavourable") == 2


def test_profile_labels_are_escaped() -> None:
    svg = profile(ProfileRow(EVIL, 3, 1, 7), title=EVIL)
    assert "<script" not in svg
    root = parse(svg)
    assert text_alternative(root) == (EVIL, f"{EVIL}: 3 (1–7).")


def test_an_empty_profile() -> None:
    root = parse(profile())
    assert text_alternative(root)[1] == "not rated"


def test_a_profile_row_needs_a_scale() -> None:
    with pytest.raises(ValueError, match="min"):
        profile(ProfileRow("Anger", 3, 7, 7))


def test_a_mean_rating_keeps_one_decimal() -> None:
    labels = ProfileLabels(not_rated="niet gescoord", earlier="eerder", decimal_mark=",")
    svg = profile_chart([ProfileRow("Boosheid", 3.5, 1, 7)], title="Profiel", labels=labels)
    assert text_alternative(parse(svg))[1] == "Boosheid: 3,5 (1–7)."


def test_the_value_stays_at_its_bar_unless_the_earlier_marker_covers_it() -> None:
    def value_and_bar_end(row: ProfileRow) -> tuple[float, float]:
        root = parse(profile(row))
        bar = root.find(".//svg:rect[@class='bar']", NS)
        value = root.find(".//svg:text[@class='value']", NS)
        assert bar is not None and value is not None
        return float(value.get("x", "0")), float(bar.get("x", "0")) + float(bar.get("width", "0"))

    x, end = value_and_bar_end(ProfileRow("Anger", 2, 1, 7, earlier=5))
    assert x == pytest.approx(end + 6)
    x, end = value_and_bar_end(ProfileRow("Anger", 4, 1, 7, earlier=4))
    assert x > end + 6
