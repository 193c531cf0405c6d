"""The dashboard's statistics: t quantiles, paired change, suppression, CSV neutralising."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.dashboards.stats import (
    MIN_CELL,
    neutralise_formula,
    paired_change,
    selection_is_safe,
    suppress_row,
    t_critical_95,
)
from app.instruments.reliable_change import ChangeParameters


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (29, 2.045), (30, 2.042),
     (31, 2.040), (40, 2.021), (60, 2.000), (120, 1.980), (1000, 1.962)],
)  # fmt: skip
def test_t_critical_values_match_the_tables(df: int, expected: float) -> None:
    assert t_critical_95(df) == pytest.approx(expected, abs=0.0015)


def test_t_needs_a_degree_of_freedom() -> None:
    with pytest.raises(ValueError):
        t_critical_95(0)


@given(st.integers(min_value=1, max_value=5000))
def test_t_falls_towards_the_normal_value(df: int) -> None:
    assert t_critical_95(df) > t_critical_95(df + 1) > 1.959963


def test_paired_change_worked_example() -> None:
    # Six people, all 3.0 at intake; changes 0.5, 1.0, 0.0, 1.5, 0.5, 1.5.
    # mean 5/6 = 0.8333; SD √(1.8333/5) = 0.6055; half width 2.5706 · 0.6055 / √6 = 0.6355.
    pairs = [(3.0, 3.0 + d) for d in (0.5, 1.0, 0.0, 1.5, 0.5, 1.5)]
    params = ChangeParameters(sd=0.6, reliability=0.8)  # S_diff = 0.3795
    change = paired_change(pairs, parameters=params, higher_is_better=True)
    assert change.n == 6
    assert change.mean == pytest.approx(0.8333, abs=1e-4)
    assert change.sd == pytest.approx(0.6055, abs=1e-4)
    assert change.ci_low == pytest.approx(0.1979, abs=1e-3)
    assert change.ci_high == pytest.approx(1.4688, abs=1e-3)
    assert change.d_z == pytest.approx(1.376, abs=1e-3)
    assert (change.improved, change.unchanged, change.deteriorated) == (3, 3, 0)


def test_paired_change_where_lower_is_better() -> None:
    pairs = [(4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (3.0, 1.0)]
    change = paired_change(
        pairs, parameters=ChangeParameters(sd=0.8, reliability=0.85), higher_is_better=False
    )
    assert (change.improved, change.unchanged, change.deteriorated) == (2, 1, 1)
    assert change.mean == pytest.approx(-0.5)  # (−2 + 0 + 2 − 2) / 4


def test_no_spread_means_no_effect_size_and_one_pair_no_interval() -> None:
    same = paired_change([(1.0, 2.0)] * 5)
    assert same.sd == 0 and same.d_z is None and same.ci_low == same.ci_high == 1.0
    one = paired_change([(1.0, 2.0)])
    assert one.mean == 1.0 and one.sd is None and one.ci_low is None and one.d_z is None
    assert one.improved is None and one.unchanged is None  # no parameters given


pair = st.tuples(
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.floats(min_value=0, max_value=100, allow_nan=False),
)


@given(st.lists(pair, min_size=2, max_size=60))
def test_the_interval_holds_the_mean_and_d_z_has_its_sign(pairs: list[tuple[float, float]]) -> None:
    change = paired_change(pairs)
    assert change.mean is not None and change.ci_low is not None and change.ci_high is not None
    assert change.ci_low <= change.mean + 1e-9 and change.mean <= change.ci_high + 1e-9
    if change.d_z is not None:
        assert math.copysign(1, change.d_z) == math.copysign(1, change.mean) or change.mean == 0
    assert change.mean == pytest.approx(statistics.fmean(b - a for a, b in pairs), abs=1e-9)


@given(st.lists(pair, min_size=2, max_size=30), st.floats(min_value=-50, max_value=50))
def test_a_shift_of_everyone_does_not_change_the_change(
    pairs: list[tuple[float, float]], shift: float
) -> None:
    a = paired_change(pairs)
    b = paired_change([(x + shift, y + shift) for x, y in pairs])
    assert b.mean == pytest.approx(a.mean, abs=1e-6)
    assert b.sd == pytest.approx(a.sd, abs=1e-6)


@pytest.mark.parametrize(
    ("people", "total", "hidden"),
    [
        ([10, 12, 7], 29, [False, False, False]),  # nothing small
        ([10, 12, 3], 25, [True, False, True]),  # 3 and the next smallest (10)
        ([6, 3], 9, [True, True]),  # one small cell: its only neighbour goes too
        ([6, 8, 3], 17, [True, False, True]),  # the next smallest (6) is hidden with the 3
        ([2, 1, 9, 20], 32, [True, True, True, False]),  # 2 + 1 < 5: hide one more (9)
        ([3, 4, 9, 20], 36, [True, True, False, False]),  # 3 + 4 ≥ 5: two hidden suffice
        ([0, 7, 8], 15, [True, True, False]),  # an empty cell counts as small
        ([3], 3, [True]),
        ([2, 2], 4, [True, True]),  # a total below 5 hides everything
        ([5, 5], 10, [False, False]),  # exactly 5 is shown
    ],
)
def test_suppression_worked_examples(people: list[int], total: int, hidden: list[bool]) -> None:
    assert suppress_row(people, total=total) == hidden


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_no_hidden_cell_can_be_recovered_by_subtraction(people: list[int]) -> None:
    hidden = suppress_row(people, total=sum(people))
    assert all(h for c, h in zip(people, hidden, strict=True) if c < MIN_CELL)
    if any(hidden) and not all(hidden):
        # total − shown cells only gives the sum of at least two hidden cells, and that
        # sum is never a small group.
        assert hidden.count(True) >= 2
        assert sum(c for c, h in zip(people, hidden, strict=True) if h) >= MIN_CELL


@pytest.mark.parametrize(
    ("selected", "wider", "safe"),
    [(6, [9], False), (6, [6], True), (6, [11], True), (4, [4], False), (10, [12, 20], False)],
)
def test_a_filter_difference_must_not_reveal_a_small_group(
    selected: int, wider: list[int], safe: bool
) -> None:
    assert selection_is_safe(selected, wider) is safe


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Carla", "Carla"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_formulas_are_neutralised(text: str, expected: str) -> None:
    assert neutralise_formula(text) == expected
