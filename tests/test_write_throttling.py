"""Bookkeeping times are written at most once a minute, without weakening what they guard.

A login session's last-seen time (the idle timeout) and a session's and trajectory's last
activity (the caseload) used to be written on every request or autosave: extra UPDATEs on
the hot path, and on SQLite extra time holding the write lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.config import get_settings
from app.models import ReflectionSession, Trajectory, UserSession, utcnow
from app.security import token_digest
from tests.conftest import Cast, Client
from tests.test_reflection import do_intake, start


def _fresh(db: Session) -> Session:
    db.commit()
    db.expire_all()
    return db


def _last_seen(db: Session, token: str) -> datetime:
    row = (
        _fresh(db)
        .exec(select(UserSession).where(UserSession.token_hash == token_digest(token)))
        .one()
    )
    return row.last_seen_at


def _set_last_seen(db: Session, token: str, moment: datetime) -> None:
    db.execute(
        update(UserSession)
        .where(col(UserSession.token_hash) == token_digest(token))
        .values(last_seen_at=moment)
    )
    db.commit()


def test_last_seen_is_written_at_most_once_a_minute(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    assert client.session_token
    recent = utcnow() - timedelta(seconds=20)
    _set_last_seen(db, client.session_token, recent)

    assert client.get("/relationships").status_code == 200
    assert _last_seen(db, client.session_token) == recent  # within the minute: not rewritten

    a_while_ago = utcnow() - timedelta(minutes=5)
    _set_last_seen(db, client.session_token, a_while_ago)
    before = utcnow()
    assert client.get("/relationships").status_code == 200
    assert _last_seen(db, client.session_token) >= before  # older than a minute: moved on


def test_activity_keeps_a_session_alive_past_the_idle_timeout(
    client: Client, cast: Cast, db: Session
) -> None:
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    client.login_as(cast.professional)
    assert client.session_token
    # Seen just before the timeout: this request is accepted and counts as activity…
    _set_last_seen(db, client.session_token, utcnow() - idle + timedelta(minutes=1))
    assert client.get("/relationships", follow_redirects=False).status_code == 200
    # …so the login is still valid a whole idle period after the old last-seen time.
    assert _last_seen(db, client.session_token) > utcnow() - timedelta(minutes=1)


def test_a_session_idle_too_long_is_refused_at_once(
    client: Client, cast: Cast, db: Session
) -> None:
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    client.login_as(cast.professional)
    assert client.session_token
    assert client.get("/relationships").status_code == 200
    # The last write was less than a minute ago; the throttle must not hide an expiry.
    _set_last_seen(db, client.session_token, utcnow() - idle - timedelta(seconds=1))

    response = client.get("/relationships", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_autosave_moves_last_activity_at_most_once_a_minute(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    interview_id = sessions["interview"].id
    url = f"/sessions/{interview_id}/steps/connected/draft"
    assert client.post_form(url, {"text": "Eerste", "version": "0"}).status_code == 200

    def activity() -> tuple[datetime | None, datetime]:
        fresh = _fresh(db)
        reflection_session = fresh.get(ReflectionSession, interview_id)
        refreshed = fresh.get(Trajectory, trajectory.id)
        assert reflection_session is not None and refreshed is not None
        return reflection_session.last_activity_at, refreshed.last_activity_at

    first = activity()
    assert first[0] is not None
    assert client.post_form(url, {"text": "Tweede", "version": "1"}).status_code == 200
    assert activity() == first  # a save seconds later leaves the times alone

    earlier = utcnow() - timedelta(minutes=10)
    db.execute(
        update(ReflectionSession)
        .where(col(ReflectionSession.id) == interview_id)
        .values(last_activity_at=earlier)
    )
    db.execute(
        update(Trajectory)
        .where(col(Trajectory.id) == trajectory.id)
        .values(last_activity_at=earlier)
    )
    db.commit()
    before = utcnow()
    assert client.post_form(url, {"text": "Derde", "version": "2"}).status_code == 200
    session_activity, trajectory_activity = activity()
    assert session_activity is not None and session_activity >= before
    assert trajectory_activity >= before
    # The resume position is still written on every save.
    resumed = _fresh(db).get(ReflectionSession, interview_id)
    assert resumed is not None and resumed.current_step == "connected"
