"""Automatic deletion of trajectories N months after completion, with crafted dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from app.cli import main
from app.config import get_settings
from app.models import (
    AuditEvent,
    DiaryEntry,
    FocusRelationship,
    NarrativeAnswer,
    Notification,
    ReflectionSession,
    Trajectory,
    TrajectoryStatus,
)
from app.privacy.retention import months_before, run_retention
from tests.conftest import Cast, Client
from tests.privacy_data import rich_trajectory
from tests.test_reflection import start

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), 24, datetime(2024, 12, 1, 12, 0, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 13, datetime(2024, 12, 15, tzinfo=UTC)),
        (datetime(2026, 5, 31, tzinfo=UTC), 3, datetime(2026, 2, 28, tzinfo=UTC)),
    ],
)
def test_months_before_counts_calendar_months(
    moment: datetime, months: int, expected: datetime
) -> None:
    assert months_before(moment, months) == expected


def _finish(db: Session, trajectory_id: int, completed: datetime | None, status: str) -> None:
    row = db.get(Trajectory, trajectory_id)
    assert row is not None
    row.status, row.completed_at = status, completed
    db.add(row)
    db.commit()


@pytest.fixture
def three(client: Client, make_client: type[Client], cast: Cast, db: Session) -> dict[str, int]:
    """Completed 25 months ago (due), 23 months ago (kept), and active since long ago (kept)."""
    due = rich_trajectory(client, db, cast).trajectory.id or 0
    recent, _ = start(make_client().login_as(cast.unassigned_professional), db)
    active, _ = start(make_client().login_as(cast.multi), db)
    _finish(db, due, datetime(2024, 10, 31, tzinfo=UTC), TrajectoryStatus.completed)
    _finish(db, recent.id or 0, datetime(2025, 1, 2, tzinfo=UTC), TrajectoryStatus.completed)
    _finish(db, active.id or 0, None, TrajectoryStatus.active)
    return {"due": due, "recent": recent.id or 0, "active": active.id or 0}


def test_a_dry_run_lists_what_is_due_and_deletes_nothing(
    three: dict[str, int], db: Session
) -> None:
    due = run_retention(db, months=24, dry_run=True, now=NOW)
    db.commit()
    assert [item.id for item in due] == [three["due"]]
    assert db.get(Trajectory, three["due"]) is not None
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "retention.delete")).all() == []


def test_due_trajectories_are_deleted_with_everything_in_them(
    three: dict[str, int], cast: Cast, db: Session
) -> None:
    sessions = db.exec(
        select(ReflectionSession.id).where(ReflectionSession.trajectory_id == three["due"])
    ).all()
    assert db.exec(select(NarrativeAnswer).where(NarrativeAnswer.session_id.in_(sessions))).all()  # type: ignore[union-attr]
    due = run_retention(db, months=24, dry_run=False, now=NOW)
    db.commit()
    db.expire_all()
    assert [item.id for item in due] == [three["due"]]
    assert db.get(Trajectory, three["due"]) is None
    assert db.get(Trajectory, three["recent"]) is not None
    assert db.get(Trajectory, three["active"]) is not None
    assert (
        db.exec(select(NarrativeAnswer).where(NarrativeAnswer.session_id.in_(sessions))).all() == []
    )  # type: ignore[union-attr]
    assert db.exec(select(DiaryEntry).where(DiaryEntry.trajectory_id == three["due"])).all() == []
    assert (
        db.exec(select(Notification).where(Notification.user_id == cast.professional.id)).all()
        == []
    )
    # The pseudonym stays, so the professional can start again with the same child.
    assert db.exec(
        select(FocusRelationship).where(FocusRelationship.professional_id == cast.professional.id)
    ).all()
    (event,) = db.exec(select(AuditEvent).where(AuditEvent.action == "retention.delete")).all()
    assert event.actor_id is None and event.actor_role == "system"
    assert event.subject_user_id == cast.professional.id
    assert event.detail == f"trajectory={three['due']}; completed=2024-10-31; months=24"
    # Running again finds nothing more.
    assert run_retention(db, months=24, dry_run=False, now=NOW) == []


def test_the_command_uses_the_configured_months(
    three: dict[str, int],
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 25 and 23 months ago (and more by the time this runs): with 12 months both are due.
    monkeypatch.setattr(get_settings(), "retention_months_after_completion", 12)
    assert main(["retention", "run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would delete trajectory {three['due']}" in out
    assert f"would delete trajectory {three['recent']}" in out
    assert "2 trajectories" in out and "dry run, nothing deleted" in out
    db.expire_all()
    assert db.get(Trajectory, three["recent"]) is not None
    assert main(["retention", "run"]) == 0
    assert "2 trajectories" in capsys.readouterr().out
    db.expire_all()
    assert db.get(Trajectory, three["due"]) is None and db.get(Trajectory, three["recent"]) is None
    assert db.get(Trajectory, three["active"]) is not None


def test_the_default_is_24_months() -> None:
    field = type(get_settings()).model_fields["retention_months_after_completion"]
    assert field.default == 24
