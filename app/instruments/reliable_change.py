"""Reliable change index (Jacobson & Truax, 1991) and the statistics it needs.

SE = SD_pre * sqrt(1 - r_xx), S_diff = sqrt(2) * SE, RC = (post - pre) / S_diff, and
|RC| > 1.96 counts as reliable change. Whether a reliable change is an improvement
depends on the subscale's `higher_is_better`: less conflict is an improvement.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from app.instruments.schema import InstrumentDefinition
from app.instruments.scoring import apply_rule, check_answers, keyed_answer

#: Complete baseline responses an organisation needs before its own SD and alpha replace
#: the values in the definition.
MIN_ORG_BASELINE: Final = 30
#: Two-sided 5 % criterion.
RC_CRITICAL: Final = 1.96


class ChangeClass(StrEnum):
    """The verdict of the reliable change index for one subscale."""

    IMPROVED = "reliably_improved"
    NO_CHANGE = "no_reliable_change"
    DETERIORATED = "reliably_deteriorated"


@dataclass(frozen=True)
class ChangeParameters:
    """SD and reliability used for the change index, and where they came from."""

    sd: float
    reliability: float
    source: Literal["definition", "organisation"] = "definition"
    #: Complete baseline responses behind an organisation estimate (0 for the definition).
    n_baseline: int = 0
    provisional: bool = True


@dataclass(frozen=True)
class ReliableChange:
    """The reliable change index of one subscale between two measurements."""

    rc: float
    se: float
    s_diff: float
    classification: ChangeClass
    provisional: bool


def reliable_change(
    pre: float, post: float, parameters: ChangeParameters, *, higher_is_better: bool
) -> ReliableChange:
    """Return the Jacobson & Truax reliable change index and its classification."""
    if not parameters.sd > 0:
        raise ValueError(f"sd must be greater than 0, not {parameters.sd}")
    if not 0 < parameters.reliability < 1:
        raise ValueError(f"reliability must be between 0 and 1, not {parameters.reliability}")
    se = parameters.sd * math.sqrt(1 - parameters.reliability)
    s_diff = math.sqrt(2) * se
    rc = (post - pre) / s_diff
    if abs(rc) <= RC_CRITICAL:
        classification = ChangeClass.NO_CHANGE
    elif (rc > 0) == higher_is_better:
        classification = ChangeClass.IMPROVED
    else:
        classification = ChangeClass.DETERIORATED
    return ReliableChange(
        rc=rc,
        se=se,
        s_diff=s_diff,
        classification=classification,
        provisional=parameters.provisional,
    )


def sample_sd(values: Sequence[float]) -> float:
    """Return the sample standard deviation (n - 1 in the denominator)."""
    if len(values) < 2:
        raise ValueError("a standard deviation needs at least 2 values")
    return statistics.stdev(values)


def cronbach_alpha(rows: Sequence[Sequence[float | None]]) -> float:
    """Return Cronbach's alpha of an item matrix (one row per person), complete rows only."""
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise ValueError("every row must have the same number of items")
    complete = [[float(x) for x in row if x is not None] for row in rows if None not in row]
    if len(complete) < 2:
        raise ValueError("Cronbach's alpha needs at least 2 complete rows")
    k = len(complete[0])
    if k < 2:
        raise ValueError("Cronbach's alpha needs at least 2 items")
    item_variances = [statistics.variance(column) for column in zip(*complete, strict=True)]
    total_variance = statistics.variance([math.fsum(row) for row in complete])
    if total_variance == 0:
        raise ValueError("Cronbach's alpha is undefined when every total is the same")
    return k / (k - 1) * (1 - math.fsum(item_variances) / total_variance)


def change_parameters(
    definition: InstrumentDefinition,
    subscale_key: str,
    baseline_answers: Sequence[Mapping[str, int | None]],
) -> ChangeParameters | None:
    """Choose SD and reliability for a subscale's change index (rule in the docstring).

    `baseline_answers` are the organisation's baseline responses to this instrument
    version (raw answers by item key). Only responses that answer every item of the
    subscale count ("complete").

    1. With at least MIN_ORG_BASELINE (30) complete responses, the organisation's own
       estimates are used: the sample SD of the subscale scores and Cronbach's alpha of
       the keyed items; provisional=False.
    2. Otherwise the definition's sd and reliability are used, marked provisional=True:
       they are literature-range estimates, not yet based on 30 of the organisation's
       own responses.
    3. If the definition has no sd/reliability either, return None: no change index can
       be computed yet.

    Rule 1 is skipped (falling through to 2 or 3) when the organisation's data cannot
    give usable estimates: a one-item subscale (alpha needs two items), an alpha outside
    (0, 1), or no spread in the scores.
    """
    subscale = definition.subscale(subscale_key)
    items = definition.items_in(subscale_key)
    scale = definition.scale
    if scale is None:
        raise ValueError(f'"{definition.key}" has no response scale')

    complete_rows: list[list[int]] = []
    for answers in baseline_answers:
        check_answers(definition, answers)
        keyed = [
            keyed_answer(scale, item, answer)
            for item in items
            if (answer := answers.get(item.key)) is not None
        ]
        if len(keyed) == len(items):
            complete_rows.append(keyed)

    if len(complete_rows) >= MIN_ORG_BASELINE and len(items) >= 2:
        rule = definition.scoring_rule(subscale)
        scores = [
            apply_rule(rule, row, scale=scale, n_items=len(items))[0] for row in complete_rows
        ]
        sd = sample_sd(scores)
        try:
            alpha = cronbach_alpha(complete_rows)
        except ValueError:
            alpha = math.nan
        if sd > 0 and 0 < alpha < 1:
            return ChangeParameters(
                sd=sd,
                reliability=alpha,
                source="organisation",
                n_baseline=len(complete_rows),
                provisional=False,
            )

    if subscale.sd is not None and subscale.reliability is not None:
        return ChangeParameters(sd=subscale.sd, reliability=subscale.reliability)
    return None
