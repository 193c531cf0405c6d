"""Demo data goes only into an empty database; running again keeps everything."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from app.models import CoachAssignment, Organisation, Role, User, UserRole
from app.seed import DEMO, database_is_empty, seed_demo


def test_demo_has_two_organisations_with_every_role(db: Session) -> None:
    assert database_is_empty(db)
    logins = seed_demo(db)
    db.commit()
    assert len(logins) == 20
    for org in db.exec(select(Organisation)).all():
        roles = db.exec(
            select(UserRole.role, func.count())
            .where(UserRole.organisation_id == org.id)
            .group_by(UserRole.role)
        ).all()
        assert dict(roles) == {
            str(Role.admin): 1,
            str(Role.coach): 2,
            str(Role.professional): 6,
            str(Role.supervisor): 1,
        }
        assignments = db.exec(
            select(func.count()).where(CoachAssignment.organisation_id == org.id)
        ).one()
        assert assignments == 6


def test_seeding_is_only_for_an_empty_database(db: Session) -> None:
    seed_demo(db)
    db.commit()
    assert not database_is_empty(db)
    count = db.exec(select(func.count()).select_from(User)).one()
    assert count == sum(len(org.people) for org in DEMO)
