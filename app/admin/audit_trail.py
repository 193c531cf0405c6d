"""The admin's view of the audit trail: filter by person, actor, action and period; export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from app import i18n
from app.deps import Actor
from app.models import AuditEvent, User

PAGE_SIZE = 100
EXPORT_BATCH = 2000


@dataclass(frozen=True)
class AuditFilters:
    person_id: int | None = None  # whose data (or on whose behalf)
    actor_id: int | None = None
    action: str = ""
    date_from: date | None = None  # days in the organisation's time zone, inclusive
    date_to: date | None = None

    def describe(self) -> str:
        """The filters in one line, for the audit record of reading the trail."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("person", self.person_id),
                ("actor", self.actor_id),
                ("action", self.action),
                ("from", self.date_from),
                ("to", self.date_to),
            )
            if value
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class AuditLine:
    event: AuditEvent
    actor_name: str
    subject_name: str
    on_behalf_name: str


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    page: int
    has_more: bool


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=i18n.local_zone()).astimezone(UTC)


def _statement(actor: Actor, filters: AuditFilters) -> Any:
    statement = select(AuditEvent).where(AuditEvent.organisation_id == actor.organisation_id)
    if filters.person_id:
        statement = statement.where(
            or_(
                col(AuditEvent.subject_user_id) == filters.person_id,
                col(AuditEvent.on_behalf_of_user_id) == filters.person_id,
            )
        )
    if filters.actor_id:
        statement = statement.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        statement = statement.where(AuditEvent.action == filters.action)
    if filters.date_from:
        statement = statement.where(AuditEvent.created_at >= _day_start(filters.date_from))
    if filters.date_to:
        end = _day_start(filters.date_to + timedelta(days=1))
        statement = statement.where(AuditEvent.created_at < end)
    return statement


def _names(session: Session, actor: Actor, events: list[AuditEvent]) -> dict[int, str]:
    ids = {
        i
        for e in events
        for i in (e.actor_id, e.subject_user_id, e.on_behalf_of_user_id)
        if i is not None
    }
    if not ids:
        return {}
    rows = session.exec(
        select(User.id, User.display_name).where(
            col(User.id).in_(ids), User.organisation_id == actor.organisation_id
        )
    ).all()
    return {user_id: name for user_id, name in rows if user_id is not None}


def _lines(session: Session, actor: Actor, events: list[AuditEvent]) -> list[AuditLine]:
    names = _names(session, actor, events)

    def name(user_id: int | None) -> str:
        if user_id is None:
            return ""
        # A removed account keeps its number in the trail.
        return names.get(user_id, f"#{user_id}")

    return [
        AuditLine(
            event=e,
            actor_name=name(e.actor_id) or i18n.gettext("Dyade (system)"),
            subject_name=name(e.subject_user_id),
            on_behalf_name=name(e.on_behalf_of_user_id),
        )
        for e in events
    ]


def search(session: Session, *, actor: Actor, filters: AuditFilters, page: int = 0) -> AuditPage:
    """One page of matching events, newest first (two queries: events, then names)."""
    events = list(
        session.exec(
            _statement(actor, filters)
            .order_by(col(AuditEvent.id).desc())
            .offset(page * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).all()
    )
    has_more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    return AuditPage(lines=_lines(session, actor, events), page=page, has_more=has_more)


def export_rows(session: Session, *, actor: Actor, filters: AuditFilters) -> Iterator[list[Any]]:
    """Header and every matching event, oldest first, read in batches."""
    _ = i18n.gettext
    yield [
        _("Time (UTC)"),
        _("Number in chain"),
        _("Actor id"),
        _("Actor"),
        _("Role"),
        _("Person id"),
        _("Person"),
        _("Relationship (pseudonym)"),
        _("On behalf of"),
        _("Action"),
        _("Reason"),
        _("Details"),
        _("Address"),
        _("Hash"),
    ]
    after = 0
    while True:
        events = list(
            session.exec(
                _statement(actor, filters)
                .where(col(AuditEvent.id) > after)
                .order_by(col(AuditEvent.id))
                .limit(EXPORT_BATCH)
            ).all()
        )
        if not events:
            return
        for line in _lines(session, actor, events):
            e = line.event
            yield [
                e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                e.chain_seq,
                e.actor_id,
                line.actor_name,
                e.actor_role,
                e.subject_user_id,
                line.subject_name,
                e.relationship_pseudonym,
                line.on_behalf_name,
                e.action,
                e.reason,
                e.detail,
                e.ip_address,
                e.row_hash,
            ]
        after = events[-1].id or after


def people(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """Everyone of the organisation, for the person and actor filters."""
    rows = session.exec(
        select(User.id, User.display_name, User.email)
        .where(User.organisation_id == actor.organisation_id)
        .order_by(col(User.display_name))
    ).all()
    return [(user_id, f"{name} ({email})") for user_id, name, email in rows if user_id]


def actions(session: Session, *, actor: Actor) -> list[str]:
    """The actions that occur in the organisation's trail."""
    return list(
        session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.organisation_id == actor.organisation_id)
            .distinct()
            .order_by(col(AuditEvent.action))
        ).all()
    )
