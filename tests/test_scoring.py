"""Scoring: worked examples per rule, and properties that must hold for any answers."""

from __future__ import annotations

import math
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.instruments import InstrumentDefinition, load_builtin, load_definition, score_response
from app.instruments.scoring import score_range

# One subscale per rule. w3 is negatively keyed: an answer x counts as 1 + 5 - x.
SCORING = load_definition(
    """
key = "scoring_test"
version = 1
kind = "questionnaire"
licence = "Test only."
title = { nl = "Test", en = "Test" }
instructions = { nl = "Test", en = "Test" }

[scale]
min = 1
max = 5
anchors = [
    { value = 1, label = { nl = "nooit", en = "never" } },
    { value = 5, label = { nl = "altijd", en = "always" } },
]

[[subscales]]
key = "warmth"
label = { nl = "Warmte", en = "Warmth" }
higher_is_better = true
min_answered = 2
scoring = "mean"

[[subscales]]
key = "total"
label = { nl = "Totaal", en = "Total" }
higher_is_better = true
min_answered = 2
scoring = "sum"

[[subscales]]
key = "strain"
label = { nl = "Spanning", en = "Strain" }
higher_is_better = false
min_answered = 1
scoring = "rescale_0_100"

[[items]]
key = "w1"
subscale = "warmth"
text = { nl = "a", en = "a" }

[[items]]
key = "w2"
subscale = "warmth"
text = { nl = "b", en = "b" }

[[items]]
key = "w3"
subscale = "warmth"
keying = "negative"
text = { nl = "c", en = "c" }

[[items]]
key = "t1"
subscale = "total"
text = { nl = "d", en = "d" }

[[items]]
key = "t2"
subscale = "total"
text = { nl = "e", en = "e" }

[[items]]
key = "t3"
subscale = "total"
text = { nl = "f", en = "f" }

[[items]]
key = "t4"
subscale = "total"
text = { nl = "g", en = "g" }

[[items]]
key = "s1"
subscale = "strain"
text = { nl = "h", en = "h" }

[[items]]
key = "s2"
subscale = "strain"
text = { nl = "i", en = "i" }
""",
    source_name="scoring_test-v1.toml",
)

# (case, subscale, answers, expected value, expected n_answered, expected prorated)
WORKED_EXAMPLES: list[tuple[str, str, dict[str, int | None], float | None, int, bool]] = [
    # keyed 4, 5 and 1 + 5 - 2 = 4 -> mean 13 / 3
    ("mean with a reversed item", "warmth", {"w1": 4, "w2": 5, "w3": 2}, 13 / 3, 3, False),
    # keyed 4 and 1 + 5 - 1 = 5, w2 skipped -> mean 4.5
    ("mean skips a missing answer", "warmth", {"w1": 4, "w2": None, "w3": 1}, 4.5, 2, False),
    # only 1 of the 2 required answers -> no score
    ("mean below min_answered", "warmth", {"w1": 4}, None, 1, False),
    # 1 + 2 + 3 + 4
    ("sum of all items", "total", {"t1": 1, "t2": 2, "t3": 3, "t4": 4}, 10.0, 4, False),
    # mean of 2, 4, 3 is 3; prorated to 4 items -> 12
    ("sum prorated", "total", {"t1": 2, "t2": 4, "t3": None, "t4": 3}, 12.0, 3, True),
    ("sum below min_answered", "total", {"t1": 5}, None, 1, False),
    # mean 3 -> (3 - 1) / (5 - 1) * 100
    ("rescale middle", "strain", {"s1": 2, "s2": 4}, 50.0, 2, False),
    ("rescale bottom", "strain", {"s1": 1, "s2": 1}, 0.0, 2, False),
    ("rescale top", "strain", {"s1": 5, "s2": 5}, 100.0, 2, False),
    # one answer meets min_answered = 1: (2 - 1) / 4 * 100
    ("rescale one answer", "strain", {"s1": 2}, 25.0, 1, False),
    ("nothing answered", "strain", {}, None, 0, False),
]


@pytest.mark.parametrize(
    ("subscale", "answers", "value", "n_answered", "prorated"),
    [case[1:] for case in WORKED_EXAMPLES],
    ids=[case[0] for case in WORKED_EXAMPLES],
)
def test_worked_examples(
    subscale: str,
    answers: dict[str, int | None],
    value: float | None,
    n_answered: int,
    prorated: bool,
) -> None:
    score = score_response(SCORING, answers)[subscale]
    assert score.value == (pytest.approx(value) if value is not None else None)
    assert score.n_answered == n_answered
    assert score.prorated is prorated


def test_every_subscale_is_reported_in_file_order() -> None:
    scores = score_response(SCORING, {})
    assert list(scores) == ["warmth", "total", "strain"]
    assert [s.n_items for s in scores.values()] == [3, 4, 2]
    assert [s.rule for s in scores.values()] == ["mean", "sum", "rescale_0_100"]


def test_builtin_relationship_closeness_reverses_its_negative_item() -> None:
    relationship = load_builtin()[("relationship", 1)]
    answers = {f"close_{i}": 5 for i in (1, 2, 3, 5, 6)} | {"close_4": 1}
    assert score_response(relationship, answers)["closeness"].value == 5.0


def test_builtin_strain_is_rescaled() -> None:
    strain = load_builtin()[("strain", 1)]
    # work: mean 3 -> 50; client: mean 4 -> 75
    answers = {f"work_{i}": 3 for i in range(1, 6)} | {f"client_{i}": 4 for i in range(1, 5)}
    scores = score_response(strain, answers)
    assert scores["work_exhaustion"].value == 50.0
    assert scores["client_exhaustion"].value == 75.0


BAD_ANSWERS: list[tuple[str, dict[str, object], str]] = [
    ("unknown item", {"w1": 3, "w9": 3}, 'has no item\\(s\\) "w9"'),
    ("below the scale", {"w1": 0}, 'item "w1": answer 0 is outside the scale 1 to 5'),
    ("above the scale", {"t2": 6}, 'item "t2": answer 6 is outside the scale 1 to 5'),
    ("a bool", {"w1": True}, 'item "w1": answer True is not a whole number'),
    ("a float", {"w1": 2.5}, 'item "w1": answer 2.5 is not a whole number'),
    ("a string", {"w1": "3"}, "item \"w1\": answer '3' is not a whole number"),
]


@pytest.mark.parametrize(
    ("answers", "message"),
    [case[1:] for case in BAD_ANSWERS],
    ids=[case[0] for case in BAD_ANSWERS],
)
def test_it_rejects_bad_answers(answers: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score_response(SCORING, answers)  # type: ignore[arg-type]


def test_a_diary_has_no_scores() -> None:
    with pytest.raises(ValueError, match="diary"):
        score_response(load_builtin()[("diary", 1)], {})


# --- properties ----------------------------------------------------------------------------

SCORED = [SCORING] + [d for d in load_builtin().values() if d.kind != "diary"]


def _with_rule(definition: InstrumentDefinition, rule: str | None) -> InstrumentDefinition:
    """Return the definition with every subscale scored by one rule (None: as defined)."""
    if rule is None:
        return definition
    subscales = tuple(s.model_copy(update={"scoring": rule}) for s in definition.subscales)
    return definition.model_copy(update={"subscales": subscales})


@st.composite
def responses(draw: st.DrawFn) -> tuple[InstrumentDefinition, dict[str, int | None]]:
    definition = _with_rule(
        draw(st.sampled_from(SCORED)),
        draw(st.sampled_from([None, "mean", "sum", "rescale_0_100"])),
    )
    assert definition.scale is not None
    answer = st.none() | st.integers(definition.scale.min, definition.scale.max)
    answers = draw(st.fixed_dictionaries({item.key: answer for item in definition.items}))
    return definition, answers


@given(responses())
def test_scores_stay_within_the_possible_range(
    response: tuple[InstrumentDefinition, dict[str, int | None]],
) -> None:
    definition, answers = response
    for key, score in score_response(definition, answers).items():
        subscale = definition.subscale(key)
        assert score.n_answered <= score.n_items
        assert (score.value is None) == (score.n_answered < subscale.min_answered)
        if score.value is not None:
            low, high = score_range(definition, key)
            assert low - 1e-9 <= score.value <= high + 1e-9


@given(responses())
def test_reversing_every_keying_mirrors_the_score(
    response: tuple[InstrumentDefinition, dict[str, int | None]],
) -> None:
    # Reversing every item maps each keyed answer x to min + max - x, so any of the
    # three rules maps a score s to low + high - s (mean: min + max - s; sum of n
    # items: n(min + max) - s, prorated or not; 0-100: 100 - s).
    definition, answers = response
    flipped_items = tuple(
        item.model_copy(update={"keying": "negative" if item.keying == "positive" else "positive"})
        for item in definition.items
    )
    flipped = definition.model_copy(update={"items": flipped_items})
    original = score_response(definition, answers)
    mirrored = score_response(flipped, answers)
    for key, score in original.items():
        if score.value is None:
            assert mirrored[key].value is None
            continue
        low, high = score_range(definition, key)
        assert mirrored[key].value == pytest.approx(low + high - score.value)


@given(responses(), st.randoms(use_true_random=False))
def test_the_order_of_the_answers_does_not_matter(
    response: tuple[InstrumentDefinition, dict[str, int | None]], random: Random
) -> None:
    definition, answers = response
    pairs = list(answers.items())
    random.shuffle(pairs)
    assert score_response(definition, dict(pairs)) == score_response(definition, answers)


@given(responses())
def test_scores_are_recomputable_from_the_raw_answers(
    response: tuple[InstrumentDefinition, dict[str, int | None]],
) -> None:
    definition, answers = response
    stored = dict(answers)
    first = score_response(definition, answers)
    assert score_response(definition, stored) == first
    assert all(math.isfinite(s.value) for s in first.values() if s.value is not None)
