"""Reminders: preferences, organisation intervals, sent reminders; session appointments;
mail headers and attachments.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 09:42:52.922361
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisation_reminder_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("programme_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "programme_key"),
    )
    with op.batch_alter_table("organisation_reminder_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_reminder_settings_organisation_id"),
            ["organisation_id"],
            unique=False,
        )

    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("state_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["outbox_message_id"], ["outbox_message.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind", "state_key"),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reminder_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reminder_user_id"), ["user_id"], unique=False)

    op.create_table(
        "reminder_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("unsubscribed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    with op.batch_alter_table("reminder_preference", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_preference_organisation_id"), ["organisation_id"], unique=False
        )

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("headers", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("attachments", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )

    with op.batch_alter_table("reflection_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheduled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("scheduled_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("schedule_sequence", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_foreign_key(
            "fk_reflection_session_scheduled_by_id_app_user",
            "app_user",
            ["scheduled_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("reflection_session", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_reflection_session_scheduled_by_id_app_user", type_="foreignkey"
        )
        batch_op.drop_column("schedule_sequence")
        batch_op.drop_column("scheduled_by_id")
        batch_op.drop_column("scheduled_at")

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("attachments")
        batch_op.drop_column("headers")

    with op.batch_alter_table("reminder_preference", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_preference_organisation_id"))

    op.drop_table("reminder_preference")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_user_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_created_at"))

    op.drop_table("reminder")
    with op.batch_alter_table("organisation_reminder_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_reminder_settings_organisation_id"))

    op.drop_table("organisation_reminder_settings")
