"""Login sessions, single-use tokens and failed-login records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class UserSession(SQLModel, table=True):
    """A server-side login session; the cookie holds a random token, the row its hash."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    ip_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    # When this login passed the second factor; None for a password-only login.
    two_factor_at: datetime | None = None


class TokenPurpose(StrEnum):
    invitation = "invitation"
    password_reset = "password_reset"  # noqa: S105 - a token purpose, not a password # nosec B105
    # Between the password and the code: the login waits for its second step.
    second_factor = "second_factor"


class AccountToken(SQLModel, table=True):
    """A single-use, expiring token sent by email; only its hash is stored."""

    __tablename__ = "account_token"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    purpose: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class LoginFailure(SQLModel, table=True):
    """One failed login, keyed by account and by address, for throttling."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class RecoveryCode(SQLModel, table=True):
    """A one-time code that stands in for the authenticator app; only its hash is stored."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    used_at: datetime | None = None


class RateCounter(SQLModel, table=True):
    """Requests counted per key in one fixed time window, for rate limits across workers."""

    __tablename__ = "rate_counter"

    key: str = Field(primary_key=True, max_length=300)
    window_start: datetime = Field(primary_key=True, index=True)
    count: int = Field(default=0)
