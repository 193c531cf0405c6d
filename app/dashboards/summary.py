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

from sqlalchemy import Connection, case, delete, distinct, func, insert
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from app.instruments.loader import builtin_definition
from app.instruments.reliable_change import ChangeClass, ChangeParameters, reliable_change
from app.models import (
    DashboardTotal,
    FocusRelationship,
    InstrumentResponse,
    Organisation,
    ReflectionSession,
    Role,
    SessionStatus,
    SubscaleChange,
    Team,
    TeamMembership,
    Trajectory,
    TrajectoryStatus,
    User,
    UserRole,
)

#: The questionnaires whose change the dashboard reports, in the order shown.
INSTRUMENTS: Final = ("relationship", "efficacy", "strain", "empathy")
#: Later measurements compared with the intake (the "baseline" phase).
COMPARISONS: Final = ("post", "follow_up")
PHASES: Final = ("baseline", *COMPARISONS)

#: Session statuses that count as finished in the funnel.
FINISHED: Final = (SessionStatus.completed.value, SessionStatus.reviewed.value)
_SUMS: Final = ("n", "total", "squares", "judged", "improved", "deteriorated")

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


def change_cell(instrument_key: str, subscale_key: str, comparison: str) -> str:
    """The `dashboard_total` cell of one subscale and comparison."""
    return f"{instrument_key}/{subscale_key}/{comparison}"


def funnel_cell(position: int, template_key: str) -> str:
    """The `dashboard_total` cell of one session of the programme."""
    return f"{position}/{template_key}"


Sums = dict[tuple[int, str, str], dict[str, float]]  # (organisation, kind, cell) → sums


def change_sums(rows: Iterable[dict[str, Any]], sign: int = 1) -> Sums:
    """What summary rows add to (sign 1) or take from (sign −1) the organisation's totals."""
    out: Sums = {}
    for row in rows:
        cell = change_cell(row["instrument_key"], row["subscale_key"], row["comparison"])
        sums = out.setdefault((row["organisation_id"], "change", cell), dict.fromkeys(_SUMS, 0))
        change, reliable = row["change"], row["reliable"]
        sums["n"] += sign
        sums["total"] += sign * change
        sums["squares"] += sign * change * change
        if reliable is not None:
            sums["judged"] += sign
            sums["improved"] += sign * (reliable == 1)
            sums["deteriorated"] += sign * (reliable == -1)
    return out


def merge_sums(*parts: Sums) -> Sums:
    out: Sums = {}
    for part in parts:
        for key, sums in part.items():
            into = out.setdefault(key, dict.fromkeys(_SUMS, 0))
            for name, value in sums.items():
                into[name] += value
    return out


def add_to_totals(connection: Session | Connection, sums: Sums) -> None:
    """Add to the running totals in one statement (an upsert that adds, safe under
    concurrent writers: the database adds to whatever the row holds when it writes)."""
    rows = [
        {
            "organisation_id": org,
            "kind": kind,
            "cell": cell,
            **{k: v if k in ("total", "squares") else round(v) for k, v in values.items()},
        }
        for (org, kind, cell), values in sums.items()
        if any(values.values())
    ]
    if not rows:
        return
    dialect = connection.get_bind().dialect.name if isinstance(connection, Session) else (
        connection.dialect.name
    )  # fmt: skip
    table = DashboardTotal.__table__  # type: ignore[attr-defined]
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["organisation_id", "kind", "cell"],
        set_={name: table.c[name] + statement.excluded[name] for name in _SUMS},
    )
    # In a fixed order, so that two writers lock the rows in the same order.
    connection.execute(
        statement, sorted(rows, key=lambda r: (r["organisation_id"], r["kind"], r["cell"]))
    )


def count_finished_session(session: Session, *, reflection_session: ReflectionSession) -> None:
    """A session has just been finished: one more in its step of the funnel."""
    cell = funnel_cell(reflection_session.position, reflection_session.template_key)
    sums: dict[str, float] = dict.fromkeys(_SUMS, 0)
    sums["n"] = 1
    add_to_totals(session, {(reflection_session.organisation_id, "funnel", cell): sums})


def refresh_changes(session: Session, *, trajectory_ids: Sequence[int]) -> None:
    """Rebuild the summary rows of these trajectories from their completed responses,
    and move the organisation's running totals by the difference."""
    if not trajectory_ids:
        return
    old = [
        dict(row._mapping)
        for row in session.execute(
            sql_select(
                col(SubscaleChange.organisation_id),
                col(SubscaleChange.instrument_key),
                col(SubscaleChange.subscale_key),
                col(SubscaleChange.comparison),
                col(SubscaleChange.change),
                col(SubscaleChange.reliable),
            ).where(col(SubscaleChange.trajectory_id).in_(trajectory_ids))
        )
    ]
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
    new: list[dict[str, Any]] = []
    for org, responses in by_organisation.items():
        new += change_rows(responses, professional_of, org)
    if new:
        session.execute(insert(SubscaleChange), new)
    add_to_totals(session, merge_sums(change_sums(new), change_sums(old, sign=-1)))


def funnel_sums(connection: Session | Connection, organisation_id: int | None = None) -> Sums:
    """The funnel totals counted from the sessions (for a rebuild)."""
    query = sql_select(
        col(ReflectionSession.organisation_id),
        col(ReflectionSession.position),
        col(ReflectionSession.template_key),
        func.count(),
    ).where(col(ReflectionSession.status).in_(FINISHED))
    if organisation_id is not None:
        query = query.where(col(ReflectionSession.organisation_id) == organisation_id)
    query = query.group_by(
        col(ReflectionSession.organisation_id),
        col(ReflectionSession.position),
        col(ReflectionSession.template_key),
    )
    out: Sums = {}
    for org, position, key, n in connection.execute(query):
        sums: dict[str, float] = dict.fromkeys(_SUMS, 0)
        sums["n"] = n
        out[(org, "funnel", funnel_cell(position, key))] = sums
    return out


_PARTICIPATION: Final = ("n", "people", "completed", "completed_people")


def participation_rows(
    connection: Session | Connection, organisation_id: int | None = None
) -> list[dict[str, Any]]:
    """The participation totals counted from the trajectories: all, and per sector."""
    completed = col(Trajectory.status) == TrajectoryStatus.completed.value
    counts = (
        func.count(),
        func.count(distinct(col(Trajectory.professional_id))),
        func.count(case((completed, 1))),
        func.count(distinct(case((completed, col(Trajectory.professional_id))))),
    )
    query = (
        sql_select(col(Trajectory.organisation_id), col(FocusRelationship.sector), *counts)
        .join(FocusRelationship, col(FocusRelationship.id) == col(Trajectory.focus_relationship_id))
        .where(col(FocusRelationship.organisation_id) == col(Trajectory.organisation_id))
        .group_by(col(Trajectory.organisation_id), col(FocusRelationship.sector))
    )
    whole = sql_select(col(Trajectory.organisation_id), *counts).group_by(
        col(Trajectory.organisation_id)
    )
    if organisation_id is not None:
        query = query.where(col(Trajectory.organisation_id) == organisation_id)
        whole = whole.where(col(Trajectory.organisation_id) == organisation_id)
    rows: list[dict[str, Any]] = []
    empty = dict.fromkeys(_SUMS, 0)
    for org, sector, *values in connection.execute(query):
        rows.append({"organisation_id": org, "kind": "participation", "cell": f"sector/{sector}",
                     **empty, **dict(zip(_PARTICIPATION, values, strict=True))})  # fmt: skip
    for org, *values in connection.execute(whole):
        rows.append({"organisation_id": org, "kind": "participation", "cell": "all",
                     **empty, **dict(zip(_PARTICIPATION, values, strict=True))})  # fmt: skip
    return rows


#: Breakdowns recounted with the participation: trajectories and people per coach, per
#: team and per team location (cell "" holds those without one), so that the dashboard
#: offers its filters and checks a filter against its siblings without scanning.
BREAKDOWNS: Final = ("coach", "team", "location")


def breakdown_rows(
    connection: Session | Connection, organisation_id: int | None = None
) -> list[dict[str, Any]]:
    """Participation per coach, per team and per location, counted from the trajectories."""
    completed = col(Trajectory.status) == TrajectoryStatus.completed.value
    counts = (
        func.count(),
        func.count(distinct(col(Trajectory.professional_id))),
        func.count(case((completed, 1))),
        func.count(distinct(case((completed, col(Trajectory.professional_id))))),
    )
    member = (col(TeamMembership.user_id) == col(Trajectory.professional_id)) & (
        col(TeamMembership.organisation_id) == col(Trajectory.organisation_id)
    )
    location = func.coalesce(col(Team.location), "")
    queries = {
        "coach": sql_select(col(Trajectory.organisation_id), col(Trajectory.coach_id), *counts)
        .group_by(col(Trajectory.organisation_id), col(Trajectory.coach_id)),
        "team": sql_select(col(Trajectory.organisation_id), col(TeamMembership.team_id), *counts)
        .outerjoin(TeamMembership, member)
        .group_by(col(Trajectory.organisation_id), col(TeamMembership.team_id)),
        "location": sql_select(col(Trajectory.organisation_id), location, *counts)
        .outerjoin(TeamMembership, member)
        .outerjoin(Team, col(Team.id) == col(TeamMembership.team_id))
        .group_by(col(Trajectory.organisation_id), location),
    }  # fmt: skip
    rows: list[dict[str, Any]] = []
    empty = dict.fromkeys(_SUMS, 0)
    for kind, query in queries.items():
        if organisation_id is not None:
            query = query.where(col(Trajectory.organisation_id) == organisation_id)
        # Grouped by coalesce(location, ""): no team and a team without a location are
        # one cell, "not at a known location".
        for org, value, *values in connection.execute(query):
            rows.append({"organisation_id": org, "kind": kind,
                         "cell": "" if value is None else str(value),
                         **empty, **dict(zip(_PARTICIPATION, values, strict=True))})  # fmt: skip
    return rows


def account_rows(
    connection: Session | Connection, organisation_id: int | None = None
) -> list[dict[str, Any]]:
    """The number of active professional accounts per organisation (kind "accounts")."""
    query = (
        sql_select(col(UserRole.organisation_id), func.count())
        .join(User, col(User.id) == col(UserRole.user_id))
        .where(col(UserRole.role) == Role.professional.value, col(User.is_active).is_(True))
        .group_by(col(UserRole.organisation_id))
    )
    if organisation_id is not None:
        query = query.where(col(UserRole.organisation_id) == organisation_id)
    empty = dict.fromkeys(_SUMS, 0)
    return [
        {"organisation_id": org, "kind": "accounts", "cell": "professional", **empty,
         **dict.fromkeys(_PARTICIPATION, 0), "n": n, "people": n}
        for org, n in connection.execute(query)
    ]  # fmt: skip


def _lock_organisation(session: Session, organisation_id: int) -> None:
    # One recount at a time per organisation: a recount that waited sees the other's
    # committed change (PostgreSQL; SQLite has a single writer anyway).
    session.execute(
        sql_select(col(Organisation.id))
        .where(col(Organisation.id) == organisation_id)
        .with_for_update()
    )
    session.flush()


def recount_participation(session: Session, *, organisation_id: int) -> None:
    """Recount the organisation's participation totals after a trajectory event, a change
    of someone's team or of a team's location."""
    _lock_organisation(session, organisation_id)
    session.execute(
        delete(DashboardTotal).where(
            col(DashboardTotal.organisation_id) == organisation_id,
            col(DashboardTotal.kind).in_(("participation", *BREAKDOWNS)),
        )
    )
    rows = participation_rows(session, organisation_id) + breakdown_rows(session, organisation_id)
    if rows:
        session.execute(insert(DashboardTotal), rows)


def recount_accounts(session: Session, *, organisation_id: int) -> None:
    """Recount the organisation's active professional accounts after an account was
    created, deactivated, reactivated or erased, or a professional role given or taken."""
    _lock_organisation(session, organisation_id)
    session.execute(
        delete(DashboardTotal).where(
            col(DashboardTotal.organisation_id) == organisation_id,
            col(DashboardTotal.kind) == "accounts",
        )
    )
    rows = account_rows(session, organisation_id)
    if rows:
        session.execute(insert(DashboardTotal), rows)


def rebuild_totals(session: Session, *, organisation_id: int) -> None:
    """Recompute an organisation's running totals from its sessions and summary rows."""
    rows = [
        dict(row._mapping)
        for row in session.execute(
            sql_select(
                col(SubscaleChange.organisation_id),
                col(SubscaleChange.instrument_key),
                col(SubscaleChange.subscale_key),
                col(SubscaleChange.comparison),
                col(SubscaleChange.change),
                col(SubscaleChange.reliable),
            ).where(col(SubscaleChange.organisation_id) == organisation_id)
        )
    ]
    session.execute(
        delete(DashboardTotal).where(col(DashboardTotal.organisation_id) == organisation_id)
    )
    add_to_totals(session, merge_sums(change_sums(rows), funnel_sums(session, organisation_id)))
    recount_participation(session, organisation_id=organisation_id)
    recount_accounts(session, organisation_id=organisation_id)
