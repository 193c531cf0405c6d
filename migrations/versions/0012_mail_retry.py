"""Outbox messages keep their delivery attempts and when the retry job may try again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch.create_index("ix_outbox_message_next_attempt_at", ["next_attempt_at"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_index("ix_outbox_message_next_attempt_at")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
