"""State-based reminders: what is due, each person's choices, and sending each one once.

A reminder is about a *state* of a trajectory (a session untouched since a given moment,
a session scheduled for a given time, unread feedback, …), never about a place in a
timetable. Its state key names that state; the unique key (person, kind, state key) on
the `reminder` table is what keeps it from going out twice, whichever worker or run
gets there first. A state that changes before the job runs produces no reminder at all:
the job only looks at what is due now.
"""

from __future__ import annotations

import hmac
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from app import i18n
from app.config import get_settings
from app.db import get_engine
from app.deps import Actor
from app.errors import InvalidInput
from app.forms import whole_number
from app.i18n import gettext as _
from app.mail import deliver_message, render_email, send_mail
from app.models import (
    CoachAssignment,
    DiaryEntry,
    Feedback,
    Notification,
    OrganisationReminderSettings,
    OutboxMessage,
    ReflectionSession,
    Reminder,
    ReminderPreference,
    SessionStatus,
    Trajectory,
    TrajectoryStatus,
    User,
    utcnow,
)
from app.programmes.loader import builtin_programme
from app.programmes.schema import REMINDER_LIMITS, ReminderDefaults
from app.security import sign

log = logging.getLogger(__name__)

SESSION_IDLE: Final = "session_idle"
SESSION_UPCOMING: Final = "session_upcoming"
DIARY_IDLE: Final = "diary_idle"
FEEDBACK: Final = "feedback"
MEASUREMENT_DUE: Final = "measurement_due"
SESSION_INVITE: Final = "session_invite"

#: Every kind a person can choose a channel for, in the order the settings page shows.
KINDS: Final = (
    SESSION_UPCOMING,
    SESSION_INVITE,
    SESSION_IDLE,
    MEASUREMENT_DUE,
    DIARY_IDLE,
    FEEDBACK,
)
#: Kinds that concern a coach as well (the appointment); the rest only the professional.
COACH_KINDS: Final = frozenset({SESSION_UPCOMING, SESSION_INVITE})
CHANNELS: Final = ("email", "in_app", "off")
DEFAULT_CHANNEL: Final = "email"
DEFAULT_DAILY_LIMIT: Final = 3
DAILY_LIMITS: Final = (1, 2, 3, 5, 10)
MEASUREMENT_PHASES: Final = frozenset({"post", "follow_up"})
DONE: Final = (SessionStatus.completed, SessionStatus.reviewed, SessionStatus.skipped)


# ---------------------------------------------------------------- personal choices


def kinds_for(actor_roles: Iterable[str]) -> list[str]:
    """The kinds that matter to someone with these roles (coaches: the appointments)."""
    roles = set(actor_roles)
    if "professional" in roles:
        return list(KINDS)
    if "coach" in roles:
        return [k for k in KINDS if k in COACH_KINDS]
    return []


def channel_of(preference: ReminderPreference | None, kind: str) -> str:
    """The channel a person chose for a kind ("email" when they never chose)."""
    if preference is None:
        return DEFAULT_CHANNEL
    value = preference.channels.get(kind, DEFAULT_CHANNEL)
    return value if value in CHANNELS else DEFAULT_CHANNEL


def daily_limit_of(preference: ReminderPreference | None) -> int:
    return preference.daily_limit if preference is not None else DEFAULT_DAILY_LIMIT


def in_quiet_hours(preference: ReminderPreference | None, now: datetime) -> bool:
    """True while the person's quiet hours last (in the app's local time zone)."""
    if preference is None or preference.quiet_start is None or preference.quiet_end is None:
        return False
    start, end = preference.quiet_start, preference.quiet_end
    if start == end:
        return False
    hour = now.astimezone(i18n.local_zone()).hour
    return start <= hour < end if start < end else hour >= start or hour < end


def preference_of(session: Session, user_id: int) -> ReminderPreference | None:
    return session.exec(
        select(ReminderPreference).where(ReminderPreference.user_id == user_id)
    ).first()


def preferences_for(session: Session, user_ids: Iterable[int]) -> dict[int, ReminderPreference]:
    """The stored choices of several people (one query)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(ReminderPreference).where(col(ReminderPreference.user_id).in_(ids))
    ).all()
    return {row.user_id: row for row in rows}


def preference_form_values(preference: ReminderPreference | None) -> dict[str, str]:
    """The settings form's values for a person's stored choices."""
    values = {f"channel-{kind}": channel_of(preference, kind) for kind in KINDS}
    values["daily_limit"] = str(daily_limit_of(preference))
    start = preference.quiet_start if preference is not None else None
    end = preference.quiet_end if preference is not None else None
    values["quiet_start"] = "" if start is None else str(start)
    values["quiet_end"] = "" if end is None else str(end)
    return values


def _hour(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    hour = whole_number(value)
    if hour is None or hour > 23:
        raise ValueError(value)
    return hour


def save_preferences(
    session: Session, *, actor: Actor, values: dict[str, str]
) -> ReminderPreference:
    """Store a person's reminder choices from the settings form."""
    errors: dict[str, str] = {}
    channels: dict[str, str] = {}
    for kind in kinds_for(actor.roles):
        chosen = values.get(f"channel-{kind}", "")
        if chosen not in CHANNELS:
            errors[f"channel-{kind}"] = _("Choose how you want to hear about this.")
        channels[kind] = chosen
    limit = values.get("daily_limit", "")
    if whole_number(limit) not in DAILY_LIMITS:
        errors["daily_limit"] = _("Choose how many reminders a day you want at most.")
    try:
        start = _hour(values.get("quiet_start", ""))
        end = _hour(values.get("quiet_end", ""))
    except ValueError:
        errors["quiet_start"] = _("Choose an hour from the list.")
        start = end = None
    else:
        if (start is None) != (end is None):
            errors["quiet_start"] = _(
                "Choose both when your quiet hours begin and when they end, or neither."
            )
        elif start is not None and start == end:
            errors["quiet_start"] = _("Quiet hours cannot begin and end at the same hour.")
    if errors:
        raise InvalidInput(errors)
    preference = preference_of(session, actor.id) or ReminderPreference(
        organisation_id=actor.organisation_id, user_id=actor.id
    )
    preference.channels = {**preference.channels, **channels}
    preference.daily_limit = int(limit)
    preference.quiet_start, preference.quiet_end = start, end
    preference.unsubscribed_at = None
    preference.updated_at = utcnow()
    session.add(preference)
    return preference


# ---------------------------------------------------------------- unsubscribe links


def unsubscribe_token(user_id: int) -> str:
    """A token for a link that stops all reminders of one person, without logging in."""
    return f"{user_id}.{sign(f'unsubscribe:{user_id}')}"


def user_for_unsubscribe(session: Session, token: str) -> User | None:
    """The person an unsubscribe token belongs to, or None for a forged or odd token."""
    user_part, _dot, signature = token.partition(".")
    if not user_part.isdigit() or len(user_part) > 10 or not signature:
        return None
    if not hmac.compare_digest(sign(f"unsubscribe:{int(user_part)}"), signature):
        return None
    return session.get(User, int(user_part))


def unsubscribe(session: Session, *, user: User) -> ReminderPreference:
    """Turn every reminder of this person off (they can turn them on again on their page)."""
    assert user.id is not None
    preference = preference_of(session, user.id) or ReminderPreference(
        organisation_id=user.organisation_id, user_id=user.id
    )
    preference.channels = dict.fromkeys(KINDS, "off")
    preference.unsubscribed_at = utcnow()
    preference.updated_at = utcnow()
    session.add(preference)
    return preference


def unsubscribe_url(user_id: int) -> str:
    return f"{get_settings().base_url}/unsubscribe/{unsubscribe_token(user_id)}"


# ---------------------------------------------------------------- organisation settings


def organisation_settings(
    session: Session, organisation_ids: Iterable[int] | None = None
) -> dict[tuple[int, str], dict[str, Any]]:
    """Every organisation's own reminder values, keyed by (organisation, programme)."""
    statement = select(OrganisationReminderSettings)
    if organisation_ids is not None:
        ids = sorted(set(organisation_ids))
        statement = statement.where(col(OrganisationReminderSettings.organisation_id).in_(ids))
    return {(row.organisation_id, row.programme_key): row.values for row in session.exec(statement)}


def effective_settings(
    overrides: dict[tuple[int, str], dict[str, Any]],
    organisation_id: int,
    programme_key: str,
    programme_version: int,
) -> ReminderDefaults:
    """The programme's defaults with the organisation's own values over them."""
    defaults = builtin_programme(programme_key, programme_version).reminders
    own = {
        key: value
        for key, value in overrides.get((organisation_id, programme_key), {}).items()
        if key in REMINDER_LIMITS and isinstance(value, int)
    }
    return defaults.model_copy(update=own) if own else defaults


def save_organisation_settings(
    session: Session, *, actor: Actor, programme_key: str, values: dict[str, str]
) -> OrganisationReminderSettings:
    """An admin sets the organisation's reminder values for one programme."""
    errors: dict[str, str] = {}
    parsed: dict[str, int] = {}
    for name, (low, high) in REMINDER_LIMITS.items():
        number = whole_number(values.get(name, ""))
        if number is None or not low <= number <= high:
            errors[name] = _("Fill in a whole number from %(low)s to %(high)s.", low=low, high=high)
        else:
            parsed[name] = number
    if errors:
        raise InvalidInput(errors)
    row = session.exec(
        select(OrganisationReminderSettings).where(
            OrganisationReminderSettings.organisation_id == actor.organisation_id,
            OrganisationReminderSettings.programme_key == programme_key,
        )
    ).first() or OrganisationReminderSettings(
        organisation_id=actor.organisation_id, programme_key=programme_key
    )
    row.values = parsed
    row.updated_at = utcnow()
    session.add(row)
    return row


# ---------------------------------------------------------------- what is due


@dataclass(frozen=True)
class Due:
    """One reminder that is due now for one person."""

    organisation_id: int
    user_id: int
    kind: str
    state_key: str
    link: str
    #: What the state is about, to check again just before sending.
    subject: tuple[str, int]
    when: datetime | None = None


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=i18n.local_zone()).astimezone(UTC)


def _session_due(
    rs: ReflectionSession,
    trajectory: Trajectory,
    cfg: ReminderDefaults,
    now: datetime,
    assigned: set[tuple[int, int]],
) -> list[Due]:
    found: list[Due] = []
    org, tid = trajectory.organisation_id, trajectory.id or 0
    subject = ("session", rs.id or 0)
    if rs.status in DONE:
        return found
    starts = rs.scheduled_at
    if starts is not None and starts - timedelta(hours=cfg.upcoming_hours_before) <= now < starts:
        key = f"s{rs.id}:{_stamp(starts)}"
        found.append(
            Due(
                org,
                trajectory.professional_id,
                SESSION_UPCOMING,
                key,
                f"/trajectories/{tid}",
                subject,
                starts,
            )
        )
        coach_id = rs.scheduled_by_id or trajectory.coach_id
        if coach_id is not None and (coach_id, trajectory.professional_id) in assigned:
            found.append(
                Due(
                    org,
                    coach_id,
                    SESSION_UPCOMING,
                    key,
                    f"/coach/trajectories/{tid}",
                    subject,
                    starts,
                )
            )
    if rs.phase in MEASUREMENT_PHASES and rs.status == SessionStatus.open:
        due_day = (
            rs.scheduled_at.astimezone(i18n.local_zone()).date()
            if rs.scheduled_at is not None
            else rs.suggested_date
        )
        today = now.astimezone(i18n.local_zone()).date()
        if due_day is not None and today >= due_day + timedelta(
            days=cfg.measurement_due_days_after
        ):
            found.append(
                Due(
                    org,
                    trajectory.professional_id,
                    MEASUREMENT_DUE,
                    f"s{rs.id}:{due_day.isoformat()}",
                    f"/sessions/{rs.id}",
                    subject,
                )
            )
        return found
    anchor: datetime | None = None
    if rs.status == SessionStatus.in_progress:
        anchor = rs.last_activity_at or rs.started_at
    elif rs.status == SessionStatus.open:
        moments = [rs.opened_at, rs.scheduled_at]
        if rs.suggested_date is not None:
            moments.append(_local_midnight(rs.suggested_date))
        known = [m for m in moments if m is not None]
        anchor = max(known) if known else None
    if anchor is not None and now >= anchor + timedelta(days=cfg.session_idle_days):
        found.append(
            Due(
                org,
                trajectory.professional_id,
                SESSION_IDLE,
                f"s{rs.id}:{_stamp(anchor)}",
                f"/sessions/{rs.id}",
                subject,
            )
        )
    return found


def _assigned_pairs(session: Session, professional_ids: Iterable[int]) -> set[tuple[int, int]]:
    ids = sorted(set(professional_ids))
    if not ids:
        return set()
    rows = session.exec(
        select(CoachAssignment.coach_id, CoachAssignment.professional_id).where(
            col(CoachAssignment.professional_id).in_(ids)
        )
    ).all()
    return {(int(c), int(p)) for c, p in rows}


def due_sessions(session: Session, *, now: datetime, session_id: int | None = None) -> list[Due]:
    """Idle sessions, upcoming appointments and measurements that have become due."""
    statement = (
        select(ReflectionSession, Trajectory)
        .join(Trajectory, col(Trajectory.id) == col(ReflectionSession.trajectory_id))
        .where(
            Trajectory.status == TrajectoryStatus.active,
            col(ReflectionSession.status).not_in([str(s) for s in DONE]),
            col(ReflectionSession.status).in_(
                [str(SessionStatus.open), str(SessionStatus.in_progress)]
            )
            | col(ReflectionSession.scheduled_at).is_not(None),
        )
    )
    if session_id is not None:
        statement = statement.where(ReflectionSession.id == session_id)
    rows = session.exec(statement).all()
    overrides = organisation_settings(session, {t.organisation_id for _rs, t in rows})
    assigned = _assigned_pairs(session, {t.professional_id for _rs, t in rows})
    found: list[Due] = []
    for rs, trajectory in rows:
        cfg = effective_settings(
            overrides,
            trajectory.organisation_id,
            trajectory.programme_key,
            trajectory.programme_version,
        )
        found += _session_due(rs, trajectory, cfg, now, assigned)
    return found


def due_diaries(session: Session, *, now: datetime, trajectory_id: int | None = None) -> list[Due]:
    """Trajectories under way whose diary nobody used for a while since the last session."""
    last_done = (
        select(
            col(ReflectionSession.trajectory_id).label("trajectory_id"),
            func.max(ReflectionSession.completed_at).label("at"),
        )
        .where(col(ReflectionSession.completed_at).is_not(None))
        .group_by(col(ReflectionSession.trajectory_id))
        .subquery()
    )
    last_entry = (
        select(
            col(DiaryEntry.trajectory_id).label("trajectory_id"),
            func.max(DiaryEntry.created_at).label("at"),
        )
        .group_by(col(DiaryEntry.trajectory_id))
        .subquery()
    )
    statement = (
        select(Trajectory, last_done.c.at, last_entry.c.at)
        .join(last_done, last_done.c.trajectory_id == Trajectory.id)
        .outerjoin(last_entry, last_entry.c.trajectory_id == Trajectory.id)
        .where(Trajectory.status == TrajectoryStatus.active)
    )
    if trajectory_id is not None:
        statement = statement.where(Trajectory.id == trajectory_id)
    rows = session.exec(statement).all()
    overrides = organisation_settings(session, {t.organisation_id for t, _a, _b in rows})
    found: list[Due] = []
    for trajectory, done_at, entry_at in rows:
        cfg = effective_settings(
            overrides,
            trajectory.organisation_id,
            trajectory.programme_key,
            trajectory.programme_version,
        )
        anchor = max(_aware(m) for m in (done_at, entry_at) if m is not None)
        if now >= anchor + timedelta(days=cfg.diary_idle_days):
            found.append(
                Due(
                    trajectory.organisation_id,
                    trajectory.professional_id,
                    DIARY_IDLE,
                    f"t{trajectory.id}:{_stamp(anchor)}",
                    f"/trajectories/{trajectory.id}/diary",
                    ("trajectory", trajectory.id or 0),
                )
            )
    return found


def _aware(value: datetime | str) -> datetime:
    # MAX() over a column may come back as text on SQLite; stored times are UTC.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def due_feedback(session: Session, *, now: datetime, feedback_id: int | None = None) -> list[Due]:
    """Coach feedback the professional has not read yet."""
    statement = (
        select(Feedback, Trajectory)
        .join(Trajectory, col(Trajectory.id) == col(Feedback.trajectory_id))
        .where(col(Feedback.read_at).is_(None), Trajectory.status == TrajectoryStatus.active)
    )
    if feedback_id is not None:
        statement = statement.where(Feedback.id == feedback_id)
    rows = session.exec(statement).all()
    overrides = organisation_settings(session, {t.organisation_id for _f, t in rows})
    found: list[Due] = []
    for feedback, trajectory in rows:
        cfg = effective_settings(
            overrides,
            trajectory.organisation_id,
            trajectory.programme_key,
            trajectory.programme_version,
        )
        if now >= feedback.created_at + timedelta(hours=cfg.feedback_delay_hours):
            found.append(feedback_due(feedback, trajectory))
    return found


def feedback_due(feedback: Feedback, trajectory: Trajectory) -> Due:
    """The reminder about one piece of feedback (also sent at once when it is written)."""
    return Due(
        trajectory.organisation_id,
        trajectory.professional_id,
        FEEDBACK,
        f"f{feedback.id}",
        f"/trajectories/{trajectory.id}#feedback",
        ("feedback", feedback.id or 0),
    )


def find_due(session: Session, *, now: datetime) -> list[Due]:
    """Every reminder that is due now, before personal choices are applied."""
    return [
        *due_sessions(session, now=now),
        *due_diaries(session, now=now),
        *due_feedback(session, now=now),
    ]


def still_due(session: Session, item: Due, *, now: datetime) -> bool:
    """Check one reminder's state again (it may have resolved since the job looked)."""
    what, object_id = item.subject
    if what == "session":
        current = due_sessions(session, now=now, session_id=object_id)
    elif what == "trajectory":
        current = due_diaries(session, now=now, trajectory_id=object_id)
    else:
        current = due_feedback(session, now=now, feedback_id=object_id)
    return any(
        (d.user_id, d.kind, d.state_key) == (item.user_id, item.kind, item.state_key)
        for d in current
    )


# ---------------------------------------------------------------- sending


@dataclass
class RunReport:
    """What one run of the job did."""

    emailed: int = 0
    in_app: int = 0
    already_sent: int = 0
    cancelled: int = 0
    deferred: int = 0
    off: int = 0
    failed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        return (
            f"reminders: {self.emailed} emailed, {self.in_app} in the app, "
            f"{self.already_sent} already sent, {self.cancelled} resolved before sending, "
            f"{self.deferred} waiting (quiet hours or daily limit), {self.off} turned off, "
            f"{self.failed} failed"
        )


def reminders_sent_since(
    session: Session, user_ids: Iterable[int], since: datetime
) -> Counter[int]:
    """How many reminders each person got since a moment (one query)."""
    ids = sorted(set(user_ids))
    if not ids:
        return Counter()
    rows = session.exec(
        select(Reminder.user_id, func.count())
        .where(col(Reminder.user_id).in_(ids), col(Reminder.created_at) >= since)
        .group_by(col(Reminder.user_id))
    ).all()
    return Counter({int(user_id): int(count) for user_id, count in rows})


def reminder_email(session: Session, *, item: Due, user: User, deliver: bool) -> OutboxMessage:
    """Write a reminder email in the person's language: what waits and a link, no content."""
    assert user.id is not None
    settings = get_settings()
    unsubscribe = unsubscribe_url(user.id)
    subject, text, html = render_email(
        "reminder",
        user.locale,
        name=user.display_name,
        kind=item.kind,
        link=f"{settings.base_url}{item.link}",
        when=item.when,
        settings_link=f"{settings.base_url}/account#reminders",
        unsubscribe_link=unsubscribe,
    )
    return send_mail(
        session,
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        organisation_id=item.organisation_id,
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        deliver=deliver,
    )


def _allowed(
    item: Due,
    preference: ReminderPreference | None,
    sent: Counter[int],
    now: datetime,
    report: RunReport,
) -> str | None:
    """The channel to use now, or None (off, quiet hours or the daily limit reached)."""
    channel = channel_of(preference, item.kind)
    if item.kind == FEEDBACK and channel == "in_app":
        channel = "off"  # the feedback itself is already waiting in the app
    if channel == "off":
        report.off += 1
        return None
    if in_quiet_hours(preference, now) or sent[item.user_id] >= daily_limit_of(preference):
        report.deferred += 1
        return None
    return channel


def _claim(item: Due, channel: str, now: datetime) -> Reminder:
    """The row that says this reminder was sent: unique per person, kind and state."""
    return Reminder(
        organisation_id=item.organisation_id,
        user_id=item.user_id,
        kind=item.kind,
        state_key=item.state_key,
        channel=channel,
        link=item.link,
        created_at=now,
    )


def _write_reminder(
    session: Session, reminder: Reminder, *, item: Due, user: User, deliver: bool
) -> OutboxMessage | None:
    """The reminder itself: an email (returned, and noted on the claim) or a notification."""
    if reminder.channel == "email":
        record = reminder_email(session, item=item, user=user, deliver=deliver)
        session.flush()
        reminder.outbox_message_id = record.id
        return record
    session.add(
        Notification(
            organisation_id=item.organisation_id,
            user_id=item.user_id,
            kind=f"reminder_{item.kind}",
            link=item.link,
        )
    )
    return None


def _claim_and_send(
    engine: Engine, item: Due, user: User, channel: str, now: datetime, *, daily_limit: int
) -> str:
    with Session(engine, expire_on_commit=False) as session:
        # On PostgreSQL, claims for one person wait for each other here, so that the daily
        # limit below counts every committed claim (SQLite lets one writer in at a time
        # anyway, and leaves FOR UPDATE out).
        session.exec(select(User.id).where(User.id == item.user_id).with_for_update()).first()
        # The claim comes before the checks, so that on SQLite the write lock is taken
        # and the checks see everything committed before it.
        reminder = _claim(item, channel, now)
        session.add(reminder)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return "already_sent"
        if not still_due(session, item, now=now):
            session.rollback()
            return "cancelled"
        sent = reminders_sent_since(session, [item.user_id], now - timedelta(days=1))
        if sent[item.user_id] > daily_limit:  # this claim included
            session.rollback()
            return "deferred"
        record = _write_reminder(session, reminder, item=item, user=user, deliver=False)
        session.commit()
        if record is not None and get_settings().smtp_host:
            # Delivered after the claim is committed. A crash in between leaves the message
            # unsent in the outbox, and a later run's retry_unsent (app.mail) sends it.
            deliver_message(record)
            session.add(record)
            session.commit()
        return "emailed" if channel == "email" else "in_app"


def run_reminders(*, engine: Engine | None = None, now: datetime | None = None) -> RunReport:
    """Send every reminder that is due now, each at most once (safe to run concurrently)."""
    engine = engine or get_engine()
    now = now or utcnow()
    report = RunReport()
    with Session(engine, expire_on_commit=False) as session:
        due = find_due(session, now=now)
        ids = {item.user_id for item in due}
        users = {
            u.id: u
            for u in session.exec(
                select(User).where(col(User.id).in_(sorted(ids)), col(User.is_active).is_(True))
            ).all()
        }
        preferences = preferences_for(session, ids)
        sent = reminders_sent_since(session, ids, now - timedelta(days=1))
    for item in due:
        user = users.get(item.user_id)
        if user is None:
            continue
        channel = _allowed(item, preferences.get(item.user_id), sent, now, report)
        if channel is None:
            continue
        try:
            outcome = _claim_and_send(
                engine,
                item,
                user,
                channel,
                now,
                daily_limit=daily_limit_of(preferences.get(item.user_id)),
            )
        except OperationalError as exc:
            # e.g. SQLite busy for longer than its timeout: the next run tries again.
            log.warning("Reminder %s for user %s not sent now: %s", item.kind, user.id, exc)
            report.failed += 1
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome in ("emailed", "in_app"):
            sent[item.user_id] += 1
            report.kinds[item.kind] += 1
    return report


def send_now(session: Session, *, item: Due, user: User) -> bool:
    """Send a reminder within the current request (new feedback), if the person allows it.

    When quiet hours or the daily limit hold it back, the job sends it later, provided
    its state has not resolved by then.
    """
    report = RunReport()
    now = utcnow()
    assert user.id is not None
    preference = preference_of(session, user.id)
    sent = reminders_sent_since(session, [user.id], now - timedelta(days=1))
    channel = _allowed(item, preference, sent, now, report)
    if channel is None or not user.is_active:
        return False
    try:
        with session.begin_nested():
            reminder = _claim(item, channel, now)
            session.add(reminder)
    except IntegrityError:
        return False
    # In a request, the email goes out once the request has committed (app.mail).
    _write_reminder(session, reminder, item=item, user=user, deliver=True)
    return True
