"""The narrative coding scheme: the shipped file, its checks, bands and rating validation."""

from __future__ import annotations

from typing import Any

import pytest

from app import i18n
from app.coaching.scheme import (
    CodingScheme,
    band,
    coding_scheme,
    load_scheme,
    rating_problem,
    validate_ratings,
)
from app.definition_files import DefinitionError

EXPECTED_KEYS = [
    "sensitivity",
    "perspective_taking",
    "secure_base",
    "positive_affect",
    "anger",
    "helplessness",
    "neutralising",
    "differentiation",
    "interactional_attributions",
    "compassion",
    "emotional_labour",
    "coherence",
]

GOOD_DIMENSION = """
[[dimensions]]
key = "{key}"
min = {min}
max = {max}
higher_is_favourable = true
label = {{ nl = "Label", en = "Label" }}
description = {{ nl = "Let erop of je iets hoort.", en = "Notice whether you hear something." }}
bands.low = {{ nl = "laag", en = "low" }}
bands.mixed = {{ nl = "gemengd", en = "mixed" }}
bands.high = {{ nl = "hoog", en = "high" }}
"""


def scheme_text(*dimensions: str, version: int = 1) -> str:
    return f"version = {version}\n" + "".join(dimensions)


def dimension(key: str = "warmth", lo: int = 1, hi: int = 7) -> str:
    return GOOD_DIMENSION.format(key=key, min=lo, max=hi)


def problems_of(text: str, source_name: str | None = None) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_scheme(text, source_name=source_name)
    return [str(problem) for problem in caught.value.problems]


# --- the shipped scheme ------------------------------------------------------------------


def test_the_shipped_scheme_has_every_dimension_in_order() -> None:
    scheme = coding_scheme()
    assert scheme.version == 1
    assert [d.key for d in scheme.dimensions] == EXPECTED_KEYS


def test_coherence_is_rated_1_to_5_and_the_rest_1_to_7() -> None:
    scales = {d.key: (d.min, d.max) for d in coding_scheme().dimensions}
    assert scales.pop("coherence") == (1, 5)
    assert set(scales.values()) == {(1, 7)}


def test_only_anger_helplessness_and_emotional_labour_are_unfavourable_when_high() -> None:
    unfavourable = {d.key for d in coding_scheme().dimensions if not d.higher_is_favourable}
    assert unfavourable == {"anger", "helplessness", "emotional_labour"}


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_every_text_is_written_in_both_languages(locale: Any) -> None:
    for d in coding_scheme().dimensions:
        texts = [d.label, d.description, d.bands.low, d.bands.mixed, d.bands.high]
        for text in texts:
            assert text.get(locale).strip(), (d.key, locale)
        # A description is one sentence of help, not a paragraph.
        assert d.description.get(locale).count(". ") == 0, d.key


def test_the_scheme_is_read_once_and_shared() -> None:
    assert coding_scheme() is coding_scheme(1)


def test_an_unknown_version_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="version 99"):
        coding_scheme(99)


def test_dimension_looks_up_by_key() -> None:
    scheme = coding_scheme()
    assert scheme.dimension("anger").label.get("en") == "Anger"
    with pytest.raises(KeyError, match="no dimension"):
        scheme.dimension("angr")


# --- checks on load ----------------------------------------------------------------------


def test_a_good_scheme_loads() -> None:
    scheme = load_scheme(scheme_text(dimension("a"), dimension("b", 1, 5)))
    assert isinstance(scheme, CodingScheme)
    assert [d.key for d in scheme.dimensions] == ["a", "b"]


def test_duplicate_keys_are_refused() -> None:
    found = problems_of(scheme_text(dimension("anger"), dimension("anger")))
    assert found == ['<text>: dimension "anger": key is used 2 times; keys must be unique']


@pytest.mark.parametrize(("lo", "hi"), [(7, 1), (3, 3)])
def test_min_must_be_below_max(lo: int, hi: int) -> None:
    found = problems_of(scheme_text(dimension("anger", lo, hi)))
    assert found == [f'<text>: dimension "anger": min ({lo}) must be less than max ({hi})']


def test_a_scale_needs_room_for_three_bands() -> None:
    found = problems_of(scheme_text(dimension("anger", 1, 2)))
    assert found == ['<text>: dimension "anger": the scale needs at least 3 points for its bands']


def test_a_missing_translation_names_the_dimension_and_the_text() -> None:
    text = scheme_text(dimension("anger")).replace(', en = "high"', "")
    assert problems_of(text) == [
        '<text>: dimension "anger": missing "en" translation of bands.high'
    ]


def test_an_empty_translation_is_refused() -> None:
    text = scheme_text(dimension("anger")).replace('nl = "Label"', 'nl = " "')
    assert problems_of(text) == ['<text>: dimension "anger": empty "nl" translation of label']


def test_a_badly_formed_key_is_refused() -> None:
    found = problems_of(scheme_text(dimension("Anger")))
    assert found == [
        '<text>: dimension "Anger": key should be lower-case letters, digits and _ '
        "and start with a letter"
    ]


def test_a_scheme_without_dimensions_is_refused() -> None:
    found = problems_of("version = 1\ndimensions = []\n")
    assert found == ["<text>: a coding scheme needs at least one [[dimensions]] entry"]


def test_the_file_name_must_match_the_version() -> None:
    found = problems_of(scheme_text(dimension(), version=2), source_name="scheme-v1.toml")
    assert found == ['scheme-v1.toml: file name should be "scheme-v2.toml" for version 2']


def test_invalid_toml_reports_the_line() -> None:
    (found,) = problems_of("version = 1\n[[dimensions]\n")
    assert found.startswith("<text>: line 2: invalid TOML")


# --- bands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("sensitivity", ["low", "low", "mixed", "mixed", "mixed", "high", "high"]),
        ("coherence", ["low", "mixed", "mixed", "mixed", "high"]),
    ],
)
def test_bands_follow_the_scale(key: str, expected: list[str]) -> None:
    d = coding_scheme().dimension(key)
    assert [band(d, value) for value in range(d.min, d.max + 1)] == expected


def test_bands_on_a_three_point_scale() -> None:
    d = load_scheme(scheme_text(dimension("x", 0, 2))).dimension("x")
    assert [band(d, value) for value in (0, 1, 2)] == ["low", "mixed", "high"]


@pytest.mark.parametrize("value", [0, 8, -1])
def test_a_band_outside_the_scale_is_an_error(value: int) -> None:
    with pytest.raises(ValueError, match="outside the scale"):
        band(coding_scheme().dimension("anger"), value)


def test_a_band_needs_a_whole_number() -> None:
    with pytest.raises(TypeError):
        band(coding_scheme().dimension("anger"), 2.5)  # type: ignore[arg-type]


# --- validating ratings ------------------------------------------------------------------


def test_valid_ratings_come_back_as_integers() -> None:
    valid, errors = validate_ratings(
        coding_scheme(), {"anger": "3", "coherence": 5, "sensitivity": " 7 ", "compassion": "+1"}
    )
    assert valid == {"anger": 3, "coherence": 5, "sensitivity": 7, "compassion": 1}
    assert errors == {}


def test_missing_ratings_mean_not_yet_rated() -> None:
    assert validate_ratings(coding_scheme(), {"anger": None, "coherence": ""}) == ({}, {})
    assert validate_ratings(coding_scheme(), {}) == ({}, {})


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("ange", "3", "This is not a dimension of the coding scheme."),
        ("anger", "2.5", "Give a whole number from 1 to 7."),
        ("anger", "drie", "Give a whole number from 1 to 7."),
        ("anger", "1_0", "Give a whole number from 1 to 7."),
        ("anger", "٣", "Give a whole number from 1 to 7."),
        ("anger", "9" * 5000, "Give a whole number from 1 to 7."),  # int() refuses it
        ("anger", True, "Give a whole number from 1 to 7."),
        ("anger", 2.0, "Give a whole number from 1 to 7."),
        ("anger", "0", "Give a rating from 1 to 7."),
        ("anger", 8, "Give a rating from 1 to 7."),
        ("coherence", "6", "Give a rating from 1 to 5."),
        ("coherence", "-1", "Give a rating from 1 to 5."),
    ],
)
def test_invalid_ratings_are_reported_per_dimension(key: str, raw: Any, message: str) -> None:
    valid, errors = validate_ratings(coding_scheme(), {key: raw, "helplessness": "4"})
    assert valid == {"helplessness": 4}
    assert errors == {key: message}


def test_messages_go_through_the_given_gettext() -> None:
    seen: list[tuple[str, dict[str, object]]] = []

    def fake_gettext(message: str, **variables: object) -> str:
        seen.append((message, variables))
        return "NL: " + message % variables

    _valid, errors = validate_ratings(coding_scheme(), {"anger": "9"}, _=fake_gettext)
    assert errors == {"anger": "NL: Give a rating from 1 to 7."}
    assert seen == [("Give a rating from %(min)s to %(max)s.", {"min": 1, "max": 7})]


def test_the_apps_gettext_fits_the_parameter() -> None:
    with i18n.using_locale("en"):
        _valid, errors = validate_ratings(coding_scheme(), {"anger": "x"}, _=i18n.gettext)
    assert errors == {"anger": "Give a whole number from 1 to 7."}


def test_rating_problem_without_gettext_is_plain_english() -> None:
    anger = coding_scheme().dimension("anger")
    assert rating_problem("out_of_range", anger) == "Give a rating from 1 to 7."
    assert rating_problem("unknown_dimension", None) == (
        "This is not a dimension of the coding scheme."
    )
