"""Who read or changed which person's data, when and from where."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    actor_role: str = Field(default="", max_length=20)
    subject_user_id: int | None = Field(
        default=None, foreign_key="app_user.id", index=True, ondelete="SET NULL"
    )
    action: str = Field(max_length=60)
    detail: str = Field(default="", max_length=500)
    ip_address: str = Field(default="", max_length=64)
