"""Group statistics for the supervisor's dashboard: paired change and small-cell suppression.

Pure functions only: the service hands in numbers, never rows or sessions.

Paired change (DOMAIN.md, "Statistics"): from per-person (pre, post) pairs, the mean
change with its 95 % confidence interval (t distribution, n − 1 degrees of freedom), the
effect size d_z = mean change / SD of the change, and how many changed reliably
(Jacobson & Truax, through `app.instruments.reliable_change`).

Suppression: see `suppress_row`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from app.instruments.reliable_change import ChangeClass, ChangeParameters, reliable_change

#: Groups smaller than this are never shown to a supervisor (DOMAIN.md).
MIN_CELL: Final = 5

# Two-sided 95 % critical values of Student's t, t(0.975, df), for df 1..30 (standard
# tables). Above 30 the Cornish-Fisher expansion below is accurate to 1e-4.
_T_975: Final = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z_975: Final = statistics.NormalDist().inv_cdf(0.975)
# Relative size of a variance that is rounding residue of Σd² − (Σd)²/n, not spread.
_ROUNDING: Final = 1e-12


def t_critical_95(df: int) -> float:
    """The two-sided 95 % critical value of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    # Cornish-Fisher expansion of the t quantile around the normal one (Abramowitz &
    # Stegun 26.7.5); four terms are plenty from df 31 on.
    z, v = _Z_975, float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


@dataclass(frozen=True)
class PairedChange:
    """Change from pre to post in one group; the spread and interval need n ≥ 2."""

    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    d_z: float | None  # None when every change is the same (SD 0) or n < 2
    improved: int | None  # None when no reliable change parameters are known
    deteriorated: int | None

    @property
    def unchanged(self) -> int | None:
        if self.improved is None or self.deteriorated is None:
            return None
        return self.n - self.improved - self.deteriorated


def paired_change(
    pairs: Sequence[tuple[float, float]],
    *,
    parameters: ChangeParameters | None = None,
    higher_is_better: bool = True,
) -> PairedChange:
    """Mean change, its 95 % CI, d_z and reliable change counts from (pre, post) pairs."""
    n = len(pairs)
    changes = [post - pre for pre, post in pairs]
    mean = math.fsum(changes) / n if n else None
    sd = ci_low = ci_high = d_z = None
    if n >= 2 and mean is not None:
        sd = statistics.stdev(changes)
        half_width = t_critical_95(n - 1) * sd / math.sqrt(n)
        ci_low, ci_high = mean - half_width, mean + half_width
        d_z = mean / sd if sd > 0 else None
    improved = deteriorated = None
    if parameters is not None:
        verdicts = [
            reliable_change(pre, post, parameters, higher_is_better=higher_is_better).classification
            for pre, post in pairs
        ]
        improved = verdicts.count(ChangeClass.IMPROVED)
        deteriorated = verdicts.count(ChangeClass.DETERIORATED)
    return PairedChange(n, mean, sd, ci_low, ci_high, d_z, improved, deteriorated)


def paired_change_from_sums(
    *,
    n: int,
    total: float,
    total_squares: float,
    no_spread: bool | None = None,
    improved: int | None = None,
    deteriorated: int | None = None,
) -> PairedChange:
    """The same figures as `paired_change`, from SQL aggregates of the changes.

    n, Σd and Σd² are what a GROUP BY (or a running total) gives; the SD is
    √((Σd² − (Σd)²/n) / (n − 1)). Every change being the same must give SD 0 exactly (no
    d_z), not a rounding residue and a huge d_z: `no_spread` says so when the caller
    knows (min = max), otherwise a variance within rounding error of 0 counts as 0.
    """
    mean = total / n if n else None
    sd = ci_low = ci_high = d_z = None
    if n >= 2 and mean is not None:
        variance = max((total_squares - total * total / n) / (n - 1), 0.0)
        if no_spread is None:
            no_spread = variance <= _ROUNDING * max(1.0, total_squares / n)
        sd = 0.0 if no_spread else math.sqrt(variance)
        half_width = t_critical_95(n - 1) * sd / math.sqrt(n)
        ci_low, ci_high = mean - half_width, mean + half_width
        d_z = mean / sd if sd > 0 else None
    return PairedChange(n, mean, sd, ci_low, ci_high, d_z, improved, deteriorated)


def suppress_row(people: Sequence[int], total: int | None = None) -> list[bool]:
    """Which cells of one row of a breakdown to hide (True = hidden); the rule:

    1. Primary: every cell with fewer than MIN_CELL people is hidden (0 included).
    2. Complementary: if the row's total is shown (or can be computed from the cells
       shown), a lone hidden cell could be recovered as total minus the others. So while
       hidden cells exist and either only one is hidden or together they hold fewer than
       MIN_CELL people, the smallest cell still shown is hidden too. The hidden cells
       then always hide at least two groups of at least MIN_CELL people in total, and no
       subtraction gives back a group of fewer than MIN_CELL.
    3. If the total itself is below MIN_CELL, every cell is hidden (the caller hides the
       total as well).

    `people` are head counts; the figure shown in a cell may be another count (e.g.
    trajectories) of the same people. Pass total=None when the row's cells are not
    parts of a shown total; the complementary step is then still applied because the
    total can be read elsewhere on the page or in a wider filter.
    """
    hidden = [count < MIN_CELL for count in people]
    if total is not None and total < MIN_CELL:
        return [True] * len(people)
    while any(hidden) and not all(hidden):
        hidden_people = sum(c for c, h in zip(people, hidden, strict=True) if h)
        if hidden.count(True) >= 2 and hidden_people >= MIN_CELL:
            break
        shown = [i for i, h in enumerate(hidden) if not h]
        hidden[min(shown, key=lambda i: (people[i], i))] = True
    return hidden


def selection_is_safe(selected: int, wider: Sequence[int]) -> bool:
    """Whether a filtered group may be shown next to the wider groups it is part of.

    A filter that leaves out 1 to MIN_CELL − 1 people would let a supervisor recover
    that small group by subtracting this page from the wider one ("filter difference").
    """
    if selected < MIN_CELL:
        return False
    return all(not 0 < count - selected < MIN_CELL for count in wider)


def neutralise_formula(value: str) -> str:
    """Text for a CSV cell that no spreadsheet will run as a formula (OWASP CSV injection)."""
    if value and value[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
