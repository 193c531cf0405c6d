"""The audit trail: chained, append-only, verifiable, purged by retention, read by admins."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from app import audit
from app.cli import main
from app.db import get_engine
from app.deps import Actor
from app.models import AuditChain, AuditEvent, utcnow
from tests.conftest import Cast, Client, audit_guard_disabled
from tests.test_reflection import start


def actor_for(user, *roles: str) -> Actor:  # type: ignore[no-untyped-def]
    return Actor.for_user(user, roles=frozenset(roles), session_id=0, session_token_hash="")


def write(cast: Cast, count: int, *, action: str = "user.view", age_days: int = 0) -> None:
    """`count` events by the admin about the professional, each in its own transaction."""
    admin = actor_for(cast.admin, "admin")
    for _ in range(count):
        with Session(get_engine()) as session:
            entry = audit.record(
                session, actor=admin, action=action, subject_user_id=cast.professional.id
            )
            entry.created_at = utcnow() - timedelta(days=age_days)
            session.commit()


def events(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


def tamper(sql: str, **params: object) -> None:
    """Change the table behind the app's back, as someone with database access could."""
    with get_engine().begin() as connection, audit_guard_disabled(connection):
        connection.execute(text(sql), params)


# ---------------------------------------------------------------- the chain


def test_events_are_numbered_and_linked_and_the_chain_verifies(cast: Cast, db: Session) -> None:
    write(cast, 3)
    rows = events(db)
    assert [r.chain_seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == ""
    assert rows[1].prev_hash == rows[0].row_hash and rows[2].prev_hash == rows[1].row_hash
    assert all(len(r.row_hash) == 64 for r in rows)
    head = db.get(AuditChain, cast.org.id)
    assert head is not None and (head.last_seq, head.last_hash) == (3, rows[2].row_hash)
    result = audit.verify(db)
    assert result.ok and result.rows == 3


def test_each_organisation_has_its_own_chain(cast: Cast, db: Session) -> None:
    write(cast, 2)
    outsider = actor_for(cast.outsider_admin, "admin")
    with Session(get_engine()) as session:
        audit.record(session, actor=outsider, action="user.view")
        session.commit()
    seqs = {(r.organisation_id, r.chain_seq) for r in events(db)}
    assert seqs == {(cast.org.id, 1), (cast.org.id, 2), (cast.other_org.id, 1)}
    assert audit.verify(db).chains == 2


def test_a_rolled_back_request_writes_nothing(cast: Cast, db: Session) -> None:
    with Session(get_engine()) as session:
        audit.record(session, actor=actor_for(cast.admin, "admin"), action="user.view")
        session.rollback()
        session.commit()
    assert events(db) == []


def test_a_savepoint_rolled_back_keeps_the_requests_events(cast: Cast, db: Session) -> None:
    with Session(get_engine()) as session:
        audit.record(session, actor=actor_for(cast.admin, "admin"), action="user.view")
        savepoint = session.begin_nested()
        savepoint.rollback()
        session.commit()
    assert [r.action for r in events(db)] == ["user.view"]


def test_the_database_refuses_to_change_or_delete_audit_rows(cast: Cast, db: Session) -> None:
    write(cast, 2)
    for statement in (
        "UPDATE audit_event SET detail = 'rewritten'",
        "DELETE FROM audit_event WHERE chain_seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text(statement))
    assert [r.detail for r in events(db)] == ["", ""]


def test_erasure_may_only_blank_the_pseudonym_and_reason_and_the_chain_still_verifies(
    cast: Cast, db: Session
) -> None:
    admin = actor_for(cast.admin, "admin")
    with Session(get_engine()) as session:
        audit.record(
            session,
            actor=admin,
            action="trajectory.view",
            subject_user_id=cast.professional.id,
            reason="Vraag van de ouder over Kiki",
        )
        session.commit()
    # Changing the reason (not blanking it), or blanking while changing more, is refused.
    for statement in (
        "UPDATE audit_event SET reason = 'iets anders'",
        "UPDATE audit_event SET reason = '', relationship_pseudonym = '',"
        " redacted_at = CURRENT_TIMESTAMP, detail = 'x'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text(statement))
    # A reason rewritten behind the triggers' back shows in verify.
    (event,) = events(db)
    tamper("UPDATE audit_event SET reason = 'herschreven' WHERE id = :id", id=event.id)
    assert not audit.verify(db).ok
    tamper(
        "UPDATE audit_event SET reason = 'Vraag van de ouder over Kiki' WHERE id = :id", id=event.id
    )
    assert audit.verify(db).ok
    # Erasure's blanking is allowed, once, and the chain still verifies.
    with Session(get_engine()) as session:
        audit.redact_about(session, user_id=cast.professional.id)
        session.commit()
    (event,) = events(db)
    assert (event.reason, event.redacted_at is not None) == ("", True)
    assert audit.verify(db).ok


def test_the_chain_head_only_moves_forward(cast: Cast) -> None:
    write(cast, 3)
    for statement in (
        "UPDATE audit_chain SET last_seq = 1",
        "UPDATE audit_chain SET anchor_seq = 9",
        "DELETE FROM audit_chain",
    ):
        with pytest.raises(DBAPIError, match="forward"), get_engine().begin() as connection:
            connection.execute(text(statement))


def test_verify_finds_the_first_altered_row_and_the_command_fails(
    cast: Cast, db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cast, 4)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "4 row(s) checked: ok" in out
    assert f"organisation {cast.org.id}: last number 4, {events(db)[-1].row_hash}" in out
    second, third = events(db)[1:3]
    tamper("UPDATE audit_event SET detail = 'nothing to see' WHERE id = :id", id=second.id)
    tamper("UPDATE audit_event SET actor_id = NULL WHERE id = :id", id=third.id)
    result = audit.verify(db)
    assert not result.ok
    (problem,) = result.problems
    assert (problem.event_id, problem.chain_seq) == (second.id, 2)
    assert "changed" in problem.problem
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"row id {second.id}" in out and "BROKEN" in out


def test_verify_notices_a_row_removed_in_the_middle_or_at_the_end(cast: Cast, db: Session) -> None:
    write(cast, 4)
    rows = events(db)
    tamper("DELETE FROM audit_event WHERE id = :id", id=rows[3].id)
    (problem,) = audit.verify(db).problems
    assert "at the end" in problem.problem
    tamper("DELETE FROM audit_event WHERE id = :id", id=rows[1].id)
    (problem,) = audit.verify(db).problems
    assert problem.event_id == rows[2].id and "missing" in problem.problem


def test_a_recomputed_row_still_breaks_the_link_to_the_next_one(cast: Cast, db: Session) -> None:
    """Rewriting a row and its own hash is not enough: the next row holds the old hash."""
    from app.security import audit_digest

    write(cast, 3)
    first = events(db)[0]
    db.expunge(first)
    first.detail = "forged"
    forged = audit_digest(first.chained_fields())
    tamper(
        "UPDATE audit_event SET detail = 'forged', row_hash = :h WHERE id = :id",
        h=forged,
        id=first.id,
    )
    (problem,) = audit.verify(db).problems
    assert problem.chain_seq == 2 and "does not link" in problem.problem


def test_concurrent_writers_keep_one_unbroken_chain(cast: Cast, db: Session) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            write(cast, 8)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.chain_seq for r in events(db)) == list(range(1, 33))
    assert audit.verify(db).ok


# ---------------------------------------------------------------- retention


def test_purge_removes_only_old_events_and_the_chain_still_verifies(
    cast: Cast, db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cast, 3, age_days=6 * 366)
    write(cast, 2, action="trajectory.view")
    assert main(["audit", "purge"]) == 0  # the default retention: 5 years
    assert "removed 3 event(s)" in capsys.readouterr().out
    rows = events(db)
    assert [r.action for r in rows] == ["trajectory.view", "trajectory.view", "audit.purge"]
    assert [r.chain_seq for r in rows] == [4, 5, 6]
    head = db.get(AuditChain, cast.org.id)
    assert head is not None and head.anchor_seq == 3 and head.anchor_hash == rows[0].prev_hash
    assert audit.verify(db).ok
    # What the purge kept is as protected as before.
    with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE chain_seq = 4"))
    # Purging again finds nothing to remove.
    assert main(["audit", "purge"]) == 0
    assert "removed 0 event(s)" in capsys.readouterr().out


def test_purge_keeps_a_young_row_and_everything_after_it(cast: Cast, db: Session) -> None:
    """Only a prefix goes: an old row written after a young one stays, so no gap opens."""
    write(cast, 1, age_days=3000)
    write(cast, 1)
    write(cast, 1, age_days=3000)
    result = audit.purge(db, years=5)
    db.commit()
    assert result.removed == {cast.org.id: 1}
    assert [r.chain_seq for r in events(db)] == [2, 3, 4]
    assert audit.verify(db).ok


def test_the_retention_comes_from_the_settings(
    cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import get_settings

    write(cast, 1, age_days=400)
    monkeypatch.setattr(get_settings(), "audit_retention_years", 1)
    assert main(["audit", "purge"]) == 0
    assert [r.action for r in events(db)] == ["audit.purge"]
    assert main(["audit", "purge", "--years", "0"]) == 2


def test_the_cutoff_handles_leap_days() -> None:
    from datetime import UTC, datetime

    moment = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert audit.retention_cutoff(moment, 5) == datetime(2023, 2, 28, 12, tzinfo=UTC)


# ---------------------------------------------------------------- what is recorded


def test_a_coach_reading_a_trajectory_records_who_whose_what_and_from_where(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    client.login_as(cast.coach)
    assert client.get(f"/coach/trajectories/{trajectory.id}").status_code == 200
    row = db.exec(select(AuditEvent).where(AuditEvent.action == "trajectory.view")).one()
    assert row.organisation_id == cast.org.id
    assert (row.actor_id, row.actor_role) == (cast.coach.id, "coach")
    assert row.subject_user_id == cast.professional.id
    assert (row.relationship_id, row.relationship_pseudonym) == (
        trajectory.focus_relationship_id,
        "Kiki",
    )
    assert row.ip_address == "testclient"
    assert row.created_at.utcoffset() == timedelta(0)
    assert audit.verify(db).ok


def test_an_admin_reads_with_a_reason_and_a_coach_types_on_behalf_of_the_professional(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    admin = make_client().login_as(cast.admin)
    admin.get(f"/coach/trajectories/{trajectory.id}?reason=Klacht van de ouders")
    viewed = db.exec(select(AuditEvent).where(AuditEvent.actor_id == cast.admin.id)).one()
    assert (viewed.actor_role, viewed.reason) == ("admin", "Klacht van de ouders")
    interview = sessions["interview"]
    from app.models import ReflectionSession, SessionStatus

    row = db.get(ReflectionSession, interview.id)
    assert row is not None
    row.status = SessionStatus.open
    db.add(row)
    db.commit()
    client.login_as(cast.coach)
    response = client.post_form(
        f"/sessions/{interview.id}/steps/connected/draft",
        {"text": "Samen gelachen", "version": "0"},
    )
    assert response.status_code == 200
    typed = db.exec(select(AuditEvent).where(AuditEvent.action == "narrative.coach_entered")).one()
    assert typed.actor_id == cast.coach.id
    assert typed.on_behalf_of_user_id == cast.professional.id
    assert typed.subject_user_id == cast.professional.id


def test_changes_by_the_coach_are_recorded(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    client.login_as(cast.coach)
    response = client.post_form(
        f"/coach/trajectories/{trajectory.id}/summary", {"summary": "Loopt goed."}
    )
    assert response.status_code == 303
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.actor_id == cast.coach.id)).all()
    assert "summary.save" in actions


# ---------------------------------------------------------------- the admin's pages


def test_the_admin_filters_the_trail_and_reading_it_is_recorded(
    client: Client, cast: Cast, db: Session
) -> None:
    write(cast, 2)
    coach = actor_for(cast.coach, "coach")
    with Session(get_engine()) as session:
        audit.record(session, actor=coach, action="diary.view", subject_user_id=cast.multi.id)
        session.commit()
    client.login_as(cast.admin)
    page = client.get("/admin/audit")
    assert page.status_code == 200
    assert "Logboek" in page.text and "diary.view" in page.text and "Max Multi" in page.text
    by_person = client.get(f"/admin/audit?person={cast.multi.id}").text
    assert "diary.view" in by_person and "user.view</code>" not in by_person
    by_actor = client.get(f"/admin/audit?actor={cast.coach.id}", headers={"HX-Request": "true"})
    assert "<html" not in by_actor.text and "diary.view" in by_actor.text
    assert "user.view</code>" not in by_actor.text
    by_action = client.get("/admin/audit?action=user.view").text
    assert "diary.view</code>" not in by_action and "user.view</code>" in by_action
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    later = client.get(f"/admin/audit?from={tomorrow}").text
    assert "Geen gebeurtenissen" in later or "No events" in later
    bad = client.get("/admin/audit?from=gisteren")
    assert bad.status_code == 200 and "2025-09-01" in bad.text
    viewed = db.exec(select(AuditEvent).where(AuditEvent.action == "audit.view")).all()
    assert len(viewed) == 6
    assert any(v.detail == f"person={cast.multi.id}" for v in viewed)


def test_the_admin_exports_the_trail_as_csv(client: Client, cast: Cast, db: Session) -> None:
    coach = actor_for(cast.coach, "coach")
    with Session(get_engine()) as session:
        audit.record(
            session,
            actor=coach,
            action="trajectory.view",
            subject_user_id=cast.professional.id,
            reason="=HYPERLINK(1)",
        )
        session.commit()
    client.login_as(cast.admin)
    response = client.get(f"/admin/audit/export.csv?actor={cast.coach.id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 2
    header, row = rows
    assert row[header.index("Actie" if "Actie" in header else "Action")] == "trajectory.view"
    assert "Pim Prof" in row and "Carla Coach" in row
    assert "'=HYPERLINK(1)" in row  # neutralised for spreadsheets
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "audit.export")).one()


def test_reading_the_trail_needs_a_two_factor_login(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin, two_factor=False)
    page = client.get("/admin/audit")
    assert page.status_code == 403
    assert "twee" in page.text.lower() or "two-factor" in page.text
    assert client.get("/admin/audit/export.csv").status_code == 403
    client.login_as(cast.coach)
    assert client.get("/admin/audit").status_code == 403


def test_an_admin_sees_only_their_own_organisations_trail(client: Client, cast: Cast) -> None:
    write(cast, 1, action="secret.view")
    client.login_as(cast.outsider_admin)
    page = client.get("/admin/audit").text
    assert "secret.view" not in page
    csv_text = client.get("/admin/audit/export.csv").text
    assert "secret.view" not in csv_text
    assert client.get(f"/admin/audit?person={cast.professional.id}").status_code == 200
