"""Demo data goes only into an empty database; running again keeps everything."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import (
    CoachAssignment,
    DiaryEntry,
    Organisation,
    ReflectionSession,
    Role,
    Trajectory,
    User,
    UserRole,
)
from app.seed import DEMO, database_is_empty, seed_demo
from tests.conftest import Client


def test_demo_has_two_organisations_with_every_role(db: Session) -> None:
    assert database_is_empty(db)
    logins = seed_demo(db)
    db.commit()
    assert len(logins) == 22
    professionals = {"de-regenboog": 8, "jeugdzorg-de-brug": 6}
    for org in db.exec(select(Organisation)).all():
        roles = db.exec(
            select(UserRole.role, func.count())
            .where(UserRole.organisation_id == org.id)
            .group_by(UserRole.role)
        ).all()
        assert dict(roles) == {
            str(Role.admin): 1,
            str(Role.coach): 2,
            str(Role.professional): professionals[org.slug],
            str(Role.supervisor): 1,
        }
        assignments = db.exec(
            select(func.count()).where(CoachAssignment.organisation_id == org.id)
        ).one()
        assert assignments == professionals[org.slug]  # every professional has a coach


def test_seeding_is_only_for_an_empty_database(db: Session) -> None:
    seed_demo(db)
    db.commit()
    assert not database_is_empty(db)
    count = db.exec(select(func.count()).select_from(User)).one()
    assert count == sum(len(org.people) for org in DEMO)


def test_the_demo_coach_has_a_trajectory_well_on_its_way_and_a_stalled_one(
    db: Session, make_client: type[Client]
) -> None:
    seed_demo(db)
    db.commit()
    coach = _user(db, "coach1@regenboog.example")
    eva = _user(db, "leerkracht5@regenboog.example")
    client = make_client().login_as(coach)

    caseload = client.get("/coach")
    assert caseload.status_code == 200
    rows = {row.split("</td>")[0]: row for row in caseload.text.split("<tr")[1:]}
    thomas_row = next(row for name, row in rows.items() if "Thomas de Wit" in name)
    assert "Stilgevallen" in thomas_row
    eva_row = next(row for name, row in rows.items() if "Eva Janssen" in name)
    assert "4 van 6" in eva_row and "Stilgevallen" not in eva_row

    trajectory = db.exec(select(Trajectory).where(Trajectory.professional_id == eva.id)).one()
    page = client.get(f"/coach/trajectories/{trajectory.id}")
    assert page.status_code == 200
    assert "harder aangesproken dan ik wilde" in page.text  # the interview, and the quote
    assert "profiel vrijgegeven" in page.text
    assert "Wat een eerlijke antwoorden, Eva." in page.text
    # Intake and "after six weeks" compared: the charts mark reliable change.
    assert 'class="point point--improved"' in page.text

    # Each step is dated where it would have happened, from 70 days ago on.
    today = date.today()
    sessions = db.exec(
        select(ReflectionSession)
        .where(ReflectionSession.trajectory_id == trajectory.id)
        .order_by(col(ReflectionSession.position))
    ).all()
    done = [s.completed_at for s in sessions if s.completed_at is not None]
    assert [
        abs((today - moment.date()).days - days) <= 1
        for moment, days in zip(done, (70, 63, 56, 14), strict=True)
    ] == [True] * 4
    diary = db.exec(select(DiaryEntry).where(DiaryEntry.trajectory_id == trajectory.id)).all()
    assert len(diary) == 10
    assert all(today - timedelta(days=70) <= entry.occurred_on <= today for entry in diary)

    # Eva sees what her coach did: the profile and the feedback, both still unread.
    messages = make_client().login_as(eva).get("/notifications").text
    assert messages.count('class="is-unread"') == 2
    assert "Je coach heeft je geschreven." in messages
    assert "Je relatieprofiel staat klaar." in messages


def _user(db: Session, email: str) -> User:
    return db.exec(select(User).where(User.email == email)).one()
