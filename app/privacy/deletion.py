"""Deleting trajectories with everything in them: shared by erasure and retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app import audit
from app.dashboards import summary
from app.models import (
    Coding,
    CodingEvidence,
    ConsentRecord,
    DiaryEntry,
    ExperimentLogEntry,
    Feedback,
    InstrumentResponse,
    NarrativeAnswer,
    PulseEntry,
    ReflectionSession,
    SubscaleChange,
    Trajectory,
)


def delete_trajectories(session: Session, trajectory_ids: Any) -> None:
    """Delete trajectories and all they hold (a list of ids or a subquery of ids).

    Table by table, children first, so it does not depend on the database enforcing
    ON DELETE CASCADE (SQLite only does with foreign keys switched on). The dashboard's
    summary rows go too, and the organisations' running totals are recomputed.
    """
    organisations = session.exec(
        select(Trajectory.organisation_id).where(col(Trajectory.id).in_(trajectory_ids)).distinct()
    ).all()
    session.execute(
        delete(SubscaleChange).where(col(SubscaleChange.trajectory_id).in_(trajectory_ids))
    )
    sessions = select(ReflectionSession.id).where(
        col(ReflectionSession.trajectory_id).in_(trajectory_ids)
    )
    codings = select(Coding.id).where(col(Coding.trajectory_id).in_(trajectory_ids))
    session.execute(delete(CodingEvidence).where(col(CodingEvidence.coding_id).in_(codings)))
    first: list[Any] = [Coding, Feedback, InstrumentResponse]
    for model in first:
        session.execute(delete(model).where(col(model.trajectory_id).in_(trajectory_ids)))
    session.execute(delete(NarrativeAnswer).where(col(NarrativeAnswer.session_id).in_(sessions)))
    then: list[Any] = [DiaryEntry, PulseEntry, ExperimentLogEntry, ConsentRecord, ReflectionSession]
    for model in then:
        session.execute(delete(model).where(col(model.trajectory_id).in_(trajectory_ids)))
    session.execute(delete(Trajectory).where(col(Trajectory.id).in_(trajectory_ids)))
    session.flush()
    for organisation_id in organisations:
        summary.rebuild_totals(session, organisation_id=organisation_id)
        summary.recount_participation(session, organisation_id=organisation_id)


def record_system_event(
    session: Session, *, organisation_id: int, subject_user_id: int | None, action: str, detail: str
) -> None:
    """An audit event done by Dyade itself (a scheduled command), not by a logged-in person."""
    audit.record(
        session,
        actor=None,
        action=action,
        role="system",
        organisation_id=organisation_id,
        subject_user_id=subject_user_id,
        detail=detail[:500],
    )
