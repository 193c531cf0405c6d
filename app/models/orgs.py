"""Tenants, people and who coaches whom."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class Role(StrEnum):
    professional = "professional"
    coach = "coach"
    supervisor = "supervisor"
    admin = "admin"


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80, unique=True)
    default_locale: str = Field(default="nl", max_length=5)
    created_at: datetime = Field(default_factory=utcnow)
    # Admins, coaches and supervisors must use a second factor (an authenticator app).
    two_factor_required: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=120)
    password_hash: str | None = Field(default=None, max_length=255)
    locale: str = Field(default="nl", max_length=5)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    deactivated_at: datetime | None = None
    # Set when an admin erased this person: the row stays (for foreign keys and the audit
    # trail) but holds nothing personal any more.
    erased_at: datetime | None = None
    # The TOTP secret, encrypted (app.security); set at enrolment, confirmed by a first code.
    totp_secret: str | None = Field(default=None, max_length=255)
    totp_confirmed_at: datetime | None = None
    # The time step of the last accepted code: a code is never accepted twice.
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_confirmed_at is not None


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=20)


class CoachAssignment(SQLModel, table=True):
    __tablename__ = "coach_assignment"
    __table_args__ = (UniqueConstraint("coach_id", "professional_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    coach_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    professional_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class Team(SQLModel, table=True):
    """A team of professionals within an organisation, optionally at one location
    (e.g. "Groep 3-4" at "Noord"); the dashboard filters on it."""

    __table_args__ = (UniqueConstraint("organisation_id", "name", "location"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=120)
    # Empty when the organisation has one location or does not say.
    location: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class TeamMembership(SQLModel, table=True):
    """Which team a professional belongs to: at most one (the user is the key)."""

    __tablename__ = "team_membership"
    __table_args__ = (Index("ix_team_membership_team_user", "team_id", "user_id"),)

    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # A team is removed only when nobody is in it (app.admin.teams), never by cascade.
    team_id: int = Field(foreign_key="team.id")
    created_at: datetime = Field(default_factory=utcnow)
