"""Erasure of a person by an admin: two steps, a typed confirmation, no trace of narratives."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, SQLModel, col, select

from app import audit
from app.db import get_engine
from app.models import (
    AuditEvent,
    CoachAssignment,
    Feedback,
    NarrativeAnswer,
    Trajectory,
    User,
    UserRole,
    UserSession,
)
from tests.conftest import Cast, Client
from tests.privacy_data import FEEDBACK, REASON, rich_trajectory
from tests.test_reflection import start
from tests.test_report import NARRATIVE, PSEUDONYM


def everything_stored() -> str:
    """Every value in every table, as one text to search."""
    parts = []
    with get_engine().connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")).all():  # noqa: S608 - our own table names
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_erasure_leaves_no_trace_of_the_persons_narratives(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    rich = rich_trajectory(make_client(), db, cast)
    tid = rich.trajectory.id
    professional = cast.professional
    # An admin read the programme for a reason that quotes the narrative.
    admin = client.login_as(cast.admin)
    url = f"/coach/trajectories/{tid}"
    assert admin.get(url, params={"reason": REASON}).status_code == 200
    # Somebody else's programme, which must stay as it is.
    other = make_client().login_as(cast.unassigned_professional)
    start(other, db)
    before = everything_stored()
    for value in (*rich.texts, PSEUDONYM, REASON, professional.email, professional.display_name):
        assert value in before
    audit_rows = db.exec(
        select(AuditEvent.id).where(AuditEvent.subject_user_id == professional.id)
    ).all()

    # Step 1: the page says what goes and asks for the email address.
    page = admin.get(f"/admin/users/{professional.id}/erase")
    assert page.status_code == 200
    assert professional.email in page.text and "1 relatie" in page.text
    # Step 2: a wrong confirmation is refused and what was typed stays.
    wrong = admin.post_form(f"/admin/users/{professional.id}/erase", {"confirmation": "pim"})
    assert wrong.status_code == 422
    assert 'value="pim"' in wrong.text and 'href="#field-confirmation"' in wrong.text
    db.expire_all()
    assert db.get(User, professional.id).erased_at is None  # type: ignore[union-attr]

    done = admin.post_form(
        f"/admin/users/{professional.id}/erase", {"confirmation": f" {professional.email.upper()} "}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/users/{professional.id}"
    assert "Gewist op" in admin.get(done.headers["location"]).text

    after = everything_stored()
    for value in (*rich.texts, PSEUDONYM, REASON, professional.email, professional.display_name):
        assert value not in after, f"{value!r} is still stored"
    db.expire_all()
    user = db.get(User, professional.id)
    assert user is not None
    assert not user.is_active and user.erased_at is not None and user.password_hash is None
    assert (
        db.exec(select(Trajectory).where(Trajectory.professional_id == professional.id)).all() == []
    )
    assert db.exec(select(UserSession).where(UserSession.user_id == professional.id)).all() == []
    assert db.exec(select(UserRole).where(UserRole.user_id == professional.id)).all() == []
    assert (
        db.exec(
            select(CoachAssignment).where(CoachAssignment.professional_id == professional.id)
        ).all()
        == []
    )
    # The audit rows about them stay (without the reason); the erasure is one minimal row.
    rows = db.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_user_id == professional.id)
        .order_by(col(AuditEvent.id))
    ).all()
    assert [r.id for r in rows][: len(audit_rows)] == list(audit_rows)
    (erasure,) = [r for r in rows if r.id not in audit_rows and r.action != "user.view"]
    assert (erasure.action, erasure.actor_id, erasure.detail) == ("person.erase", cast.admin.id, "")
    viewed = next(r for r in rows if r.action == "trajectory.view")
    assert viewed.detail == f"trajectory={tid}"
    assert (viewed.reason, viewed.relationship_pseudonym) == ("", "")
    assert viewed.redacted_at is not None
    # The blanked rows still verify: the chain covers them through their digest.
    assert audit.verify(db).ok
    # Others keep their data.
    assert db.exec(
        select(Trajectory).where(Trajectory.professional_id == cast.unassigned_professional.id)
    ).all()


def test_the_erased_person_is_logged_out_and_cannot_come_back(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    own = make_client().login_as(cast.professional)
    assert own.get("/relationships").status_code == 200
    client.login_as(cast.admin)
    response = client.post_form(
        f"/admin/users/{cast.professional.id}/erase", {"confirmation": cast.professional.email}
    )
    assert response.status_code == 303
    assert own.get("/relationships", follow_redirects=False).status_code == 303  # to the login
    login = make_client().post_form(
        "/login", {"email": cast.professional.email, "password": "een lange zin als wachtwoord"}
    )
    assert login.status_code != 303
    again = client.post_form(f"/admin/users/{cast.professional.id}/reactivate")
    assert again.status_code == 422 and "kan niet meer gebruikt" in again.text
    page = client.get(f"/admin/users/{cast.professional.id}/erase")
    assert "al gewist" in page.text and 'name="confirmation"' not in page.text
    twice = client.post_form(
        f"/admin/users/{cast.professional.id}/erase",
        {"confirmation": f"erased-{cast.professional.id}@erased.invalid"},
    )
    assert twice.status_code == 422
    # Their email address is free again for a new account.
    invite = client.post_form(
        "/admin/users",
        {
            "email": cast.professional.email,
            "display_name": "Pim Opnieuw",
            "locale": "nl",
            "roles": "professional",
        },
    )
    assert invite.status_code == 303


def test_a_coachs_erasure_keeps_what_they_wrote_about_others_anonymous(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    rich = rich_trajectory(make_client(), db, cast)
    tid, name, email = rich.trajectory.id, cast.coach.display_name, cast.coach.email
    client.login_as(cast.admin)
    response = client.post_form(f"/admin/users/{cast.coach.id}/erase", {"confirmation": email})
    assert response.status_code == 303
    db.expire_all()
    # The professional's programme is theirs and stays; the coach's name is gone from it.
    feedback = db.exec(select(Feedback).where(Feedback.trajectory_id == tid)).all()
    assert [f.text for f in feedback] == [FEEDBACK]
    assert db.exec(select(NarrativeAnswer).where(NarrativeAnswer.text == NARRATIVE)).all()
    stored = everything_stored()
    assert name not in stored and email not in stored


def test_an_admin_cannot_erase_themselves(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.admin)
    page = client.get(f"/admin/users/{cast.admin.id}/erase")
    assert page.status_code == 200 and "eigen account niet wissen" in page.text
    response = client.post_form(
        f"/admin/users/{cast.admin.id}/erase", {"confirmation": cast.admin.email}
    )
    assert response.status_code == 422
    db.expire_all()
    assert db.get(User, cast.admin.id).erased_at is None  # type: ignore[union-attr]
    assert (
        f'/admin/users/{cast.admin.id}/erase"'
        not in client.get(f"/admin/users/{cast.admin.id}").text
    )
    assert (
        f'/admin/users/{cast.professional.id}/erase"'
        in client.get(f"/admin/users/{cast.professional.id}").text
    )


def test_another_organisations_admin_cannot_erase(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.outsider_admin)
    response = client.post_form(
        f"/admin/users/{cast.professional.id}/erase", {"confirmation": cast.professional.email}
    )
    assert response.status_code == 404
    db.expire_all()
    assert db.get(User, cast.professional.id).erased_at is None  # type: ignore[union-attr]


def test_the_dashboards_totals_follow_erasure(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    from app.dashboards import summary
    from app.models import DashboardTotal
    from tests.test_dashboard_summary import totals

    rich_trajectory(make_client(), db, cast)
    start(make_client().login_as(cast.unassigned_professional), db)
    org = cast.org.id or 0
    before = totals(db, org)
    assert before[("participation", "all")][0] == 2  # two trajectories started
    client.login_as(cast.admin)
    confirmation = {"confirmation": cast.professional.email}
    assert (
        client.post_form(f"/admin/users/{cast.professional.id}/erase", confirmation).status_code
        == 303
    )
    after = totals(db, org)
    assert after[("participation", "all")][0] == 1  # only the other person's is left
    # What erasure kept up to date equals a recount from scratch.
    with Session(get_engine()) as session:
        summary.rebuild_totals(session, organisation_id=org)
        summary.recount_participation(session, organisation_id=org)
        session.commit()
    assert totals(db, org) == after
    assert db.exec(select(DashboardTotal)).all()
