"""The professional's side: focus relationships, trajectories, sessions and their answers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Sector(StrEnum):
    education = "education"
    childcare = "childcare"
    disability = "disability"
    youth_care = "youth_care"
    family_home = "family_home"


class AgeBand(StrEnum):
    age_0_3 = "0-3"
    age_4_7 = "4-7"
    age_8_11 = "8-11"
    age_12_15 = "12-15"
    age_16_17 = "16-17"
    age_18_plus = "18+"


class TrajectoryStatus(StrEnum):
    active = "active"
    completed = "completed"
    archived = "archived"
    stopped = "stopped"  # the professional withdrew their consent to take part


class SessionStatus(StrEnum):
    locked = "locked"  # earlier sessions are not done yet
    waiting = "waiting"  # its turn, but a coach must open it
    open = "open"  # can be started
    in_progress = "in_progress"
    completed = "completed"
    reviewed = "reviewed"  # the coach has read it
    skipped = "skipped"  # an optional session that was not done


class FocusRelationship(SQLModel, table=True):
    """A professional's relationship with one child or client, known only by a pseudonym."""

    __tablename__ = "focus_relationship"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    professional_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    pseudonym: str = Field(max_length=40)
    sector: str = Field(max_length=20)
    setting: str = Field(default="", max_length=120)
    age_band: str = Field(max_length=10)
    known_since: date | None = None
    is_contrast: bool = Field(default=False)
    archived_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Trajectory(SQLModel, table=True):
    """One professional working through one programme about one focus relationship."""

    __tablename__ = "trajectory"
    # The dashboard's list of coach cohorts: the distinct coaches of an organisation.
    __table_args__ = (Index("ix_trajectory_organisation_coach", "organisation_id", "coach_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    professional_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    focus_relationship_id: int = Field(
        foreign_key="focus_relationship.id", index=True, ondelete="CASCADE"
    )
    contrast_relationship_id: int | None = Field(
        default=None, foreign_key="focus_relationship.id", ondelete="SET NULL"
    )
    coach_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    programme_key: str = Field(max_length=60)
    programme_version: int
    status: str = Field(default=TrajectoryStatus.active, max_length=20)
    consent_at: datetime | None = None
    research_consent: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    last_activity_at: datetime = Field(default_factory=utcnow)
    coach_summary: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )


class ReflectionSession(SQLModel, table=True):
    """The n-th session of a trajectory, following one session template of the programme."""

    __tablename__ = "reflection_session"
    __table_args__ = (UniqueConstraint("trajectory_id", "template_key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    position: int
    template_key: str = Field(max_length=60)
    phase: str = Field(max_length=20)
    status: str = Field(default=SessionStatus.locked, max_length=20)
    current_step: str = Field(default="", max_length=60)
    suggested_date: date | None = None
    #: The appointment the coach set (UTC); `schedule_sequence` counts its changes for
    #: the calendar invite (SEQUENCE), so calendars replace the old one.
    scheduled_at: datetime | None = None
    scheduled_by_id: int | None = Field(
        default=None, foreign_key="app_user.id", ondelete="SET NULL"
    )
    schedule_sequence: int = Field(default=0)
    opened_at: datetime | None = None
    opened_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    started_at: datetime | None = None
    completed_at: datetime | None = None
    last_activity_at: datetime | None = None


class NarrativeAnswer(SQLModel, table=True):
    """Text typed for one step; `version` counts saves so a stale tab cannot overwrite."""

    __tablename__ = "narrative_answer"
    __table_args__ = (UniqueConstraint("session_id", "step_key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    session_id: int = Field(foreign_key="reflection_session.id", index=True, ondelete="CASCADE")
    step_key: str = Field(max_length=60)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    words: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = Field(default=0)
    saved_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None
    entered_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    coach_entered: bool = Field(default=False)


class InstrumentResponse(SQLModel, table=True):
    """Item answers to one instrument in one session, with the scores computed from them."""

    __tablename__ = "instrument_response"
    __table_args__ = (
        UniqueConstraint("session_id", "step_key"),
        Index(
            "ix_instrument_response_org_instrument_phase",
            "organisation_id",
            "instrument_key",
            "phase",
        ),
        # The fingerprint of an organisation's baseline sample (app/reflection/baselines.py)
        # is read from this index alone, on every page that judges change.
        Index(
            "ix_instrument_response_baseline_sample",
            "organisation_id",
            "phase",
            "instrument_key",
            "instrument_version",
            "completed_at",
            "updated_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    session_id: int = Field(foreign_key="reflection_session.id", index=True, ondelete="CASCADE")
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    step_key: str = Field(max_length=60)
    phase: str = Field(max_length=20)
    instrument_key: str = Field(max_length=60)
    instrument_version: int
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    scores: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    completed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class DiaryEntry(SQLModel, table=True):
    """A moment with the child between sessions, as the diary instrument asks for it."""

    __tablename__ = "diary_entry"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    occurred_on: date
    phase: str = Field(max_length=20)
    instrument_version: int
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PulseEntry(SQLModel, table=True):
    """The daily pulse: eight one-item ratings for one day."""

    __tablename__ = "pulse_entry"
    __table_args__ = (UniqueConstraint("trajectory_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    day: date
    phase: str = Field(max_length=20)
    instrument_version: int
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ExperimentLogEntry(SQLModel, table=True):
    """What the professional tried of their chosen experiment, and how it went."""

    __tablename__ = "experiment_log_entry"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    trajectory_id: int = Field(foreign_key="trajectory.id", index=True, ondelete="CASCADE")
    occurred_on: date
    what_i_did: str = Field(sa_column=Column(Text, nullable=False))
    how_it_went: int  # 1 (badly) … 5 (very well)
    created_at: datetime = Field(default_factory=utcnow)
