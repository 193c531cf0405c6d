"""The coach plans a session; both people get a calendar invite that calendars understand."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from icalendar import Calendar
from sqlmodel import Session, select

from app.models import Notification, ReflectionSession, ReminderPreference, utcnow
from app.reminders.service import run_reminders
from tests.conftest import Cast, Client
from tests.test_auth import Inbox
from tests.test_reminders import inbox, say, start  # noqa: F401 - the fixture

# A Tuesday afternoon well ahead of any test run, in Amsterdam time (UTC+1 in winter).
DAY, AT = "2027-01-12", "14:30"
STARTS = datetime(2027, 1, 12, 13, 30, tzinfo=UTC)


def invite_of(message: EmailMessage) -> Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "dyade-session.ics"
    return Calendar.from_ical(part.get_content())


def event_of(calendar: Calendar):  # type: ignore[no-untyped-def]
    [event] = calendar.walk("VEVENT")
    return event


def plan(client: Client, trajectory_id: int, session_id: int, **values: str):  # type: ignore[no-untyped-def]
    return client.post_form(
        f"/coach/trajectories/{trajectory_id}/schedule",
        {"schedule_session": str(session_id), **values},
    )


def test_planning_moving_and_cancelling_send_invites_that_parse(
    inbox: Inbox,  # noqa: F811
    make_client: type[Client],
    cast: Cast,
    db: Session,
) -> None:
    trajectory, sessions = start(db, cast.professional)
    reflection = sessions["reflection"]
    coach = make_client().login_as(cast.coach)

    response = plan(
        coach, trajectory.id or 0, reflection.id or 0, schedule_date=DAY, schedule_time=AT
    )

    assert response.status_code == 303
    assert sorted(r[0] for r, _m in inbox.messages) == sorted(
        [cast.professional.email, cast.coach.email]
    )
    mail = next(m for r, m in inbox.messages if r == [cast.professional.email])
    assert mail["Subject"] == say("Your Dyade session is planned")
    assert "dinsdag 12 januari 2027 om 14:30" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    calendar = invite_of(mail)
    event = event_of(calendar)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == STARTS
    assert event.decoded("DTEND") == STARTS + timedelta(minutes=60)
    assert int(event["SEQUENCE"]) == 0
    uid = str(event["UID"])
    assert uid == f"dyade-session-{reflection.id}@127.0.0.1"
    attendees = {str(a).lower() for a in event["ATTENDEE"]}
    assert attendees == {f"mailto:{cast.professional.email}", f"mailto:{cast.coach.email}"}
    assert str(event["ORGANIZER"]).lower() == f"mailto:{cast.coach.email}"
    for _r, message in inbox.messages:
        whole = message.as_string()
        assert "Kiki" not in whole and "8-11" not in whole
    db.expire_all()
    stored = db.get(ReflectionSession, reflection.id)
    assert stored is not None and stored.scheduled_at == STARTS

    # Moved: the same UID with a higher SEQUENCE replaces the earlier invite.
    inbox.messages.clear()
    plan(coach, trajectory.id or 0, reflection.id or 0, schedule_date=DAY, schedule_time="16:00")
    moved = event_of(invite_of(inbox.messages[0][1]))
    assert str(moved["UID"]) == uid
    assert int(moved["SEQUENCE"]) == 1
    assert moved.decoded("DTSTART") == STARTS + timedelta(minutes=90)
    assert inbox.messages[0][1]["Subject"] in (
        say("New time for your Dyade session"),
        say("New time for your Dyade session", "en"),
    )

    # Cleared: METHOD:CANCEL for the same UID, SEQUENCE raised once more.
    inbox.messages.clear()
    cleared = plan(coach, trajectory.id or 0, reflection.id or 0, action="clear")
    assert cleared.status_code == 303
    assert len(inbox.messages) == 2
    cancel = invite_of(inbox.messages[0][1])
    assert str(cancel["METHOD"]) == "CANCEL"
    assert str(event_of(cancel)["UID"]) == uid
    assert int(event_of(cancel)["SEQUENCE"]) == 2
    assert str(event_of(cancel)["STATUS"]) == "CANCELLED"
    db.expire_all()
    stored = db.get(ReflectionSession, reflection.id)
    assert stored is not None and stored.scheduled_at is None


def test_the_form_explains_bad_input_and_keeps_it(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    trajectory, sessions = start(db, cast.professional)
    coach = make_client().login_as(cast.coach)
    interview = sessions["interview"]
    interview.status, interview.suggested_date = "open", datetime(2027, 1, 5).date()
    db.add(interview)
    db.commit()
    page = coach.get(f"/coach/trajectories/{trajectory.id}").text
    assert 'action="/coach/trajectories/' in page and "<legend>" in page
    # The session under way is chosen, with the programme's suggested date filled in.
    assert f'<option value="{interview.id}" selected>' in page
    assert 'type="date" value="2027-01-05"' in page

    past = plan(
        coach,
        trajectory.id or 0,
        sessions["interview"].id or 0,
        schedule_date="2020-01-01",
        schedule_time="10:00",
    )
    assert past.status_code == 422
    assert say("Choose a moment in the future.") in html.unescape(past.text)
    assert 'value="2020-01-01"' in past.text

    nonsense = plan(
        coach,
        trajectory.id or 0,
        sessions["interview"].id or 0,
        schedule_date="morgen",
        schedule_time="half drie",
    )
    assert nonsense.status_code == 422
    text = html.unescape(nonsense.text)
    assert say("Fill in a date like 2026-03-14.") in text
    assert say("Fill in a time like 14:30.") in text
    assert 'value="half drie"' in nonsense.text

    finished = sessions["intake"]
    finished.status = "completed"
    db.add(finished)
    db.commit()
    done = plan(coach, trajectory.id or 0, finished.id or 0, schedule_date=DAY, schedule_time=AT)
    assert done.status_code == 422


def test_only_the_assigned_coach_plans_and_other_trajectories_are_404(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    trajectory, sessions = start(db, cast.professional)
    other_trajectory, other_sessions = start(db, cast.outsider)
    values = {"schedule_date": DAY, "schedule_time": AT}
    other_coach = make_client().login_as(cast.other_coach)
    assert (
        plan(other_coach, trajectory.id or 0, sessions["interview"].id or 0, **values).status_code
        == 404
    )
    coach = make_client().login_as(cast.coach)
    assert (
        plan(
            coach, other_trajectory.id or 0, other_sessions["interview"].id or 0, **values
        ).status_code
        == 404
    )
    # A session of another trajectory under this trajectory's address: refused, not planned.
    mixed = plan(coach, trajectory.id or 0, other_sessions["interview"].id or 0, **values)
    assert mixed.status_code == 422
    db.expire_all()
    assert db.get(ReflectionSession, other_sessions["interview"].id).scheduled_at is None  # type: ignore[union-attr]


def test_home_pages_show_the_planned_sessions(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    trajectory, sessions = start(db, cast.professional)
    reflection = sessions["reflection"]
    reflection.scheduled_at = utcnow() + timedelta(days=2)
    db.add(reflection)
    past = sessions["interview"]
    past.scheduled_at = utcnow() - timedelta(days=2)
    db.add(past)
    db.commit()

    own = make_client().login_as(cast.professional).get("/home").text
    assert say("Planned sessions") in own
    assert f'href="/trajectories/{trajectory.id}"' in own
    assert own.count("<li>\n      <strong>") == 1  # the past appointment is not listed

    page = make_client().login_as(cast.professional).get(f"/trajectories/{trajectory.id}").text
    assert "Gepland met je coach:" in page

    coach = html.unescape(make_client().login_as(cast.coach).get("/home").text)
    assert f'href="/coach/trajectories/{trajectory.id}"' in coach and "Pim Prof" in coach
    assert say("Planned sessions") not in make_client().login_as(cast.other_coach).get("/home").text


def test_invites_follow_each_persons_choice(
    inbox: Inbox,  # noqa: F811
    make_client: type[Client],
    cast: Cast,
    db: Session,
) -> None:
    trajectory, sessions = start(db, cast.professional)
    db.add(
        ReminderPreference(
            organisation_id=cast.org.id or 0,
            user_id=cast.professional.id or 0,
            channels={"session_invite": "in_app", "session_upcoming": "in_app"},
        )
    )
    db.add(
        ReminderPreference(
            organisation_id=cast.org.id or 0,
            user_id=cast.coach.id or 0,
            channels={"session_invite": "off", "session_upcoming": "off"},
        )
    )
    db.commit()
    coach = make_client().login_as(cast.coach)

    plan(
        coach,
        trajectory.id or 0,
        sessions["interview"].id or 0,
        schedule_date=DAY,
        schedule_time=AT,
    )

    assert inbox.messages == []
    [note] = db.exec(select(Notification).where(Notification.user_id == cast.professional.id)).all()
    assert note.kind == "session_scheduled"
    # The day before, the professional is reminded in the app; the coach chose nothing.
    report = run_reminders(now=STARTS - timedelta(hours=12))
    assert (report.in_app, report.off, report.emailed) == (1, 1, 0)
