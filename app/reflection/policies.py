"""Who may see and change a trajectory: the professional, and their assigned coaches."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from app.deps import Actor
from app.errors import NotFound
from app.models import (
    CoachAssignment,
    FocusRelationship,
    ReflectionSession,
    Role,
    Trajectory,
    TrajectoryStatus,
)


def is_assigned_coach(session: Session, actor: Actor, professional_id: int) -> bool:
    """True when the actor coaches this professional (within the same organisation)."""
    if not actor.has(Role.coach):
        return False
    found = session.exec(
        select(CoachAssignment.id).where(
            CoachAssignment.coach_id == actor.id,
            CoachAssignment.professional_id == professional_id,
            CoachAssignment.organisation_id == actor.organisation_id,
        )
    ).first()
    return found is not None


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
    if trajectory.professional_id != actor.id and not _coach_may_read(session, actor, trajectory):
        raise NotFound()
    return reflection_session, trajectory
