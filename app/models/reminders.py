"""Reminders: each person's choices, the organisation's intervals, and what was sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class ReminderPreference(SQLModel, table=True):
    """How one person wants to be reminded: a channel per kind, a daily cap, quiet hours."""

    __tablename__ = "reminder_preference"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True, ondelete="CASCADE")
    #: kind → "email", "in_app" or "off"; a kind that is not listed uses the default.
    channels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    daily_limit: int = Field(default=3)
    #: Local hours (0–23) between which nothing is sent; both None means no quiet hours.
    quiet_start: int | None = None
    quiet_end: int | None = None
    unsubscribed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class OrganisationReminderSettings(SQLModel, table=True):
    """An organisation's own reminder intervals for one programme (over its defaults)."""

    __tablename__ = "organisation_reminder_settings"
    __table_args__ = (UniqueConstraint("organisation_id", "programme_key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    programme_key: str = Field(max_length=60)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class Reminder(SQLModel, table=True):
    """One reminder about one state, claimed before it is sent.

    The unique key is what makes "never twice" hold: a second run, a late run or a
    concurrent worker cannot insert the same person, kind and state again.
    """

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("user_id", "kind", "state_key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    #: The state and period the reminder is about, e.g. "s12:2026-11-30T10:00" for a
    #: session untouched since then; a changed state gets a new key.
    state_key: str = Field(max_length=120)
    channel: str = Field(max_length=10)
    link: str = Field(max_length=300)
    outbox_message_id: int | None = Field(
        default=None, foreign_key="outbox_message.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, index=True)
