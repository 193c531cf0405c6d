"""Coding agreement: ICC(A,1) against hand-worked examples, properties, and two codings."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.coaching.scheme import coding_scheme
from app.coaching.stats import Agreement, agreement_between, icc_absolute_agreement

# Shrout & Fleiss (1979), table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def test_shrout_and_fleiss_example_with_four_raters() -> None:
    # n = 6, k = 4, grand mean 127 / 24 = 5.2917.
    # Target means 6, 3, 6.5, 4, 7.5, 4.75 -> SS targets = 4 * 14.0521 = 56.208,
    #   MSR (their BMS) = 56.208 / 5 = 11.24.
    # Judge means 7.667, 2.5, 4.333, 6.667 -> SS judges = 6 * 16.243 = 97.458,
    #   MSC (their JMS) = 97.458 / 3 = 32.49.
    # SS total = 168.958 -> SS error = 168.958 - 56.208 - 97.458 = 15.292,
    #   MSE (their EMS) = 15.292 / 15 = 1.019.
    # ICC(2,1) = (11.24 - 1.019) / (11.24 + 3 * 1.019 + 4 * (32.49 - 1.019) / 6)
    #          = 10.222 / 35.277 = 0.29, as published.
    icc = icc_absolute_agreement(SHROUT_FLEISS)
    assert icc is not None
    assert icc == pytest.approx(0.2898, abs=1e-4)
    assert round(icc, 2) == 0.29


def test_two_raters_worked_by_hand() -> None:
    # Grand mean 3. Target means 1.5, 3, 4.5 -> SSR = 2 * (2.25 + 0 + 2.25) = 9, MSR = 4.5.
    # Rater means 3, 3 -> MSC = 0. SST = 4 + 1 + 0 + 0 + 4 + 1 = 10 -> SSE = 1, MSE = 0.5.
    # ICC = (4.5 - 0.5) / (4.5 + 0.5 + 2 * (0 - 0.5) / 3) = 4 / (14 / 3) = 6 / 7.
    assert icc_absolute_agreement([[1, 2], [3, 3], [5, 4]]) == pytest.approx(6 / 7)


def test_a_constant_offset_between_raters_lowers_absolute_agreement() -> None:
    # Rater 2 is always one higher. Grand mean 2.5; target means 1.5, 2.5, 3.5 -> SSR = 4,
    # MSR = 2; rater means 2, 3 -> SSC = 3 * 0.5 = 1.5, MSC = 1.5; SST = 5.5 -> SSE = 0.
    # ICC = 2 / (2 + 0 + 2 * 1.5 / 3) = 2 / 3 (consistency would say 1).
    assert icc_absolute_agreement([[1, 2], [2, 3], [3, 4]]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_identical_raters_agree_perfectly(k: int) -> None:
    rows = [[value] * k for value in (1, 4, 2, 7, 5)]
    assert icc_absolute_agreement(rows) == 1.0


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([], id="no targets"),
        pytest.param([[3, 4]], id="one target"),
        pytest.param([[4, 4], [4, 4], [4, 4]], id="no variance at all"),
        # Equal row and column means in a 2 x 2 table: MSR = MSC = 0 and the
        # denominator's MSE term has weight k - 1 - k / n = 0.
        pytest.param([[1, 2], [2, 1]], id="nothing to compare with"),
    ],
)
def test_undefined_icc_is_none(rows: list[list[float]]) -> None:
    assert icc_absolute_agreement(rows) is None


def test_a_missing_rating_is_an_error() -> None:
    with pytest.raises(ValueError, match="every target"):
        icc_absolute_agreement([[1, 2], [3]])


def test_one_rater_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 2 raters"):
        icc_absolute_agreement([[1], [2], [3]])


def test_non_finite_ratings_are_an_error() -> None:
    with pytest.raises(ValueError, match="finite"):
        icc_absolute_agreement([[1, float("nan")], [2, 3]])


ratings = st.integers(min_value=1, max_value=7)
tables = st.integers(min_value=2, max_value=5).flatmap(
    lambda k: st.lists(st.lists(ratings, min_size=k, max_size=k), min_size=2, max_size=12)
)


@given(tables)
def test_icc_is_at_most_one(rows: list[list[int]]) -> None:
    icc = icc_absolute_agreement(rows)
    assert icc is None or icc <= 1.0


@given(tables, st.randoms(use_true_random=False))
def test_icc_does_not_depend_on_the_order_of_raters(
    rows: list[list[int]], rng: random.Random
) -> None:
    order = list(range(len(rows[0])))
    rng.shuffle(order)
    shuffled = [[row[j] for j in order] for row in rows]
    before, after = icc_absolute_agreement(rows), icc_absolute_agreement(shuffled)
    assert (before is None) == (after is None)
    if before is not None and after is not None:
        assert after == pytest.approx(before, abs=1e-9)


@given(tables, st.integers(min_value=-10, max_value=10))
def test_icc_does_not_depend_on_where_the_scale_starts(rows: list[list[int]], shift: int) -> None:
    shifted = [[x + shift for x in row] for row in rows]
    before, after = icc_absolute_agreement(rows), icc_absolute_agreement(shifted)
    assert (before is None) == (after is None)
    if before is not None and after is not None:
        assert after == pytest.approx(before, abs=1e-9)


# --- two codings of one narrative --------------------------------------------------------


def test_identical_codings_agree_perfectly() -> None:
    coding = {"sensitivity": 6, "anger": 2, "helplessness": 3, "coherence": 4}
    assert agreement_between(coding, dict(coding), coding_scheme()) == Agreement(
        icc=1.0, n_dimensions=4, mean_abs_difference=0.0, exact_share=1.0
    )


def test_ratings_are_rescaled_so_coherence_counts_like_the_others() -> None:
    # Rescaled to 0-1: sensitivity 1 -> 0 and 4 -> 0.5 (of 1-7), coherence 5 -> 1 and
    # 3 -> 0.5 (of 1-5). Rows [[0, 0.5], [1, 0.5]]: grand mean 0.5, target means 0.25 and
    # 0.75 -> MSR = 2 * 0.125 = 0.25; rater means 0.5 and 0.5 -> MSC = 0; SST = 0.5 ->
    # SSE = 0.25, MSE = 0.25. ICC = 0 / (0.25 + 0.25 + 2 * (0 - 0.25) / 2) = 0.
    result = agreement_between(
        {"sensitivity": 1, "coherence": 5}, {"sensitivity": 4, "coherence": 3}, coding_scheme()
    )
    assert result.icc == pytest.approx(0.0)
    assert result.n_dimensions == 2
    assert result.mean_abs_difference == pytest.approx(0.5)
    assert result.exact_share == 0.0


def test_only_dimensions_rated_by_both_count() -> None:
    a = {"sensitivity": 6, "anger": 2, "coherence": 4, "compassion": None, "secure_base": 5}
    b = {"sensitivity": 5, "anger": 2, "coherence": 4, "compassion": 3, "helplessness": 1}
    result = agreement_between(a, b, coding_scheme())
    assert result.n_dimensions == 3
    assert result.exact_share == pytest.approx(2 / 3)
    # |6 - 5| / 6 on sensitivity, 0 elsewhere.
    assert result.mean_abs_difference == pytest.approx((1 / 6) / 3)
    assert result.icc is not None and 0 < result.icc < 1


def test_one_shared_dimension_gives_no_icc() -> None:
    result = agreement_between({"anger": 2}, {"anger": 3}, coding_scheme())
    assert result.icc is None
    assert result.n_dimensions == 1
    assert result.exact_share == 0.0


def test_nothing_in_common() -> None:
    assert agreement_between({"anger": 2}, {"coherence": 3}, coding_scheme()) == Agreement(
        icc=None, n_dimensions=0, mean_abs_difference=None, exact_share=None
    )


def test_keys_outside_the_scheme_are_ignored() -> None:
    result = agreement_between(
        {"anger": 2, "old_key": 9}, {"anger": 2, "old_key": 1}, coding_scheme()
    )
    assert result.n_dimensions == 1


@pytest.mark.parametrize("bad", [8, 0, "3", 2.5, True])
def test_a_corrupt_stored_rating_is_an_error(bad: object) -> None:
    with pytest.raises(ValueError, match="anger"):
        agreement_between({"anger": bad}, {"anger": 3}, coding_scheme())  # type: ignore[dict-item]
