"""Reliable change index, SD and Cronbach's alpha against hand-worked examples."""

from __future__ import annotations

import math
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.instruments import (
    ChangeClass,
    ChangeParameters,
    change_parameters,
    cronbach_alpha,
    load_builtin,
    reliable_change,
    sample_sd,
)
from app.instruments.reliable_change import MIN_ORG_BASELINE

# (case, sd, r, pre, post, higher_is_better, rc, s_diff, classification)
WORKED_EXAMPLES = [
    # SE = 10 * sqrt(1 - .80) = 10 * .44721 = 4.4721; S_diff = sqrt(2) * 4.4721 = 6.3246;
    # RC = (60 - 50) / 6.3246 = 1.5811 <= 1.96 -> no reliable change.
    ("gain too small", 10.0, 0.80, 50.0, 60.0, True, 1.5811, 6.3246, ChangeClass.NO_CHANGE),
    # Conflict (lower is better). SE = .80 * sqrt(.10) = .25298; S_diff = .35777;
    # RC = (2.8 - 3.6) / .35777 = -2.2361 -> reliable decrease in conflict -> improved.
    ("less conflict", 0.80, 0.90, 3.6, 2.8, False, -2.2361, 0.35777, ChangeClass.IMPROVED),
    # Same numbers the other way round: more conflict -> deteriorated.
    ("more conflict", 0.80, 0.90, 2.8, 3.6, False, 2.2361, 0.35777, ChangeClass.DETERIORATED),
    # Closeness. SE = .60 * sqrt(.15) = .23238; S_diff = .32863;
    # RC = (3.4 - 4.2) / .32863 = -2.4343 -> reliable loss of closeness -> deteriorated.
    ("less closeness", 0.60, 0.85, 4.2, 3.4, True, -2.4343, 0.32863, ChangeClass.DETERIORATED),
    # Strain on 0-100. SE = 20 * sqrt(.15) = 7.7460; S_diff = 10.9545;
    # RC = (30 - 55) / 10.9545 = -2.2822 -> less exhaustion -> improved.
    ("less strain", 20.0, 0.85, 55.0, 30.0, False, -2.2822, 10.9545, ChangeClass.IMPROVED),
    # Efficacy. SE = 1 * sqrt(.2) = .44721; S_diff = .63246; RC = 1.5 / .63246 = 2.3717.
    ("more confidence", 1.0, 0.80, 3.5, 5.0, True, 2.3717, 0.63246, ChangeClass.IMPROVED),
    ("no change at all", 1.0, 0.80, 4.0, 4.0, True, 0.0, 0.63246, ChangeClass.NO_CHANGE),
]


@pytest.mark.parametrize(
    ("sd", "r", "pre", "post", "higher_is_better", "rc", "s_diff", "classification"),
    [case[1:] for case in WORKED_EXAMPLES],
    ids=[case[0] for case in WORKED_EXAMPLES],
)
def test_worked_examples(
    sd: float,
    r: float,
    pre: float,
    post: float,
    higher_is_better: bool,
    rc: float,
    s_diff: float,
    classification: ChangeClass,
) -> None:
    result = reliable_change(
        pre, post, ChangeParameters(sd=sd, reliability=r), higher_is_better=higher_is_better
    )
    assert result.rc == pytest.approx(rc, abs=1e-4)
    assert result.s_diff == pytest.approx(s_diff, abs=1e-4)
    assert result.se == pytest.approx(s_diff / math.sqrt(2), abs=1e-4)
    assert result.classification is classification
    assert result.provisional is True


def test_the_provisional_flag_comes_from_the_parameters() -> None:
    parameters = ChangeParameters(sd=1, reliability=0.8, source="organisation", provisional=False)
    assert reliable_change(1, 2, parameters, higher_is_better=True).provisional is False


@pytest.mark.parametrize(("sd", "r"), [(0, 0.8), (-1, 0.8), (1, 0), (1, 1), (1, 1.2)])
def test_it_refuses_impossible_parameters(sd: float, r: float) -> None:
    with pytest.raises(ValueError):
        reliable_change(1, 2, ChangeParameters(sd=sd, reliability=r), higher_is_better=True)


@given(
    st.floats(0.1, 50),
    st.floats(0.05, 0.95),
    st.floats(-100, 100),
    st.floats(-100, 100),
    st.booleans(),
)
def test_direction_is_symmetric(
    sd: float, r: float, pre: float, post: float, higher_is_better: bool
) -> None:
    parameters = ChangeParameters(sd=sd, reliability=r)
    forward = reliable_change(pre, post, parameters, higher_is_better=higher_is_better)
    backward = reliable_change(post, pre, parameters, higher_is_better=higher_is_better)
    other_way = reliable_change(pre, post, parameters, higher_is_better=not higher_is_better)
    mirror = {
        ChangeClass.IMPROVED: ChangeClass.DETERIORATED,
        ChangeClass.DETERIORATED: ChangeClass.IMPROVED,
        ChangeClass.NO_CHANGE: ChangeClass.NO_CHANGE,
    }
    assert backward.classification is mirror[forward.classification]
    assert other_way.classification is mirror[forward.classification]
    assert (forward.classification is ChangeClass.NO_CHANGE) == (abs(forward.rc) <= 1.96)


def test_sample_sd() -> None:
    # mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; 32 / (8 - 1) = 4.5714; sqrt = 2.1381
    assert sample_sd([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.13809, abs=1e-5)
    with pytest.raises(ValueError):
        sample_sd([3])


def test_cronbach_alpha_worked_example() -> None:
    rows: list[list[int | None]] = [
        [1, 2, 2],
        [2, 3, 3],
        [3, 3, 4],
        [4, 5, 5],
        [5, None, 1],  # incomplete: left out
    ]
    # Complete rows only. Item variances (n - 1 = 3):
    #   item 1: 1 2 3 4, mean 2.5,  squares 2.25+.25+.25+2.25 = 5    -> 5/3
    #   item 2: 2 3 3 5, mean 3.25, squares 1.5625+.0625+.0625+3.0625 = 4.75 -> 4.75/3
    #   item 3: 2 3 4 5, mean 3.5,  squares 2.25+.25+.25+2.25 = 5    -> 5/3
    #   sum of item variances = 14.75 / 3 = 4.91667
    # Totals 5 8 10 14, mean 9.25, squares 18.0625+1.5625+.5625+22.5625 = 42.75 -> 14.25
    # alpha = 3/2 * (1 - 4.91667 / 14.25) = 1.5 * .654971 = .982456
    assert cronbach_alpha(rows) == pytest.approx(0.982456, abs=1e-6)


def test_cronbach_alpha_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="complete rows"):
        cronbach_alpha([[1, 2], [2, None]])
    with pytest.raises(ValueError, match="2 items"):
        cronbach_alpha([[1], [2], [3]])
    with pytest.raises(ValueError, match="same number"):
        cronbach_alpha([[1, 2], [2, 3, 4]])
    with pytest.raises(ValueError, match="every total"):
        cronbach_alpha([[1, 5], [5, 1], [3, 3]])


# --- choosing SD and reliability --------------------------------------------------------

RELATIONSHIP = load_builtin()[("relationship", 1)]
PULSE = load_builtin()[("pulse", 1)]
CLOSENESS_POSITIVE = ["close_1", "close_2", "close_3", "close_5", "close_6"]


def _closeness_rows(n: int, seed: int = 7) -> list[dict[str, int | None]]:
    """Rows where each person has one closeness level, give or take one point per item."""
    rng = Random(seed)
    rows: list[dict[str, int | None]] = []
    for _ in range(n):
        level = rng.randint(1, 5)
        row: dict[str, int | None] = {
            key: min(5, max(1, level + rng.choice([-1, 0, 0, 1]))) for key in CLOSENESS_POSITIVE
        }
        # close_4 is phrased against closeness, so a close person disagrees with it.
        row["close_4"] = 6 - min(5, max(1, level + rng.choice([-1, 0, 0, 1])))
        rows.append(row)
    return rows


def test_fewer_than_30_org_responses_use_the_definition_provisionally() -> None:
    rows = _closeness_rows(MIN_ORG_BASELINE - 1)
    rows += [{"close_1": 3}] * 10  # incomplete rows do not count towards the 30
    parameters = change_parameters(RELATIONSHIP, "closeness", rows)
    assert parameters == ChangeParameters(
        sd=0.60, reliability=0.80, source="definition", n_baseline=0, provisional=True
    )


def test_30_org_responses_replace_the_definition_values() -> None:
    rows = _closeness_rows(MIN_ORG_BASELINE + 10)
    parameters = change_parameters(RELATIONSHIP, "closeness", rows)
    assert parameters is not None
    assert parameters.source == "organisation"
    assert parameters.provisional is False
    assert parameters.n_baseline == 40
    # Estimated from the keyed answers: close_4 reversed (6 - x), then mean per person.
    keyed = [
        [int(row[key] or 0) for key in CLOSENESS_POSITIVE] + [6 - int(row["close_4"] or 0)]
        for row in rows
    ]
    assert parameters.reliability == pytest.approx(cronbach_alpha(keyed))
    assert parameters.sd == pytest.approx(sample_sd([sum(k) / 6 for k in keyed]))
    assert 0.8 < parameters.reliability < 1


def test_without_definition_values_there_is_nothing_to_compute_until_30() -> None:
    assert change_parameters(PULSE, "conflict", [{"conflict": 3}] * 10) is None


def test_a_one_item_subscale_never_gets_an_org_alpha() -> None:
    rows: list[dict[str, int | None]] = [{"conflict": 1 + i % 5} for i in range(50)]
    assert change_parameters(PULSE, "conflict", rows) is None


def test_unusable_org_estimates_fall_back_to_the_definition() -> None:
    # Items that contradict each other: alpha is negative, so the org estimate is not used.
    rows: list[dict[str, int | None]] = [
        {"dep_1": a, "dep_2": 6 - a, "dep_3": a, "dep_4": 3} for a in (1, 2, 3, 4, 5) * 8
    ]
    keyed = [[row[k] for k in ("dep_1", "dep_2", "dep_3", "dep_4")] for row in rows]
    assert cronbach_alpha(keyed) <= 0
    parameters = change_parameters(RELATIONSHIP, "dependency", rows)
    assert parameters == ChangeParameters(sd=0.70, reliability=0.70)


def test_baseline_answers_are_checked() -> None:
    with pytest.raises(ValueError, match="outside the scale"):
        change_parameters(RELATIONSHIP, "closeness", [{"close_1": 9}])
