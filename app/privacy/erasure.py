"""Erasure of a person on request: personal data and narratives removed, the account anonymised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from app import audit
from app.admin.teams import leave_team
from app.dashboards import summary
from app.deps import Actor
from app.errors import DomainError, InvalidInput
from app.i18n import gettext as _
from app.models import (
    AccountToken,
    CoachAssignment,
    DiaryEntry,
    FocusRelationship,
    LoginFailure,
    NarrativeAnswer,
    Notification,
    OutboxMessage,
    ReflectionSession,
    Reminder,
    ReminderPreference,
    Trajectory,
    User,
    UserRole,
    UserSession,
    utcnow,
)
from app.policies import get_user
from app.privacy.deletion import delete_trajectories

# What stays of a free-text reason in an audit row about an erased person.


@dataclass
class ErasureSummary:
    """What an erasure will remove, for the confirmation page."""

    user: User
    relationships: int
    trajectories: int
    answers: int
    diary_entries: int


def erasure_summary(session: Session, *, actor: Actor, user_id: int) -> ErasureSummary:
    """The person (of the actor's organisation, or 404) and how much of their data there is."""
    user = get_user(session, user_id, actor)
    own = select(Trajectory.id).where(Trajectory.professional_id == user.id)

    def count(statement: object) -> int:
        return int(session.exec(statement).one())  # type: ignore[call-overload]

    return ErasureSummary(
        user=user,
        relationships=count(
            select(func.count())
            .select_from(FocusRelationship)
            .where(FocusRelationship.professional_id == user.id)
        ),
        trajectories=count(
            select(func.count())
            .select_from(Trajectory)
            .where(Trajectory.professional_id == user.id)
        ),
        answers=count(
            select(func.count())
            .select_from(NarrativeAnswer)
            .where(
                col(NarrativeAnswer.session_id).in_(
                    select(ReflectionSession.id).where(
                        col(ReflectionSession.trajectory_id).in_(own)
                    )
                )
            )
        ),
        diary_entries=count(
            select(func.count())
            .select_from(DiaryEntry)
            .where(col(DiaryEntry.trajectory_id).in_(own))
        ),
    )


def check_erasable(actor: Actor, user: User) -> None:
    """Refuse erasing oneself or someone already erased."""
    if user.id == actor.id:
        raise DomainError(_("You cannot erase your own account. Ask another administrator."))
    if user.erased_at is not None:
        raise DomainError(_("This person has already been erased."))


def erase_person(session: Session, *, actor: Actor, user_id: int, confirmation: str) -> User:
    """Remove a person's data and narratives, anonymise their account and end their logins.

    The confirmation must be the person's email address, typed by the admin.
    """
    user = get_user(session, user_id, actor)
    check_erasable(actor, user)
    if confirmation.strip().lower() != user.email.lower():
        raise InvalidInput(
            {
                "confirmation": _(
                    "Type the email address exactly as shown above to confirm the erasure."
                )
            }
        )
    assert user.id is not None
    uid = user.id
    email = user.email
    delete_trajectories(session, select(Trajectory.id).where(Trajectory.professional_id == uid))
    session.execute(delete(FocusRelationship).where(col(FocusRelationship.professional_id) == uid))
    owned: list[Any] = [
        Notification,
        AccountToken,
        UserSession,
        UserRole,
        Reminder,
        ReminderPreference,
    ]
    for model in owned:
        session.execute(delete(model).where(col(model.user_id) == uid))
    session.execute(
        delete(CoachAssignment).where(
            or_(col(CoachAssignment.coach_id) == uid, col(CoachAssignment.professional_id) == uid)
        )
    )
    session.execute(delete(OutboxMessage).where(col(OutboxMessage.to_address) == email))
    session.execute(delete(LoginFailure).where(col(LoginFailure.key) == f"account:{email}"))
    # The audit rows about them stay (who looked at what, when: NEN 7513); only the
    # pseudonym and any typed reason, which may quote what they wrote, are blanked.
    audit.redact_about(session, user_id=uid)
    now = utcnow()
    user.email = f"erased-{uid}@erased.invalid"
    user.display_name = f"erased-{uid}"
    user.password_hash = None
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.is_active = False
    user.deactivated_at = now
    user.erased_at = now
    user.last_login_at = None
    session.add(user)
    session.flush()
    leave_team(session, organisation_id=user.organisation_id, user_id=uid, recount=False)
    summary.recount_accounts(session, organisation_id=user.organisation_id)
    return user
