"""Consent records: given at the intake, withdrawn and given again on the consent page."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, col, select

from app.db import make_engine
from app.models import AuditEvent, ConsentRecord, Trajectory, TrajectoryStatus
from tests.conftest import Cast, Client
from tests.test_migrations import _alembic
from tests.test_reflection import start


def _records(db: Session, trajectory_id: int) -> list[tuple[str, bool]]:
    db.expire_all()
    return [
        (r.purpose, r.given)
        for r in db.exec(
            select(ConsentRecord)
            .where(ConsentRecord.trajectory_id == trajectory_id)
            .order_by(col(ConsentRecord.id))
        ).all()
    ]


def _intake(client: Client, db: Session, *, research: bool) -> Trajectory:
    trajectory, sessions = start(client, db)
    data = {"consent_programme": "1", "action": "next"}
    if research:
        data["consent_research"] = "1"
    response = client.post_form(f"/sessions/{sessions['intake'].id}/steps/consent", data)
    assert response.status_code == 303
    db.expire_all()
    found = db.get(Trajectory, trajectory.id)
    assert found is not None
    return found


def test_the_intake_records_both_consents_with_the_wording_version(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory = _intake(client, db, research=True)
    assert trajectory.consent_at is not None and trajectory.research_consent
    assert _records(db, trajectory.id or 0) == [("programme", True), ("research", True)]
    record = db.exec(select(ConsentRecord)).first()
    assert record is not None and record.wording_version == 1
    assert record.user_id == cast.professional.id
    page = client.get("/account/consent").text
    assert "Kiki" in page and "formuleringsversie 1" in page


def test_research_consent_is_withdrawn_and_given_again(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory = _intake(client, db, research=True)
    url = f"/trajectories/{trajectory.id}/consent"
    response = client.post_form(url, {"purpose": "research", "choice": "withdraw"})
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Trajectory, trajectory.id).research_consent is False  # type: ignore[union-attr]
    assert "niet meer gebruikt voor onderzoek" in client.get("/account/consent").text
    # Withdrawing twice changes nothing and says so.
    client.post_form(url, {"purpose": "research", "choice": "withdraw"})
    assert "al ingetrokken" in client.get("/account/consent").text
    client.post_form(url, {"purpose": "research", "choice": "give"})
    db.expire_all()
    assert db.get(Trajectory, trajectory.id).research_consent is True  # type: ignore[union-attr]
    assert _records(db, trajectory.id or 0) == [
        ("programme", True),
        ("research", True),
        ("research", False),
        ("research", True),
    ]
    actions = db.exec(
        select(AuditEvent.action).where(AuditEvent.subject_user_id == cast.professional.id)
    ).all()
    assert actions.count("consent.withdraw") == 1 and actions.count("consent.give") == 1


def test_withdrawing_programme_consent_stops_the_trajectory(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory = _intake(client, db, research=False)
    coach = make_client().login_as(cast.coach)
    assert coach.get(f"/coach/trajectories/{trajectory.id}").status_code == 200
    running = client.get(f"/trajectories/{trajectory.id}").text
    assert 'class="button" href="/sessions/' in running and "/diary/new" in running
    url = f"/trajectories/{trajectory.id}/consent"

    unconfirmed = client.post_form(url, {"purpose": "programme", "choice": "withdraw"})
    assert unconfirmed.status_code == 422
    assert f'href="#field-confirm-{trajectory.id}"' in unconfirmed.text
    db.expire_all()
    assert db.get(Trajectory, trajectory.id).status == TrajectoryStatus.active  # type: ignore[union-attr]

    response = client.post_form(url, {"purpose": "programme", "choice": "withdraw", "confirm": "1"})
    assert response.status_code == 303
    db.expire_all()
    stopped = db.get(Trajectory, trajectory.id)
    assert stopped is not None
    assert stopped.status == TrajectoryStatus.stopped and stopped.consent_at is None
    # The coach can no longer read it, nor is it on the caseload.
    assert coach.get(f"/coach/trajectories/{trajectory.id}").status_code == 404
    assert coach.get(f"/trajectories/{trajectory.id}").status_code == 404
    assert "Kiki" not in coach.get("/coach").text
    # The professional still reads it but cannot go on with it.
    assert client.get(f"/trajectories/{trajectory.id}").status_code == 200
    overview = client.get(f"/trajectories/{trajectory.id}").text
    assert "Gestopt" in overview and 'href="/account/consent"' in overview
    assert "/diary/new" not in overview
    assert 'class="button" href="/sessions/' not in overview
    diary = client.post_form(f"/trajectories/{trajectory.id}/diary", {"item-valence": "1"})
    assert diary.status_code == 409

    again = client.post_form(url, {"purpose": "programme", "choice": "give"})
    assert again.status_code == 303
    db.expire_all()
    resumed = db.get(Trajectory, trajectory.id)
    assert resumed is not None
    assert resumed.status == TrajectoryStatus.active and resumed.consent_at is not None
    assert coach.get(f"/coach/trajectories/{trajectory.id}").status_code == 200
    assert _records(db, trajectory.id or 0) == [
        ("programme", True),
        ("programme", False),
        ("programme", True),
    ]


def test_bad_consent_input_gets_a_clear_answer(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory = _intake(client, db, research=False)
    url = f"/trajectories/{trajectory.id}/consent"
    assert client.post_form(url, {"purpose": "marketing", "choice": "give"}).status_code == 422
    give = client.post_form(url, {"purpose": "programme", "choice": "give"})
    assert give.status_code == 303
    assert "doet al mee" in client.get("/account/consent").text
    other = make_client().login_as(cast.unassigned_professional)
    assert other.post_form(url, {"purpose": "research", "choice": "give"}).status_code == 404
    assert _records(db, trajectory.id or 0) == [("programme", True)]


def test_the_migration_turns_existing_consents_into_records(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _alembic(engine, "upgrade", "0004")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisation (id, name, slug, default_locale, created_at)"
                " VALUES (1, 'O', 'o', 'nl', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO app_user (id, organisation_id, email, display_name, locale,"
                " is_active, created_at) VALUES (1, 1, 'a@o.example', 'A', 'nl', 1, '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO focus_relationship (id, organisation_id, professional_id, pseudonym,"
                " sector, setting, age_band, is_contrast, created_at, updated_at)"
                " VALUES (1, 1, 1, 'K', 'education', '', '8-11', 0, '2026-01-01', '2026-01-01')"
            )
        )
        for tid, consent_at, research in (
            (1, "'2026-02-01 10:00:00'", 1),
            (2, "NULL", 0),
            (3, "'2026-03-01 10:00:00'", 0),
        ):
            connection.execute(
                text(
                    "INSERT INTO trajectory (id, organisation_id, professional_id,"  # noqa: S608 - constants
                    " focus_relationship_id, programme_key, programme_version, status,"
                    " consent_at, research_consent, created_at, last_activity_at, coach_summary)"
                    f" VALUES ({tid}, 1, 1, 1, 'llinc', 1, 'active', {consent_at}, {research},"
                    " '2026-01-01', '2026-01-01', '')"
                )
            )
    _alembic(engine, "upgrade", "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT trajectory_id, purpose, given, wording_version, recorded_at"
                " FROM consent_record ORDER BY trajectory_id, purpose"
            )
        ).all()
    engine.dispose()
    assert [(r[0], r[1], bool(r[2]), r[3]) for r in rows] == [
        (1, "programme", True, 1),
        (1, "research", True, 1),
        (3, "programme", True, 1),
    ]
    assert str(rows[0][4]).startswith("2026-02-01 10:00:00")
