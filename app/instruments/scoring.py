"""Subscale scores from raw answers, as pure functions.

Scores are never stored as the only record: a response keeps its instrument key, version
and raw answers, and `score_response` recomputes the scores from them.

Rules, applied to the *keyed* answers (a negatively keyed item's answer x counts as
min + max - x) of the items that were answered:

- mean: their mean.
- sum: their sum when every item is answered. With some missing (but at least
  min_answered answered) the sum is prorated as mean x number of items, so scores stay
  comparable between people who skipped an item and people who did not;
  `SubscaleScore.prorated` says when that happened.
- rescale_0_100: (mean - min) / (max - min) x 100.

A subscale with fewer than min_answered answers gets value None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.instruments.schema import InstrumentDefinition, Item, ResponseScale, ScoringRule


@dataclass(frozen=True)
class SubscaleScore:
    """The score of one subscale in one response."""

    subscale: str
    value: float | None
    n_answered: int
    n_items: int
    rule: ScoringRule
    #: True when a sum score was extrapolated from fewer than all items.
    prorated: bool = False


def _scale_of(definition: InstrumentDefinition) -> ResponseScale:
    if definition.kind == "diary" or definition.scale is None:
        raise ValueError(
            f'"{definition.key}" is a {definition.kind} without a response scale; '
            "it has no subscale scores"
        )
    return definition.scale


def check_answers(definition: InstrumentDefinition, answers: Mapping[str, int | None]) -> None:
    """Raise ValueError if any answer is for an unknown item or outside the scale."""
    scale = _scale_of(definition)
    known = {item.key for item in definition.items}
    unknown = sorted(key for key in answers if key not in known)
    if unknown:
        names = ", ".join(f'"{key}"' for key in unknown)
        raise ValueError(f"{definition.key} v{definition.version} has no item(s) {names}")
    for key, answer in answers.items():
        if answer is None:
            continue
        # bool is an int subclass; True as an answer is a bug upstream, not a 1.
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ValueError(f'item "{key}": answer {answer!r} is not a whole number')
        if not scale.min <= answer <= scale.max:
            raise ValueError(
                f'item "{key}": answer {answer} is outside the scale {scale.min} to {scale.max}'
            )


def keyed_answer(scale: ResponseScale, item: Item, answer: int) -> int:
    """Return the answer as it counts for the item's subscale (reversed if negatively keyed)."""
    return scale.min + scale.max - answer if item.keying == "negative" else answer


def apply_rule(
    rule: ScoringRule, keyed: Sequence[int], *, scale: ResponseScale, n_items: int
) -> tuple[float, bool]:
    """Return (score, prorated) for the keyed answers of one subscale (at least one)."""
    mean = math.fsum(keyed) / len(keyed)
    if rule == "mean":
        return mean, False
    if rule == "sum":
        if len(keyed) == n_items:
            return float(sum(keyed)), False
        return mean * n_items, True
    return (mean - scale.min) / (scale.max - scale.min) * 100, False


def score_range(definition: InstrumentDefinition, subscale_key: str) -> tuple[float, float]:
    """Return the lowest and highest possible score of a subscale."""
    scale = _scale_of(definition)
    subscale = definition.subscale(subscale_key)
    rule = definition.scoring_rule(subscale)
    if rule == "rescale_0_100":
        return 0.0, 100.0
    n = len(definition.items_in(subscale_key)) if rule == "sum" else 1
    return float(scale.min * n), float(scale.max * n)


def score_response(
    definition: InstrumentDefinition, answers: Mapping[str, int | None]
) -> dict[str, SubscaleScore]:
    """Score one response per subscale; raise ValueError on unknown items or bad answers."""
    check_answers(definition, answers)
    scale = _scale_of(definition)
    scores: dict[str, SubscaleScore] = {}
    for subscale in definition.subscales:
        items = definition.items_in(subscale.key)
        keyed = [
            keyed_answer(scale, item, answer)
            for item in items
            if (answer := answers.get(item.key)) is not None
        ]
        rule = definition.scoring_rule(subscale)
        value: float | None = None
        prorated = False
        if keyed and len(keyed) >= subscale.min_answered:
            value, prorated = apply_rule(rule, keyed, scale=scale, n_items=len(items))
        scores[subscale.key] = SubscaleScore(
            subscale=subscale.key,
            value=value,
            n_answered=len(keyed),
            n_items=len(items),
            rule=rule,
            prorated=prorated,
        )
    return scores
