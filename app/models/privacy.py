"""Consent records: what a professional agreed to, for which purpose, and when they withdrew."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class ConsentPurpose(StrEnum):
    programme = "programme"  # taking part; the coach may read answers, diary and scores
    research = "research"  # anonymised use of the answers for research


class ConsentRecord(SQLModel, table=True):
    """One act of giving or withdrawing consent; the newest per trajectory and purpose counts.

    Rows are only ever added, so the history of what someone agreed to, with which
    wording, stays visible. `Trajectory.consent_at` and `Trajectory.research_consent`
    hold the current state for fast queries and are kept in step by app/privacy/consent.py.
    """

    __tablename__ = "consent_record"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    trajectory_id: int | None = Field(
        default=None, foreign_key="trajectory.id", index=True, ondelete="CASCADE"
    )
    purpose: str = Field(max_length=20)
    given: bool
    wording_version: int = Field(default=1)
    recorded_at: datetime = Field(default_factory=utcnow)
