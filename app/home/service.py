"""What each role sees first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.deps import Actor
from app.models import Role, User, UserRole

# Groups smaller than this are never shown to supervisors (DOMAIN.md: suppression below 5).
MIN_CELL = 5


@dataclass(frozen=True)
class RoleCount:
    role: str
    count: int | None  # None: suppressed, fewer than MIN_CELL


def organisation_counts(session: Session, *, actor: Actor) -> list[RoleCount]:
    """Active accounts per role, with small groups suppressed."""
    rows = session.exec(
        select(UserRole.role, func.count())
        .join(User, col(User.id) == col(UserRole.user_id))
        .where(UserRole.organisation_id == actor.organisation_id, col(User.is_active).is_(True))
        .group_by(UserRole.role)
    ).all()
    counts = dict(rows)
    return [
        RoleCount(str(role), c if (c := counts.get(str(role), 0)) >= MIN_CELL else None)
        for role in (Role.professional, Role.coach)
    ]
