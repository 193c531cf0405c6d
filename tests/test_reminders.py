"""Reminders: each kind fires for its state only, once, as the person chose, without content.

Times are explicit (`run_reminders(now=...)`); December in Amsterdam is UTC+1.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from app import i18n
from app.config import get_settings
from app.db import get_engine
from app.deps import Actor
from app.models import (
    DiaryEntry,
    Feedback,
    Notification,
    OutboxMessage,
    ReflectionSession,
    Reminder,
    ReminderPreference,
    SessionStatus,
    Trajectory,
    User,
    utcnow,
)
from app.reflection.service import save_relationship, start_trajectory
from app.reminders.scheduler import ReminderScheduler, start_in_process_scheduler
from app.reminders.service import RunReport, run_reminders, unsubscribe_token
from tests.conftest import Cast, Client
from tests.test_auth import Inbox, free_port, use_smtp, write_mail

ROOT = Path(__file__).resolve().parent.parent
SECRET_NARRATIVE = "Kiki gooide vandaag een stoel om"
# 2 December 2026, 10:00 in Amsterdam.
NOON = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    use_smtp(monkeypatch, port)
    try:
        yield box
    finally:
        controller.stop()


def start(db: Session, user: User) -> tuple[Trajectory, dict[str, ReflectionSession]]:
    """A trajectory about "Kiki" with every session quiet (locked, no dates)."""
    actor = Actor.for_user(
        user, roles=frozenset({"professional"}), session_id=0, session_token_hash=""
    )
    relationship = save_relationship(
        db, actor=actor, values={"pseudonym": "Kiki", "sector": "education", "age_band": "8-11"}
    )
    trajectory = start_trajectory(db, actor=actor, relationship_id=relationship.id or 0)
    db.flush()
    sessions = {
        s.template_key: s
        for s in db.exec(
            select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory.id)
        ).all()
    }
    for s in sessions.values():
        s.status = SessionStatus.locked
        s.suggested_date = None
        db.add(s)
    db.commit()
    return trajectory, sessions


def update(db: Session, obj: object, **values: object) -> None:
    for name, value in values.items():
        setattr(obj, name, value)
    db.add(obj)
    db.commit()


def reminders(db: Session) -> set[tuple[str, int]]:
    db.expire_all()
    return {(r.kind, r.user_id) for r in db.exec(select(Reminder)).all()}


def subjects(box: Inbox) -> list[tuple[str, str]]:
    return [(rcpt[0], str(message["Subject"])) for rcpt, message in box.messages]


def say(message: str, locale: str = "nl", **values: object) -> str:
    with i18n.using_locale(locale):
        return i18n.gettext(message, **values)


def body_of(message: object, kind: str = "plain") -> str:
    part = message.get_body((kind,))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


def prefer(db: Session, user: User, **values: object) -> None:
    preference = ReminderPreference(
        organisation_id=user.organisation_id, user_id=user.id or 0, **values
    )
    db.add(preference)
    db.commit()


# ---------------------------------------------------------------- each kind


def test_an_open_session_reminds_only_after_it_waited_untouched(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    _t, sessions = start(db, cast.professional)
    interview = sessions["interview"]
    update(db, interview, status=SessionStatus.open, suggested_date=date(2026, 12, 1))
    # Suggested for 1 December (local midnight = 30 November 23:00 UTC); idle after 3 days.
    assert run_reminders(now=datetime(2026, 12, 3, 9, 0, tzinfo=UTC)).emailed == 0
    assert inbox.messages == []

    report = run_reminders(now=datetime(2026, 12, 4, 9, 0, tzinfo=UTC))

    assert report.emailed == 1
    assert reminders(db) == {("session_idle", cast.professional.id)}
    [(recipients, message)] = inbox.messages
    assert recipients == [cast.professional.email]
    assert message["Subject"] == say("A session is waiting for you in Dyade")
    assert f"/sessions/{interview.id}" in body_of(message)

    # Started, then untouched again: a new state, so one new reminder after three more days.
    update(
        db,
        interview,
        status=SessionStatus.in_progress,
        last_activity_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
    )
    assert run_reminders(now=datetime(2026, 12, 7, 9, 0, tzinfo=UTC)).emailed == 0
    assert run_reminders(now=datetime(2026, 12, 8, 13, 0, tzinfo=UTC)).emailed == 1
    assert len(inbox.messages) == 2
    # Finished: no session reminder any more (the diary's turn comes instead).
    update(db, interview, status=SessionStatus.completed, completed_at=NOON)
    assert run_reminders(now=datetime(2026, 12, 30, 9, 0, tzinfo=UTC)).kinds == {"diary_idle": 1}


def test_a_scheduled_session_reminds_both_people_the_day_before(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    trajectory, sessions = start(db, cast.professional)
    starts = datetime(2026, 12, 10, 13, 0, tzinfo=UTC)
    update(db, sessions["interview"], scheduled_at=starts, scheduled_by_id=cast.coach.id)

    assert run_reminders(now=starts - timedelta(hours=30)).emailed == 0
    report = run_reminders(now=starts - timedelta(hours=20))

    assert report.emailed == 2
    assert sorted(r for r, _s in subjects(inbox)) == sorted(
        [cast.professional.email, cast.coach.email]
    )
    when = say("You have a Dyade session planned on %(when)s.", when="")
    assert all(when.rstrip(".") in body_of(m) for _r, m in inbox.messages)
    coach_mail = next(m for r, m in inbox.messages if r == [cast.coach.email])
    assert f"/coach/trajectories/{trajectory.id}" in body_of(coach_mail)
    # After the start nothing is sent, also not by a job that ran late.
    update(db, sessions["interview"], scheduled_at=starts + timedelta(days=1))
    assert run_reminders(now=starts + timedelta(days=1, hours=2)).emailed == 0


def test_the_diary_reminds_after_a_week_without_entries_between_sessions(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    trajectory, sessions = start(db, cast.professional)
    done = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # Before any session is finished the diary is not "between sessions".
    assert run_reminders(now=done + timedelta(days=9)).emailed == 0
    update(db, sessions["intake"], status=SessionStatus.completed, completed_at=done)
    entry = DiaryEntry(
        organisation_id=cast.org.id or 0,
        trajectory_id=trajectory.id or 0,
        occurred_on=date(2026, 12, 6),
        phase="baseline",
        instrument_version=1,
        values={"valence": 1},
        created_at=done + timedelta(days=5),
    )
    db.add(entry)
    db.commit()
    # A week after the session, but only two days after the last entry.
    assert run_reminders(now=done + timedelta(days=8)).emailed == 0

    report = run_reminders(now=done + timedelta(days=12, hours=1))

    assert report.kinds == {"diary_idle": 1}
    [(_r, message)] = inbox.messages
    assert message["Subject"] == say("Your diary in Dyade")
    assert f"/trajectories/{trajectory.id}/diary" in body_of(message)


def test_a_post_measurement_reminds_once_it_is_due(inbox: Inbox, cast: Cast, db: Session) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["post"], status=SessionStatus.open, suggested_date=date(2026, 12, 20))

    assert run_reminders(now=datetime(2026, 12, 19, 9, 0, tzinfo=UTC)).emailed == 0
    report = run_reminders(now=datetime(2026, 12, 20, 9, 0, tzinfo=UTC))

    assert report.kinds == {"measurement_due": 1}
    assert inbox.messages[0][1]["Subject"] == say("Time for the questionnaires in Dyade")
    # Started: it is no longer "due", and an idle reminder would be about another state.
    started = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)
    update(db, sessions["post"], status=SessionStatus.in_progress, last_activity_at=started)
    assert run_reminders(now=datetime(2026, 12, 21, 9, 0, tzinfo=UTC)).emailed == 0


def test_new_feedback_is_mailed_once_and_a_read_one_is_never_reminded(
    inbox: Inbox, make_client: type[Client], cast: Cast, db: Session
) -> None:
    trajectory, _sessions = start(db, cast.professional)
    coach = make_client().login_as(cast.coach)
    url = f"/coach/trajectories/{trajectory.id}/feedback"

    assert coach.post_form(url, {"feedback": SECRET_NARRATIVE}).status_code == 303

    [(recipients, message)] = inbox.messages
    assert recipients == [cast.professional.email]
    assert SECRET_NARRATIVE not in body_of(message)
    # The job knows it went out already.
    assert run_reminders().already_sent == 1
    assert len(inbox.messages) == 1

    # In quiet hours nothing goes out at once; the job sends it afterwards, if still unread.
    # (Quiet hours around the present hour: the feedback is given at the real time, and
    # 00:00–23:00 let it through between 23:00 and midnight in Amsterdam.)
    hour = datetime.now(UTC).astimezone(i18n.local_zone()).hour
    prefer(db, cast.professional, quiet_start=hour, quiet_end=(hour + 2) % 24)
    coach.post_form(url, {"feedback": "Nog iets"})
    coach.post_form(url, {"feedback": "En dit"})
    assert len(inbox.messages) == 1
    first, second = db.exec(
        select(Feedback).where(Feedback.text.in_(["Nog iets", "En dit"]))  # type: ignore[attr-defined]
    ).all()
    update(db, first, read_at=NOON)  # read in the app before the quiet hours ended
    preference = db.exec(select(ReminderPreference)).one()
    update(db, preference, quiet_start=None, quiet_end=None)

    report = run_reminders()

    assert report.emailed == 1
    db.expire_all()
    keys = {r.state_key for r in db.exec(select(Reminder)).all()}
    assert f"f{second.id}" in keys and f"f{first.id}" not in keys


def test_a_state_that_resolves_between_looking_and_sending_cancels_the_reminder(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    from app.reminders.service import _claim_and_send, find_due

    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    [item] = find_due(db, now=NOON)
    # The professional starts the session while the job is on its way to this reminder.
    update(db, sessions["interview"], status=SessionStatus.in_progress, last_activity_at=NOON)

    outcome = _claim_and_send(get_engine(), item, cast.professional, "email", NOON, daily_limit=3)

    assert outcome == "cancelled"
    assert reminders(db) == set()
    assert inbox.messages == []
    assert db.exec(select(OutboxMessage)).all() == []


def test_nothing_fires_when_nothing_is_due(inbox: Inbox, cast: Cast, db: Session) -> None:
    start(db, cast.professional)
    report = run_reminders(now=NOON + timedelta(days=400))
    assert report == RunReport()
    assert inbox.messages == []


# ---------------------------------------------------------------- once, and only once


def _many_due_states(db: Session, cast: Cast) -> int:
    """Due reminders for three professionals: an idle session and a coming appointment each,
    and the appointment also for the one professional who has a coach."""
    people = [cast.professional, cast.unassigned_professional, cast.multi]
    for person in people:
        _t, sessions = start(db, person)
        update(
            db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1)
        )
        update(db, sessions["reflection"], scheduled_at=NOON + timedelta(hours=5))
    return 2 * len(people) + 1


def test_running_the_job_again_or_late_sends_nothing_twice(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    due = _many_due_states(db, cast)

    first = run_reminders(now=NOON)
    again = run_reminders(now=NOON)
    late = run_reminders(now=NOON + timedelta(hours=3))

    assert first.emailed == due
    assert again.emailed == late.emailed == 0
    assert again.already_sent == due
    assert len(inbox.messages) == due


def test_concurrent_runs_send_each_due_reminder_exactly_once(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    due = _many_due_states(db, cast)
    barrier = threading.Barrier(4)
    reports: list[RunReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            reports.append(run_reminders(now=NOON))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(r.emailed for r in reports) == due
    assert sum(r.failed for r in reports) == 0
    # Every worker tried every reminder; the database let exactly one through each time.
    assert sum(r.emailed + r.already_sent + r.cancelled for r in reports) == 4 * due
    assert len(inbox.messages) == due
    sent = [(r[0], str(m["Subject"])) for r, m in inbox.messages]
    assert len(set(sent)) == due  # nobody got the same reminder twice
    db.expire_all()
    assert len(db.exec(select(Reminder)).all()) == due


def test_concurrent_runs_keep_to_the_daily_limit(inbox: Inbox, cast: Cast, db: Session) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    update(db, sessions["post"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    update(db, sessions["reflection"], scheduled_at=NOON + timedelta(hours=5))
    prefer(db, cast.professional, daily_limit=1, channels={"session_upcoming": "off"})
    prefer(db, cast.coach, channels={"session_upcoming": "off"})
    barrier = threading.Barrier(3)

    def worker() -> None:
        barrier.wait()
        run_reminders(now=NOON)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(inbox.messages) == 1  # two reminders due, one allowed a day


def test_two_processes_running_the_command_send_each_reminder_once(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    due = _many_due_states(db, cast)
    settings = get_settings()
    env = {
        **os.environ,
        "DYADE_DATABASE_URL": settings.effective_database_url,
        "DYADE_SMTP_HOST": "127.0.0.1",
        "DYADE_SMTP_PORT": str(settings.smtp_port),
        "DYADE_SMTP_STARTTLS": "false",
    }
    command = [sys.executable, "-m", "app", "reminders", "run", "--now", NOON.isoformat()]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0]
    assert all(out.startswith("reminders:") for out in outputs)
    assert len(inbox.messages) == due
    assert len({(r[0], str(m["Subject"])) for r, m in inbox.messages}) == due


# ---------------------------------------------------------------- personal choices


def test_unsubscribing_with_the_link_stops_everything_without_logging_in(
    inbox: Inbox, make_client: type[Client], cast: Cast, db: Session
) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    run_reminders(now=NOON)
    [(_r, message)] = inbox.messages
    link = f"/unsubscribe/{unsubscribe_token(cast.professional.id or 0)}"
    assert link in body_of(message) and link in body_of(message, "html")
    assert link in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    visitor = make_client()
    page = visitor.get(link)
    assert page.status_code == 200
    assert db.exec(select(ReminderPreference)).first() is None  # opening the link asks only
    # One click, as a mail program does it (RFC 8058): a POST without cookies or form token.
    assert make_client().post(link).status_code == 200
    forged = make_client().post(f"/unsubscribe/{cast.professional.id}.{'0' * 64}")
    assert forged.status_code == 404

    # New states, later: nothing at all, by email or in the app.
    update(db, sessions["post"], status=SessionStatus.open, suggested_date=date(2026, 12, 1))
    update(db, sessions["reflection"], scheduled_at=NOON + timedelta(days=10, hours=5))
    report = run_reminders(now=NOON + timedelta(days=10))
    assert report.in_app == 0
    assert report.kinds == {"session_upcoming": 1}  # for the coach, who did not unsubscribe
    assert [r for r, _m in inbox.messages].count([cast.professional.email]) == 1
    account = make_client().login_as(cast.professional).get("/account")
    notice = "You stopped all reminders with the link in an email. Choose below what you want"
    assert say(notice + " to get again.") in html.unescape(account.text)


def test_other_emails_from_the_coach_follow_the_choice_too(cast: Cast, db: Session) -> None:
    from app.notify import notify

    notify(
        db,
        organisation_id=cast.org.id or 0,
        user_id=cast.professional.id or 0,
        kind="profile_released",
        link="/x",
        email=True,
    )
    db.commit()
    assert len(db.exec(select(OutboxMessage)).all()) == 1
    prefer(db, cast.professional, unsubscribed_at=NOON, channels={"feedback": "off"})
    notify(
        db,
        organisation_id=cast.org.id or 0,
        user_id=cast.professional.id or 0,
        kind="profile_released",
        link="/x",
        email=True,
    )
    db.commit()
    assert len(db.exec(select(OutboxMessage)).all()) == 1  # only the in-app message
    assert len(db.exec(select(Notification)).all()) == 2


def test_quiet_hours_hold_reminders_back_until_they_end(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    prefer(db, cast.professional, quiet_start=22, quiet_end=7)

    late_evening = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)  # 23:30 in Amsterdam
    early_morning = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # 06:00
    assert run_reminders(now=late_evening).deferred == 1
    assert run_reminders(now=early_morning).deferred == 1
    assert inbox.messages == []

    assert run_reminders(now=datetime(2026, 12, 3, 6, 30, tzinfo=UTC)).emailed == 1  # 07:30


def test_the_daily_limit_spreads_reminders_over_days(inbox: Inbox, cast: Cast, db: Session) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    update(db, sessions["post"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    prefer(db, cast.professional, daily_limit=1)

    assert run_reminders(now=NOON).emailed == 1
    assert run_reminders(now=NOON + timedelta(hours=5)).emailed == 0
    assert run_reminders(now=NOON + timedelta(days=1, hours=1)).emailed == 1
    assert len(inbox.messages) == 2


def test_in_app_only_and_off_are_respected_per_kind(inbox: Inbox, cast: Cast, db: Session) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    update(db, sessions["post"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    prefer(db, cast.professional, channels={"session_idle": "in_app", "measurement_due": "off"})

    report = run_reminders(now=NOON)

    assert (report.emailed, report.in_app, report.off) == (0, 1, 1)
    assert inbox.messages == []
    [note] = db.exec(select(Notification).where(Notification.user_id == cast.professional.id)).all()
    assert note.kind == "reminder_session_idle"
    assert note.link == f"/sessions/{sessions['interview'].id}"


def test_emails_are_in_the_persons_language_and_say_nothing_about_the_child(
    inbox: Inbox, cast: Cast, db: Session
) -> None:
    for person in (cast.professional, cast.unassigned_professional):  # nl and en
        _trajectory, sessions = start(db, person)
        update(
            db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1)
        )
        update(
            db,
            sessions["intake"],
            status=SessionStatus.completed,
            completed_at=NOON - timedelta(days=20),
        )

    run_reminders(now=NOON)

    by_person: dict[str, list[str]] = {}
    for (recipient, *_rest), message in inbox.messages:
        by_person.setdefault(recipient, []).append(str(message["Subject"]))
        for text in (body_of(message), body_of(message, "html"), str(message["Subject"])):
            assert "Kiki" not in text and SECRET_NARRATIVE not in text
            assert "8-11" not in text
    assert sorted(by_person[cast.professional.email]) == sorted(
        [say("A session is waiting for you in Dyade"), say("Your diary in Dyade")]
    )
    assert sorted(by_person[cast.unassigned_professional.email]) == sorted(
        ["A session is waiting for you in Dyade", "Your diary in Dyade"]
    )
    assert say("A session is waiting for you in Dyade") != "A session is waiting for you in Dyade"


def test_the_settings_form_saves_choices_and_explains_mistakes(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    client = make_client().login_as(cast.professional)
    page = client.get("/account")
    assert page.text.count('id="reminders"') == 1 and "<legend>" in page.text
    assert "<title>Mijn account · Dyade</title>" in page.text

    bad = client.post_form(
        "/account/reminders",
        {"channel-session_idle": "in_app", "daily_limit": "2", "quiet_start": "22"},
    )
    assert bad.status_code == 422
    text = html.unescape(bad.text)
    assert say("Choose how you want to hear about this.") in text
    assert say("Choose both when your quiet hours begin and when they end, or neither.") in text
    assert 'value="in_app" checked' in bad.text  # what was chosen stays chosen

    values = {
        f"channel-{kind}": "email"
        for kind in (
            "session_upcoming",
            "session_invite",
            "measurement_due",
            "diary_idle",
            "feedback",
        )
    }
    values |= {
        "channel-session_idle": "off",
        "daily_limit": "5",
        "quiet_start": "21",
        "quiet_end": "8",
    }
    assert client.post_form("/account/reminders", values).status_code == 303
    preference = db.exec(select(ReminderPreference)).one()
    assert preference.channels["session_idle"] == "off"
    assert (preference.daily_limit, preference.quiet_start, preference.quiet_end) == (5, 21, 8)

    coach_page = make_client().login_as(cast.coach).get("/account").text
    assert 'name="channel-session_upcoming"' in coach_page
    assert 'name="channel-diary_idle"' not in coach_page  # not a coach's concern


def test_an_admin_changes_the_organisations_intervals(
    inbox: Inbox, make_client: type[Client], cast: Cast, db: Session
) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 25))
    admin = make_client().login_as(cast.admin)
    form = admin.get("/admin/reminders")
    assert 'name="session_idle_days" type="number" value="3"' in form.text

    values = {
        "session_idle_days": "10",
        "upcoming_hours_before": "24",
        "diary_idle_days": "7",
        "feedback_delay_hours": "0",
        "measurement_due_days_after": "0",
        "session_minutes": "60",
    }
    wrong = admin.post_form("/admin/reminders", {**values, "session_idle_days": "0"})
    assert wrong.status_code == 422
    assert 'value="0"' in wrong.text
    assert admin.post_form("/admin/reminders", values).status_code == 303

    # Waiting since 25 November: 7 days is enough for the default 3, not for this org's 10.
    assert run_reminders(now=NOON).emailed == 0
    assert run_reminders(now=NOON + timedelta(days=4)).emailed == 1
    # Another organisation keeps the programme's defaults.
    _t2, other = start(db, cast.outsider)
    update(db, other["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 25))
    assert run_reminders(now=NOON).emailed == 1


def test_the_outbox_keeps_reminders_when_no_mail_server_is_set(cast: Cast, db: Session) -> None:
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    assert run_reminders(now=NOON).emailed == 1
    [record] = db.exec(select(OutboxMessage)).all()
    assert record.sent_at is None and record.to_address == cast.professional.email
    assert record.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


# ---------------------------------------------------------------- running the job


def test_the_in_process_scheduler_is_off_in_tests_and_runs_the_job_when_started(
    cast: Cast, db: Session
) -> None:
    assert start_in_process_scheduler() is None
    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2020, 1, 1))
    scheduler = ReminderScheduler(interval_seconds=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not reminders(db):
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert reminders(db) == {("session_idle", cast.professional.id)}


def test_the_command_prints_what_it_did(
    capsys: pytest.CaptureFixture[str], cast: Cast, db: Session
) -> None:
    from app.cli import main

    _t, sessions = start(db, cast.professional)
    update(db, sessions["interview"], status=SessionStatus.open, suggested_date=date(2026, 11, 1))
    assert main(["reminders", "run", "--now", "2026-12-02T09:00"]) == 0
    assert "1 emailed" in capsys.readouterr().out
    assert main(["reminders", "run", "--now", "not a date"]) == 2
    with Session(get_engine()) as fresh:
        assert len(fresh.exec(select(Reminder)).all()) == 1


def _stranded_mail(cast: Cast) -> int:
    """A message written, committed and never sent, its writer's lease over."""
    message_id = write_mail("nina@anker.example", cast, deliver=False)
    with Session(get_engine()) as session:
        record = session.get(OutboxMessage, message_id)
        assert record is not None
        record.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()
    return message_id


def test_the_command_also_sends_mail_that_was_not_delivered(
    inbox: Inbox, capsys: pytest.CaptureFixture[str], cast: Cast
) -> None:
    from app.cli import main

    _stranded_mail(cast)

    assert main(["reminders", "run"]) == 0
    assert "Mail retried: 1 sent, 0 failed again." in capsys.readouterr().out
    assert [recipients for recipients, _ in inbox.messages] == [["nina@anker.example"]]


def test_the_in_process_scheduler_also_sends_mail_that_was_not_delivered(
    inbox: Inbox, cast: Cast
) -> None:
    message_id = _stranded_mail(cast)
    scheduler = ReminderScheduler(interval_seconds=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not inbox.messages:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert [recipients for recipients, _ in inbox.messages] == [["nina@anker.example"]]
    with Session(get_engine()) as fresh:
        record = fresh.get(OutboxMessage, message_id)
        assert record is not None and record.sent_at is not None
