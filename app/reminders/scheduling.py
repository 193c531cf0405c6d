"""The coach sets a session's date and time; both people get a calendar invite.

An invite keeps one UID per session; every change raises SEQUENCE, so calendar programs
replace the earlier invite, and clearing the date sends METHOD:CANCEL for the same UID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vCalAddress, vText
from sqlmodel import Session, col, select

from app import i18n
from app.config import get_settings
from app.deps import Actor
from app.errors import InvalidInput
from app.i18n import gettext as _
from app.mail import render_email, send_mail
from app.models import (
    Notification,
    ReflectionSession,
    SessionStatus,
    Trajectory,
    TrajectoryStatus,
    User,
    utcnow,
)
from app.policies import coached_professional_ids
from app.programmes.loader import builtin_programme
from app.reminders.service import (
    SESSION_INVITE,
    channel_of,
    effective_settings,
    organisation_settings,
    preferences_for,
)

DONE = (SessionStatus.completed, SessionStatus.reviewed, SessionStatus.skipped)
#: How far ahead an appointment can be set.
MAX_DAYS_AHEAD = 366


def parse_appointment(day: str, at: str, *, now: datetime) -> datetime:
    """A date and a time typed in local time, as UTC; InvalidInput says what is wrong."""
    errors: dict[str, str] = {}
    try:
        parsed_day = date.fromisoformat(day.strip())
    except ValueError:
        errors["schedule_date"] = _("Fill in a date like 2026-03-14.")
    try:
        parsed_time = time.fromisoformat(at.strip())
    except ValueError:
        errors["schedule_time"] = _("Fill in a time like 14:30.")
    if errors:
        raise InvalidInput(errors)
    local = datetime.combine(parsed_day, parsed_time.replace(second=0, microsecond=0))
    starts = local.replace(tzinfo=i18n.local_zone()).astimezone(UTC)
    if starts <= now:
        raise InvalidInput({"schedule_date": _("Choose a moment in the future.")})
    if starts > now + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput({"schedule_date": _("Choose a date within a year from now.")})
    return starts


def schedule_session(
    session: Session,
    *,
    actor: Actor,
    trajectory: Trajectory,
    reflection_session: ReflectionSession,
    starts: datetime | None,
) -> str:
    """Set (or with None, clear) a session's appointment and send the invites.

    Returns "scheduled", "moved", "cancelled" or "unchanged".
    """
    if reflection_session.trajectory_id != trajectory.id or reflection_session.status in DONE:
        raise InvalidInput({"schedule_session": _("Choose a session that is not finished.")})
    if trajectory.status != TrajectoryStatus.active:
        raise InvalidInput({"schedule_session": _("This programme is no longer under way.")})
    previous = reflection_session.scheduled_at
    if starts == previous:
        return "unchanged"
    outcome = "cancelled" if starts is None else "moved" if previous is not None else "scheduled"
    if previous is not None or reflection_session.schedule_sequence:
        # Every later invite for this UID must carry a higher SEQUENCE than the last.
        reflection_session.schedule_sequence += 1
    reflection_session.scheduled_at = starts
    reflection_session.scheduled_by_id = actor.id if starts is not None else None
    session.add(reflection_session)
    session.flush()
    when = starts if starts is not None else previous
    assert when is not None
    send_invites(
        session,
        trajectory=trajectory,
        reflection_session=reflection_session,
        coach=actor.user,
        starts=when,
        cancelled=starts is None,
        outcome=outcome,
    )
    return outcome


def _uid(reflection_session: ReflectionSession) -> str:
    host = urlsplit(get_settings().base_url).hostname or "dyade.local"
    return f"dyade-session-{reflection_session.id}@{host}"


def calendar_invite(
    *,
    reflection_session: ReflectionSession,
    summary: str,
    description: str,
    starts: datetime,
    minutes: int,
    organiser: User,
    attendees: list[User],
    cancelled: bool,
    link: str,
) -> str:
    """An iCalendar (RFC 5545) request or cancellation for one session."""
    calendar = Calendar()
    calendar.add("prodid", "-//Dyade//Dyade reminders//NL")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", _uid(reflection_session))
    event.add("sequence", reflection_session.schedule_sequence)
    event.add("dtstamp", utcnow().replace(microsecond=0))
    event.add("dtstart", starts.astimezone(UTC).replace(microsecond=0))
    event.add("dtend", (starts + timedelta(minutes=minutes)).astimezone(UTC).replace(microsecond=0))
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{organiser.email}")
    organizer.params["cn"] = vText(organiser.display_name)
    event["organizer"] = organizer
    for person in attendees:
        attendee = vCalAddress(f"mailto:{person.email}")
        attendee.params["cn"] = vText(person.display_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText(
            "ACCEPTED" if person.id == organiser.id else "NEEDS-ACTION"
        )
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical().decode()


def send_invites(
    session: Session,
    *,
    trajectory: Trajectory,
    reflection_session: ReflectionSession,
    coach: User,
    starts: datetime,
    cancelled: bool,
    outcome: str,
) -> None:
    """Email the invite (or cancellation) to the professional and the coach, as each wants."""
    professional = session.get(User, trajectory.professional_id)
    people = [p for p in (professional, coach) if p is not None and p.is_active]
    preferences = preferences_for(session, [p.id for p in people if p.id is not None])
    cfg = effective_settings(
        organisation_settings(session, [trajectory.organisation_id]),
        trajectory.organisation_id,
        trajectory.programme_key,
        trajectory.programme_version,
    )
    template = builtin_programme(trajectory.programme_key, trajectory.programme_version).session(
        reflection_session.template_key
    )
    base = get_settings().base_url
    for person in people:
        assert person.id is not None
        channel = channel_of(preferences.get(person.id), SESSION_INVITE)
        path = (
            f"/coach/trajectories/{trajectory.id}"
            if person.id != trajectory.professional_id
            else f"/trajectories/{trajectory.id}"
        )
        if channel == "off":
            continue
        if channel == "in_app":
            session.add(
                Notification(
                    organisation_id=trajectory.organisation_id,
                    user_id=person.id,
                    kind="session_cancelled" if cancelled else "session_scheduled",
                    link=path,
                )
            )
            continue
        with i18n.using_locale(person.locale):
            title = template.title.get(i18n.get_locale())
            summary = _("Dyade: %(session)s", session=title)
            description = _("Your Dyade session. Open it here: %(link)s", link=base + path)
        ics = calendar_invite(
            reflection_session=reflection_session,
            summary=summary,
            description=description,
            starts=starts,
            minutes=cfg.session_minutes,
            organiser=coach,
            attendees=[p for p in people if p.id != coach.id] + [coach],
            cancelled=cancelled,
            link=base + path,
        )
        subject, text, html = render_email(
            "session_invite",
            person.locale,
            name=person.display_name,
            outcome=outcome,
            when=starts,
            minutes=cfg.session_minutes,
            link=base + path,
            settings_link=f"{base}/account#reminders",
        )
        method = "CANCEL" if cancelled else "REQUEST"
        send_mail(
            session,
            to=person.email,
            subject=subject,
            text=text,
            html=html,
            organisation_id=trajectory.organisation_id,
            attachments=[
                {
                    "filename": "dyade-session.ics",
                    "content_type": f"text/calendar; method={method}",
                    "content": ics,
                }
            ],
        )


# ---------------------------------------------------------------- upcoming sessions


@dataclass(frozen=True)
class UpcomingSession:
    """An appointment as the home page lists it."""

    session_id: int
    trajectory_id: int
    starts: datetime
    title: str
    professional_name: str
    own: bool


def upcoming_sessions(
    session: Session, *, actor: Actor, now: datetime | None = None, limit: int = 10
) -> list[UpcomingSession]:
    """Appointments from now on: one's own and, for a coach, their professionals' (one query)."""
    now = now or utcnow()
    professional_ids = [actor.id, *coached_professional_ids(session, actor)]
    rows = session.exec(
        select(ReflectionSession, Trajectory, User)
        .join(Trajectory, col(Trajectory.id) == col(ReflectionSession.trajectory_id))
        .join(User, col(User.id) == col(Trajectory.professional_id))
        .where(
            Trajectory.organisation_id == actor.organisation_id,
            col(Trajectory.professional_id).in_(professional_ids),
            Trajectory.status == TrajectoryStatus.active,
            col(ReflectionSession.scheduled_at) >= now - timedelta(hours=1),
            col(ReflectionSession.status).not_in([str(s) for s in DONE]),
        )
        .order_by(col(ReflectionSession.scheduled_at))
        .limit(limit)
    ).all()
    locale = i18n.get_locale()
    found = []
    for rs, trajectory, professional in rows:
        assert rs.scheduled_at is not None
        programme = builtin_programme(trajectory.programme_key, trajectory.programme_version)
        found.append(
            UpcomingSession(
                session_id=rs.id or 0,
                trajectory_id=trajectory.id or 0,
                starts=rs.scheduled_at,
                title=programme.session(rs.template_key).title.get(locale),
                professional_name=professional.display_name,
                own=trajectory.professional_id == actor.id,
            )
        )
    return found
