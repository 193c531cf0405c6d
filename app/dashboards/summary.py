"""The dashboard's summary table: each trajectory's change per subscale, kept up to date.

A trajectory's rows in `subscale_change` are rebuilt from its questionnaire responses
whenever one of them is completed (`refresh_changes`), by the migration that added the
table (backfill), and by the synthetic data generator. The pairing rule is the one the
dashboard has always used: the first completed intake ("baseline") response against the
latest completed post and follow-up response of the same questionnaire, per subscale,
where both scores exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final

from sqlalchemy import delete, insert
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from app.instruments.loader import builtin_definition
from app.instruments.reliable_change import ChangeClass, ChangeParameters, reliable_change
from app.models import InstrumentResponse, SubscaleChange, Trajectory

#: The questionnaires whose change the dashboard reports, in the order shown.
INSTRUMENTS: Final = ("relationship", "efficacy", "strain", "empathy")
#: Later measurements compared with the intake (the "baseline" phase).
COMPARISONS: Final = ("post", "follow_up")
PHASES: Final = ("baseline", *COMPARISONS)

_VERDICT: Final = {ChangeClass.IMPROVED: 1, ChangeClass.NO_CHANGE: 0, ChangeClass.DETERIORATED: -1}


@dataclass(frozen=True)
class ScoredResponse:
    """What the pairing needs of one completed response."""

    trajectory_id: int
    instrument_key: str
    phase: str
    scores: dict[str, Any]
    completed_at: datetime
    id: int


def tracks(instrument_key: str, phase: str) -> bool:
    """Whether a response of this questionnaire and phase feeds the summary table."""
    return instrument_key in INSTRUMENTS and phase in PHASES


@cache
def _subscales(key: str) -> dict[str, tuple[ChangeParameters | None, bool]]:
    """Subscale key → (reliable-change parameters or None, higher_is_better)."""
    out: dict[str, tuple[ChangeParameters | None, bool]] = {}
    for subscale in builtin_definition(key).subscales:
        parameters = None
        if subscale.sd is not None and subscale.reliability is not None:
            parameters = ChangeParameters(sd=subscale.sd, reliability=subscale.reliability)
        out[subscale.key] = (parameters, subscale.higher_is_better)
    return out


def change_rows(
    responses: Iterable[ScoredResponse], professional_of: dict[int, int], organisation_id: int
) -> list[dict[str, Any]]:
    """Summary rows (as dicts for a bulk insert) from completed responses of trajectories."""
    measured: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
    for response in sorted(responses, key=lambda r: (r.completed_at, r.id)):
        if response.instrument_key not in INSTRUMENTS or response.phase not in PHASES:
            continue
        phases = measured.setdefault((response.trajectory_id, response.instrument_key), {})
        if response.phase == "baseline" and "baseline" in phases:
            continue  # the first intake counts
        phases[response.phase] = response.scores or {}
    rows: list[dict[str, Any]] = []
    for (trajectory_id, key), phases in measured.items():
        before = phases.get("baseline")
        if before is None:
            continue
        subscales = _subscales(key)
        for comparison in COMPARISONS:
            after = phases.get(comparison)
            if after is None:
                continue
            for subscale_key, (parameters, higher_is_better) in subscales.items():
                pre, post = before.get(subscale_key), after.get(subscale_key)
                if not (isinstance(pre, int | float) and isinstance(post, int | float)):
                    continue
                verdict = None
                if parameters is not None:
                    result = reliable_change(
                        float(pre), float(post), parameters, higher_is_better=higher_is_better
                    )
                    verdict = _VERDICT[result.classification]
                rows.append(
                    {
                        "organisation_id": organisation_id,
                        "trajectory_id": trajectory_id,
                        "professional_id": professional_of[trajectory_id],
                        "instrument_key": key,
                        "subscale_key": subscale_key,
                        "comparison": comparison,
                        "change": float(post) - float(pre),
                        "reliable": verdict,
                    }
                )
    return rows


def refresh_changes(session: Session, *, trajectory_ids: Sequence[int]) -> None:
    """Rebuild the summary rows of these trajectories from their completed responses."""
    if not trajectory_ids:
        return
    records = session.execute(
        sql_select(
            col(InstrumentResponse.trajectory_id),
            col(InstrumentResponse.instrument_key),
            col(InstrumentResponse.phase),
            col(InstrumentResponse.scores),
            col(InstrumentResponse.completed_at),
            col(InstrumentResponse.id),
            col(Trajectory.professional_id),
            col(Trajectory.organisation_id),
        )
        .join(Trajectory, col(Trajectory.id) == col(InstrumentResponse.trajectory_id))
        .where(
            col(InstrumentResponse.trajectory_id).in_(trajectory_ids),
            col(InstrumentResponse.instrument_key).in_(INSTRUMENTS),
            col(InstrumentResponse.phase).in_(PHASES),
            col(InstrumentResponse.completed_at).is_not(None),
        )
    ).all()
    session.execute(
        delete(SubscaleChange).where(col(SubscaleChange.trajectory_id).in_(trajectory_ids))
    )
    by_organisation: dict[int, list[ScoredResponse]] = {}
    professional_of: dict[int, int] = {}
    for trajectory_id, key, phase, scores, completed_at, id_, professional_id, org in records:
        professional_of[trajectory_id] = professional_id
        by_organisation.setdefault(org, []).append(
            ScoredResponse(trajectory_id, key, phase, scores or {}, completed_at, id_)
        )
    for org, responses in by_organisation.items():
        rows = change_rows(responses, professional_of, org)
        if rows:
            session.execute(insert(SubscaleChange), rows)
