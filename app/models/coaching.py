"""The coach's side: coding a narrative, feedback, in-app notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Coding(SQLModel, table=True):
    """One coach's holistic ratings of one session's narrative (the relationship profile)."""

    __tablename__ = "coding"
    __table_args__ = (UniqueConstraint("session_id", "coach_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    session_id: int = Field(foreign_key="reflection_session.id", index=True, ondelete="CASCADE")
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    coach_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    scheme_version: int = Field(default=1)
    ratings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    released_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CodingEvidence(SQLModel, table=True):
    """A passage of the narrative a coach marked, with a note (and the dimension it shows)."""

    __tablename__ = "coding_evidence"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    coding_id: int = Field(foreign_key="coding.id", index=True, ondelete="CASCADE")
    step_key: str = Field(max_length=60)
    dimension: str = Field(default="", max_length=40)
    quote: str = Field(sa_column=Column(Text, nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = Field(default_factory=utcnow)


class Feedback(SQLModel, table=True):
    """A coach's words to the professional about a session, a diary entry or the whole."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    session_id: int | None = Field(
        default=None, foreign_key="reflection_session.id", ondelete="CASCADE"
    )
    diary_entry_id: int | None = Field(
        default=None, foreign_key="diary_entry.id", ondelete="CASCADE"
    )
    coach_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None


class Notification(SQLModel, table=True):
    """Something waiting for a person in the app (new feedback, a released profile, …)."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    link: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None
