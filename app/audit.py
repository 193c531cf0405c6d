"""Recording access to and changes of a person's data."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session

from app.deps import Actor, client_address
from app.models import AuditEvent


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    request: Request | None = None,
    subject_user_id: int | None = None,
    detail: str = "",
    role: str = "",
) -> None:
    """Append one audit event (who, as what, did what to whose data, from where)."""
    session.add(
        AuditEvent(
            organisation_id=actor.organisation_id,
            actor_id=actor.id,
            actor_role=role or actor.main_role,
            subject_user_id=subject_user_id,
            action=action,
            detail=detail[:500],
            ip_address=client_address(request) if request is not None else "",
        )
    )
