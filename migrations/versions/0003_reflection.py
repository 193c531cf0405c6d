"""Reflection: focus relationships, trajectories, sessions, answers, diary, pulse, experiments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:43:59.461518
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "focus_relationship",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("sector", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("setting", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("age_band", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("known_since", sa.Date(), nullable=True),
        sa.Column("is_contrast", sa.Boolean(), nullable=False),
        sa.Column("archived_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["professional_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("focus_relationship", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_focus_relationship_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_focus_relationship_professional_id"), ["professional_id"], unique=False
        )

    op.create_table(
        "trajectory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("focus_relationship_id", sa.Integer(), nullable=False),
        sa.Column("contrast_relationship_id", sa.Integer(), nullable=True),
        sa.Column("coach_id", sa.Integer(), nullable=True),
        sa.Column("programme_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("programme_version", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("consent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("research_consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["coach_id"], ["app_user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["contrast_relationship_id"], ["focus_relationship.id"], ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["focus_relationship_id"], ["focus_relationship.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["professional_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trajectory", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trajectory_focus_relationship_id"),
            ["focus_relationship_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_trajectory_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_trajectory_professional_id"), ["professional_id"], unique=False
        )

    op.create_table(
        "diary_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("diary_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_diary_entry_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_diary_entry_trajectory_id"), ["trajectory_id"], unique=False
        )

    op.create_table(
        "experiment_log_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("what_i_did", sa.Text(), nullable=False),
        sa.Column("how_it_went", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("experiment_log_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_experiment_log_entry_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_experiment_log_entry_trajectory_id"), ["trajectory_id"], unique=False
        )

    op.create_table(
        "pulse_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trajectory_id", "day"),
    )
    with op.batch_alter_table("pulse_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pulse_entry_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pulse_entry_trajectory_id"), ["trajectory_id"], unique=False
        )

    op.create_table(
        "reflection_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("template_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("current_step", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("suggested_date", sa.Date(), nullable=True),
        sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["opened_by_id"], ["app_user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trajectory_id", "template_key"),
    )
    with op.batch_alter_table("reflection_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reflection_session_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reflection_session_trajectory_id"), ["trajectory_id"], unique=False
        )

    op.create_table(
        "instrument_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("instrument_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["session_id"], ["reflection_session.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "step_key"),
    )
    with op.batch_alter_table("instrument_response", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instrument_response_org_instrument_phase",
            ["organisation_id", "instrument_key", "phase"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_response_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_response_trajectory_id"), ["trajectory_id"], unique=False
        )

    op.create_table(
        "narrative_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("saved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("coach_entered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["entered_by_id"], ["app_user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(["session_id"], ["reflection_session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "step_key"),
    )
    with op.batch_alter_table("narrative_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_narrative_answer_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_narrative_answer_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("narrative_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_narrative_answer_session_id"))
        batch_op.drop_index(batch_op.f("ix_narrative_answer_organisation_id"))

    op.drop_table("narrative_answer")
    with op.batch_alter_table("instrument_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_response_trajectory_id"))
        batch_op.drop_index(batch_op.f("ix_instrument_response_session_id"))
        batch_op.drop_index("ix_instrument_response_org_instrument_phase")

    op.drop_table("instrument_response")
    with op.batch_alter_table("reflection_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reflection_session_trajectory_id"))
        batch_op.drop_index(batch_op.f("ix_reflection_session_organisation_id"))

    op.drop_table("reflection_session")
    with op.batch_alter_table("pulse_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulse_entry_trajectory_id"))
        batch_op.drop_index(batch_op.f("ix_pulse_entry_organisation_id"))

    op.drop_table("pulse_entry")
    with op.batch_alter_table("experiment_log_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_log_entry_trajectory_id"))
        batch_op.drop_index(batch_op.f("ix_experiment_log_entry_organisation_id"))

    op.drop_table("experiment_log_entry")
    with op.batch_alter_table("diary_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diary_entry_trajectory_id"))
        batch_op.drop_index(batch_op.f("ix_diary_entry_organisation_id"))

    op.drop_table("diary_entry")
    with op.batch_alter_table("trajectory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trajectory_professional_id"))
        batch_op.drop_index(batch_op.f("ix_trajectory_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_trajectory_focus_relationship_id"))

    op.drop_table("trajectory")
    with op.batch_alter_table("focus_relationship", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_focus_relationship_professional_id"))
        batch_op.drop_index(batch_op.f("ix_focus_relationship_organisation_id"))

    op.drop_table("focus_relationship")
