"""An index from which the fingerprint of an organisation's baseline sample is read.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_instrument_response_baseline_sample",
        "instrument_response",
        [
            "organisation_id",
            "phase",
            "instrument_key",
            "instrument_version",
            "completed_at",
            "updated_at",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_instrument_response_baseline_sample", table_name="instrument_response")
