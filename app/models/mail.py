"""Outgoing email, kept for the development outbox and for delivery status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str = ""
    #: Extra headers (e.g. List-Unsubscribe) and attachments ({filename, content_type,
    #: content} with text content, e.g. a calendar invite).
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attachments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    error: str = Field(default="", max_length=500)
    #: Delivery attempts made so far (app.mail.deliver_message).
    attempts: int = 0
    #: When the retry job (app.mail.retry_unsent) may try to deliver it; None when there is
    #: nothing left to try: sent, given up, or no mail server configured. Set a few minutes
    #: ahead when the message is written, so the job only picks up what its own sender did
    #: not deliver (the process stopped first, or the mail server failed).
    next_attempt_at: datetime | None = Field(default=None, index=True)
