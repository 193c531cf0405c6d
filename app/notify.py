"""In-app notifications, and the email that tells someone something is waiting."""

from __future__ import annotations

from sqlalchemy import bindparam, event, func, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.config import get_settings
from app.mail import render_email, send_mail
from app.models import Notification, User, utcnow

# Set on the request's session once it has changed someone's messages: the count taken with
# the login check (Actor.unread_notifications) may then be out of date.
UNREAD_CHANGED = "dyade_unread_changed"


@event.listens_for(OrmSession, "before_flush")
def _note_new_notifications(session: OrmSession, _context: object, _instances: object) -> None:
    if any(isinstance(item, Notification) for item in session.new):
        session.info[UNREAD_CHANGED] = True


def unread_may_have_changed(session: Session) -> bool:
    """This session has read, added or is about to add messages since the login check."""
    return bool(session.info.get(UNREAD_CHANGED)) or any(
        isinstance(item, Notification) for item in session.new
    )


def notify(
    session: Session,
    *,
    organisation_id: int,
    user_id: int,
    kind: str,
    link: str,
    email: bool = False,
) -> Notification:
    """Tell a person in the app (and by email) that something is waiting; never what it says."""
    notification = Notification(
        organisation_id=organisation_id, user_id=user_id, kind=kind, link=link
    )
    session.add(notification)
    if email:
        # send_mail keeps it in the outbox and delivers it when SMTP is configured. Messages
        # from the coach follow the person's choice for them (and an unsubscribe).
        from app.reminders.service import FEEDBACK, channel_of, preference_of

        user = session.get(User, user_id)
        wanted = channel_of(preference_of(session, user_id), FEEDBACK) == "email"
        if user is not None and user.is_active and wanted:
            subject, text, html = render_email(
                "notification",
                user.locale,
                name=user.display_name,
                kind=kind,
                link=f"{get_settings().base_url}{link}",
            )
            send_mail(
                session,
                to=user.email,
                subject=subject,
                text=text,
                html=html,
                organisation_id=organisation_id,
            )
    return notification


# Every whole page counts these for its header; built once (building a statement and its
# cache key costs about as much as running it).
_UNREAD_COUNT = (
    select(func.count())
    .select_from(Notification)
    .where(col(Notification.user_id) == bindparam("user_id"), col(Notification.read_at).is_(None))
)


def unread_count(session: Session, *, user_id: int) -> int:
    """How many notifications wait for this person."""
    return int(session.exec(_UNREAD_COUNT, params={"user_id": user_id}).one())


def recent(session: Session, *, user_id: int, limit: int = 30) -> list[Notification]:
    """The newest notifications of a person."""
    return list(
        session.exec(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(col(Notification.created_at).desc())
            .limit(limit)
        ).all()
    )


def mark_read(session: Session, *, user_id: int, link: str | None = None) -> None:
    """Mark a person's notifications read (all, or those pointing at one page)."""
    statement = update(Notification).where(
        col(Notification.user_id) == user_id, col(Notification.read_at).is_(None)
    )
    if link is not None:
        statement = statement.where(col(Notification.link) == link)
    session.execute(statement.values(read_at=utcnow()))
    session.info[UNREAD_CHANGED] = True
