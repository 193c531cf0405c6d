"""Tenant and role scoping in one place: what an actor may see and touch."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from app.deps import Actor
from app.errors import NotFound
from app.models import CoachAssignment, Role, User

T = TypeVar("T", bound=SQLModel)


def in_organisation(
    statement: SelectOfScalar[T], model: type[T], actor: Actor
) -> SelectOfScalar[T]:
    """Limit a query on a tenant table to the actor's organisation."""
    column: Any = model.organisation_id  # type: ignore[attr-defined]
    return statement.where(column == actor.organisation_id)


def get_in_organisation(session: Session, model: type[T], object_id: int, actor: Actor) -> T:
    """An object of the actor's organisation, or 404 (also for another tenant's objects)."""
    obj = session.get(model, object_id)
    if obj is None or getattr(obj, "organisation_id", None) != actor.organisation_id:
        raise NotFound()
    return obj


def get_user(session: Session, user_id: int, actor: Actor) -> User:
    """A user of the actor's organisation, or 404."""
    return get_in_organisation(session, User, user_id, actor)


def coached_professional_ids(session: Session, actor: Actor) -> list[int]:
    """The professionals assigned to this coach."""
    if not actor.has(Role.coach):
        return []
    statement = select(CoachAssignment.professional_id).where(
        CoachAssignment.coach_id == actor.id,
        CoachAssignment.organisation_id == actor.organisation_id,
    )
    return list(session.exec(statement).all())


def may_read_professional(session: Session, actor: Actor, professional_id: int) -> bool:
    """The professional themselves and their assigned coaches may read their data."""
    if actor.id == professional_id:
        return True
    return professional_id in coached_professional_ids(session, actor)
