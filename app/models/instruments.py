"""Instrument definitions an organisation uploaded (built-in ones live in files)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class OrganisationInstrument(SQLModel, table=True):
    """One uploaded definition file, kept whole so scores stay recomputable."""

    __tablename__ = "organisation_instrument"
    __table_args__ = (UniqueConstraint("organisation_id", "key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    key: str = Field(max_length=60)
    version: int
    kind: str = Field(max_length=20)
    title_nl: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    source: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    uploaded_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
