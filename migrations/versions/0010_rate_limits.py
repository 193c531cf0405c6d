"""Rate counters: requests per key in fixed windows (password reset, autosave).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:41:56.947721
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_counter",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start"),
    )
    with op.batch_alter_table("rate_counter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_counter_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rate_counter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counter_window_start"))
    op.drop_table("rate_counter")
