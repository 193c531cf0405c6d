"""Who may see and change a trajectory: the professional, and their assigned coaches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, exists
from sqlmodel import Session, col, select

from app.deps import Actor
from app.errors import NotFound
from app.models import (
    CoachAssignment,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    ReflectionSession,
    Role,
    Trajectory,
    TrajectoryStatus,
    User,
)

# Built once: a coach's every page checks this (making it costs about as much as running it).
_ASSIGNMENT = select(CoachAssignment.id).where(
    col(CoachAssignment.coach_id) == bindparam("coach_id"),
    col(CoachAssignment.professional_id) == bindparam("professional_id"),
    col(CoachAssignment.organisation_id) == bindparam("organisation_id"),
)


def is_assigned_coach(session: Session, actor: Actor, professional_id: int) -> bool:
    """True when the actor coaches this professional (within the same organisation)."""
    if not actor.has(Role.coach):
        return False
    params = {
        "coach_id": actor.id,
        "professional_id": professional_id,
        "organisation_id": actor.organisation_id,
    }
    return session.exec(_ASSIGNMENT, params=params).first() is not None


# Every coach's view of a trajectory: the trajectory, its relationship (for the audit
# record), its professional and whether the coach is assigned to them, in one statement.
_TRAJECTORY_FOR_COACH = (
    select(
        Trajectory,
        FocusRelationship,
        User,
        exists()
        .where(
            col(CoachAssignment.coach_id) == bindparam("coach_id"),
            col(CoachAssignment.professional_id) == col(Trajectory.professional_id),
            col(CoachAssignment.organisation_id) == col(Trajectory.organisation_id),
        )
        .label("assigned"),
    )
    .join(FocusRelationship, col(FocusRelationship.id) == col(Trajectory.focus_relationship_id))
    .join(User, col(User.id) == col(Trajectory.professional_id))
    .where(
        col(Trajectory.id) == bindparam("trajectory_id"),
        col(Trajectory.organisation_id) == bindparam("organisation_id"),
    )
)


def trajectory_for_coach(
    session: Session, actor: Actor, trajectory_id: int
) -> tuple[Trajectory, FocusRelationship, User, bool]:
    """A trajectory of the actor's organisation, its relationship, its professional, and
    whether the actor is an assigned coach of that professional (one query), or 404."""
    found = session.exec(
        _TRAJECTORY_FOR_COACH,
        params={
            "trajectory_id": trajectory_id,
            "organisation_id": actor.organisation_id,
            "coach_id": actor.id if actor.has(Role.coach) else 0,
        },
    ).first()
    if found is None:
        raise NotFound()
    trajectory, relationship, professional, assigned = found
    return trajectory, relationship, professional, bool(assigned)


def coached_trajectory(session: Session, actor: Actor, trajectory_id: int) -> Trajectory:
    """A trajectory of a professional the actor coaches (one query), or 404."""
    trajectory, _relationship, _professional, assigned = trajectory_for_coach(
        session, actor, trajectory_id
    )
    if not assigned:
        raise NotFound()
    return trajectory


def own_relationship(session: Session, actor: Actor, relationship_id: int) -> FocusRelationship:
    """A focus relationship of the actor themselves, or 404."""
    relationship = session.get(FocusRelationship, relationship_id)
    if (
        relationship is None
        or relationship.organisation_id != actor.organisation_id
        or relationship.professional_id != actor.id
    ):
        raise NotFound()
    return relationship


def readable_trajectory(session: Session, actor: Actor, trajectory_id: int) -> Trajectory:
    """A trajectory the actor owns or coaches, or 404 (also for other organisations)."""
    trajectory = session.get(Trajectory, trajectory_id)
    if trajectory is None or trajectory.organisation_id != actor.organisation_id:
        raise NotFound()
    if trajectory.professional_id == actor.id:
        return trajectory
    if _coach_may_read(session, actor, trajectory):
        return trajectory
    raise NotFound()


def _coach_may_read(session: Session, actor: Actor, trajectory: Trajectory) -> bool:
    # Withdrawing consent to take part also takes away the coach's reading access.
    return trajectory.status != TrajectoryStatus.stopped and is_assigned_coach(
        session, actor, trajectory.professional_id
    )


# Every wizard request runs this; built once (making it costs about as much as running it).
_SESSION_WITH_TRAJECTORY = (
    select(ReflectionSession, Trajectory)
    .join(Trajectory, col(Trajectory.id) == col(ReflectionSession.trajectory_id))
    .where(
        col(ReflectionSession.id) == bindparam("session_id"),
        col(ReflectionSession.organisation_id) == bindparam("organisation_id"),
    )
)
# Everything the step page reads about its session, in one statement: the trajectory, the
# relationship and the stored answers (one row per narrative answer and questionnaire
# response: a session has a handful of each, so the product stays small).
_SESSION_PAGE = (
    _SESSION_WITH_TRAJECTORY.add_columns(FocusRelationship, NarrativeAnswer, InstrumentResponse)
    .join(FocusRelationship, col(FocusRelationship.id) == col(Trajectory.focus_relationship_id))
    .outerjoin(NarrativeAnswer, col(NarrativeAnswer.session_id) == col(ReflectionSession.id))
    .outerjoin(InstrumentResponse, col(InstrumentResponse.session_id) == col(ReflectionSession.id))
)


@dataclass(frozen=True)
class SessionPage:
    """A readable session with what its step page shows: answers and responses by step."""

    reflection_session: ReflectionSession
    trajectory: Trajectory
    relationship: FocusRelationship
    answers: dict[str, NarrativeAnswer]
    responses: dict[str, InstrumentResponse]


def readable_session(
    session: Session, actor: Actor, session_id: int
) -> tuple[ReflectionSession, Trajectory]:
    """A session (with its trajectory) the actor owns or coaches, or 404."""
    row = session.exec(
        _SESSION_WITH_TRAJECTORY,
        params={"session_id": session_id, "organisation_id": actor.organisation_id},
    ).first()
    if row is None:
        raise NotFound()
    reflection_session, trajectory = row
    _ensure_readable(session, actor, trajectory)
    return reflection_session, trajectory


def readable_session_page(session: Session, actor: Actor, session_id: int) -> SessionPage:
    """As readable_session, with the relationship and the stored answers, in one query."""
    rows = session.exec(
        _SESSION_PAGE,  # type: ignore[call-overload]
        params={"session_id": session_id, "organisation_id": actor.organisation_id},
    ).all()
    if not rows:
        raise NotFound()
    reflection_session, trajectory, relationship = rows[0][0], rows[0][1], rows[0][2]
    _ensure_readable(session, actor, trajectory)
    return SessionPage(
        reflection_session,
        trajectory,
        relationship,
        answers={row[3].step_key: row[3] for row in rows if row[3] is not None},
        responses={row[4].step_key: row[4] for row in rows if row[4] is not None},
    )


def _ensure_readable(session: Session, actor: Actor, trajectory: Trajectory) -> None:
    """404 unless the actor owns the trajectory or may read it as its coach."""
    if trajectory.professional_id != actor.id and not _coach_may_read(session, actor, trajectory):
        raise NotFound()
