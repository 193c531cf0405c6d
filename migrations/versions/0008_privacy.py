"""Privacy: consent records (with the consents given so far), erased accounts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:42:13.067803
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("wording_version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_record_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consent_record_trajectory_id"), ["trajectory_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consent_record_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )

    # Backfill: the consents given at the intake so far become the first records (wording
    # version 1, the only one there was), so history and current state agree from the start.
    for purpose, condition in (
        ("programme", "consent_at IS NOT NULL"),
        ("research", "consent_at IS NOT NULL AND research_consent"),
    ):
        op.execute(
            "INSERT INTO consent_record (organisation_id, user_id, trajectory_id, purpose,"
            " given, wording_version, recorded_at)"
            f" SELECT organisation_id, professional_id, id, '{purpose}', TRUE, 1, consent_at"
            f" FROM trajectory WHERE {condition}"
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_record_user_id"))
        batch_op.drop_index(batch_op.f("ix_consent_record_trajectory_id"))
        batch_op.drop_index(batch_op.f("ix_consent_record_organisation_id"))

    op.drop_table("consent_record")
