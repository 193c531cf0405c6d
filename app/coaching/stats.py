"""Agreement between coaches who coded the same narrative: ICC(A,1) over the dimensions.

ICC(A,1) (McGraw & Wong 1996), the same as Shrout & Fleiss's ICC(2,1): two-way random
effects, absolute agreement, single rater. With n targets (rows) and k raters (columns)
and the mean squares of the two-way ANOVA without replication,

    ICC = (MSR − MSE) / (MSR + (k − 1)·MSE + k·(MSC − MSE) / n)

where MSR is between targets, MSC between raters and MSE the residual. Absolute
agreement means a coach who rates every dimension one point higher than the other
lowers the ICC (consistency would not).

Two coaches' codings form an n × 2 table whose targets are the dimensions both rated.
The dimensions are not on one scale (coherence is 1–5, the rest 1–7), so every rating
is first rescaled to 0–1 by (x − min) / (max − min); the mean absolute difference is in
those units too (0.5 = half a scale apart).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.coaching.scheme import CodingDimension, CodingScheme

#: Relative size below which a sum of squares counts as zero (floating-point noise).
_ZERO = 1e-12


def icc_absolute_agreement(rows: Sequence[Sequence[float]]) -> float | None:
    """Return ICC(A,1) for rows = targets, columns = raters; None when it is undefined."""
    n = len(rows)
    if n < 2:
        return None
    k = len(rows[0])
    if k < 2:
        raise ValueError(f"agreement needs at least 2 raters, not {k}")
    if any(len(row) != k for row in rows):
        raise ValueError("every target needs a rating from every rater")
    values = [float(x) for row in rows for x in row]
    if not all(math.isfinite(x) for x in values):
        raise ValueError("ratings must be finite numbers")

    grand = math.fsum(values) / (n * k)
    row_means = [math.fsum(row) / k for row in rows]
    column_means = [math.fsum(row[j] for row in rows) / n for j in range(k)]
    ss_total = math.fsum((x - grand) ** 2 for x in values)
    ss_rows = k * math.fsum((m - grand) ** 2 for m in row_means)
    ss_columns = n * math.fsum((m - grand) ** 2 for m in column_means)
    # Clamped: rounding can leave a tiny negative residual when it is really zero.
    ss_error = max(ss_total - ss_rows - ss_columns, 0.0)

    ms_rows = ss_rows / (n - 1)
    ms_columns = ss_columns / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_columns - ms_error) / n
    # Zero when every rating is the same, and also for a 2 × 2 table whose rows and
    # columns have equal means (e.g. [[1, 2], [2, 1]]): no between-target variance to
    # compare the disagreement with.
    scale = max(1.0, max(abs(x) for x in values)) ** 2
    if denominator <= _ZERO * scale:
        return None
    icc = (ms_rows - ms_error) / denominator
    # The denominator exceeds the numerator by k·MSE·(1 − 1/n) + k·MSC/n ≥ 0, so ICC ≤ 1;
    # the clamp only removes rounding error.
    return min(icc, 1.0)


@dataclass(frozen=True)
class Agreement:
    """How closely two codings of the same narrative agree, on the dimensions both rated."""

    icc: float | None
    n_dimensions: int
    #: In 0–1 units of each dimension's own range.
    mean_abs_difference: float | None
    #: Share of the dimensions given exactly the same rating.
    exact_share: float | None


def agreement_between(
    ratings_a: Mapping[str, int | None],
    ratings_b: Mapping[str, int | None],
    scheme: CodingScheme,
) -> Agreement:
    """Return the agreement of two codings over the dimensions both coaches rated."""
    pairs: list[tuple[float, float]] = []
    exact = 0
    for dimension in scheme.dimensions:
        a = _rating(ratings_a, dimension)
        b = _rating(ratings_b, dimension)
        if a is None or b is None:
            continue
        exact += a == b
        pairs.append((_rescaled(a, dimension), _rescaled(b, dimension)))
    if not pairs:
        return Agreement(icc=None, n_dimensions=0, mean_abs_difference=None, exact_share=None)
    return Agreement(
        icc=icc_absolute_agreement(pairs),
        n_dimensions=len(pairs),
        mean_abs_difference=math.fsum(abs(a - b) for a, b in pairs) / len(pairs),
        exact_share=exact / len(pairs),
    )


def _rating(ratings: Mapping[str, int | None], dimension: CodingDimension) -> int | None:
    value = ratings.get(dimension.key)
    if value is None:
        return None
    # Stored ratings went through validate_ratings; anything else is a bug, not "unrated".
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f'rating of "{dimension.key}" is not a whole number: {value!r}')
    if not dimension.min <= value <= dimension.max:
        raise ValueError(
            f'rating {value} of "{dimension.key}" is outside {dimension.min} to {dimension.max}'
        )
    return value


def _rescaled(value: int, dimension: CodingDimension) -> float:
    return (value - dimension.min) / (dimension.max - dimension.min)
