"""Automatic deletion of trajectories a set number of months after they were completed."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.models import Notification, Trajectory, TrajectoryStatus, utcnow
from app.privacy.deletion import delete_trajectories, record_system_event


def months_before(moment: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class DueTrajectory:
    id: int
    organisation_id: int
    professional_id: int
    completed_at: datetime


def due_trajectories(
    session: Session, *, months: int, now: datetime | None = None
) -> list[DueTrajectory]:
    """Completed trajectories whose completion lies more than `months` months back."""
    cutoff = months_before(now or utcnow(), months)
    rows = session.exec(
        select(Trajectory)
        .where(
            Trajectory.status == TrajectoryStatus.completed,
            col(Trajectory.completed_at).is_not(None),
            col(Trajectory.completed_at) < cutoff,
        )
        .order_by(col(Trajectory.organisation_id), col(Trajectory.completed_at))
    ).all()
    return [
        DueTrajectory(t.id or 0, t.organisation_id, t.professional_id, t.completed_at)
        for t in rows
        if t.completed_at is not None
    ]


def run_retention(
    session: Session, *, months: int, dry_run: bool, now: datetime | None = None
) -> list[DueTrajectory]:
    """Delete (or, on a dry run, only list) the trajectories that are due."""
    due = due_trajectories(session, months=months, now=now)
    if dry_run or not due:
        return due
    ids = [item.id for item in due]
    delete_trajectories(session, ids)
    # Notifications that point into a deleted trajectory would only lead to "not found".
    links = [f"/trajectories/{i}{end}" for i in ids for end in ("", "/profile", "#feedback")]
    session.execute(delete(Notification).where(col(Notification.link).in_(links)))
    for item in due:
        record_system_event(
            session,
            organisation_id=item.organisation_id,
            subject_user_id=item.professional_id,
            action="retention.delete",
            detail=f"trajectory={item.id}; completed={item.completed_at.date().isoformat()}; "
            f"months={months}",
        )
    return due
