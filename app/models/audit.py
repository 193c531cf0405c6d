"""Who read, changed or exported which person's data, when, from where (NEN 7513)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utcnow


class AuditEvent(SQLModel, table=True):
    """One line of the audit trail: append-only, chained per organisation by hashes.

    The person columns hold plain ids without foreign keys: the trail must outlive the
    accounts it is about, and a foreign key's SET NULL would rewrite (and break) a row.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("organisation_id", "chain_seq", name="uq_audit_event_chain"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # The position in the organisation's chain: 1, 2, 3, … with no gaps.
    chain_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, index=True)
    actor_role: str = Field(default="", max_length=20)
    subject_user_id: int | None = Field(default=None, index=True)
    relationship_id: int | None = None
    relationship_pseudonym: str = Field(default="", max_length=40)
    on_behalf_of_user_id: int | None = None
    action: str = Field(max_length=60)
    reason: str = Field(default="", max_length=400)
    detail: str = Field(default="", max_length=500)
    ip_address: str = Field(default="", max_length=64)
    # The chain covers the two free-text fields (the child's pseudonym, an admin's typed
    # reason) through this digest, so erasure can blank them (`redacted_at`) and the
    # chain still verifies; while not redacted, verify checks them against the digest.
    personal_digest: str = Field(default="", max_length=64)
    redacted_at: datetime | None = None
    prev_hash: str = Field(default="", max_length=64)
    row_hash: str = Field(default="", max_length=64)

    def chained_fields(self) -> dict[str, Any]:
        """What the row's hash covers: everything but its id and its own hash."""
        return chained_fields({name: getattr(self, name) for name in CHAINED_COLUMNS})


CHAINED_COLUMNS = (
    "organisation_id",
    "chain_seq",
    "created_at",
    "actor_id",
    "actor_role",
    "subject_user_id",
    "relationship_id",
    "personal_digest",
    "on_behalf_of_user_id",
    "action",
    "detail",
    "ip_address",
    "prev_hash",
)


def chained_fields(values: Any) -> dict[str, Any]:
    """The hashed columns of a row (an object's __dict__ or a database row mapping)."""
    out = {name: values[name] for name in CHAINED_COLUMNS}
    moment = out["created_at"]
    if isinstance(moment, datetime):
        # Naive values come back from databases that store UTC without a zone.
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        out["created_at"] = moment.isoformat(timespec="microseconds")
    return out


#: The free-text columns that erasure may blank; the chain holds their digest instead.
REDACTABLE_COLUMNS = ("relationship_pseudonym", "reason")


def personal_fields(values: Any) -> dict[str, Any]:
    """What `personal_digest` covers."""
    return {name: values[name] for name in REDACTABLE_COLUMNS}


class AuditChain(SQLModel, table=True):
    """The head of one organisation's audit chain, and the anchor left by purges.

    Writers update this row first, so on PostgreSQL its row lock orders concurrent
    writers; after a purge the anchor holds the hash of the last removed row, which is
    the `prev_hash` of the oldest row kept.
    """

    __tablename__ = "audit_chain"

    organisation_id: int = Field(foreign_key="organisation.id", primary_key=True)
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_hash: str = Field(default="", max_length=64)
    anchor_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    anchor_hash: str = Field(default="", max_length=64)
    anchor_at: datetime | None = None
