"""Dashboard summary: each trajectory's change per subscale and the organisations' running
totals, backfilled from the responses and sessions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:48:00.167849
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscale_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("trajectory_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("instrument_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("subscale_key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("comparison", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("change", sa.Float(), nullable=False),
        sa.Column("reliable", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["professional_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trajectory_id"], ["trajectory.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trajectory_id", "instrument_key", "subscale_key", "comparison"),
    )
    with op.batch_alter_table("subscale_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscale_change_dashboard",
            [
                "organisation_id",
                "instrument_key",
                "subscale_key",
                "comparison",
                "professional_id",
                "change",
                "reliable",
            ],
            unique=False,
        )
    op.create_table(
        "dashboard_total",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("cell", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("completed_people", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("squares", sa.Float(), nullable=False),
        sa.Column("judged", sa.Integer(), nullable=False),
        sa.Column("improved", sa.Integer(), nullable=False),
        sa.Column("deteriorated", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "kind", "cell"),
    )
    with op.batch_alter_table("trajectory", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trajectory_organisation_coach", ["organisation_id", "coach_id"], unique=False
        )
    _backfill()


def _backfill() -> None:
    """Summary rows for the responses already stored, by the rule the app uses."""
    # The app's own pairing rule, so the backfill and the live updates cannot differ.
    from app.dashboards.summary import (
        INSTRUMENTS,
        PHASES,
        ScoredResponse,
        add_to_totals,
        change_rows,
        change_sums,
        funnel_sums,
        merge_sums,
        participation_rows,
    )

    bind = op.get_bind()
    response = sa.table(
        "instrument_response",
        sa.column("id", sa.Integer()),
        sa.column("trajectory_id", sa.Integer()),
        sa.column("instrument_key", sa.String()),
        sa.column("phase", sa.String()),
        sa.column("scores", sa.JSON()),
        sa.column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    trajectory = sa.table(
        "trajectory",
        sa.column("id", sa.Integer()),
        sa.column("professional_id", sa.Integer()),
        sa.column("organisation_id", sa.Integer()),
    )
    records = bind.execute(
        sa.select(
            response.c.trajectory_id,
            response.c.instrument_key,
            response.c.phase,
            response.c.scores,
            response.c.completed_at,
            response.c.id,
            trajectory.c.professional_id,
            trajectory.c.organisation_id,
        )
        .join(trajectory, trajectory.c.id == response.c.trajectory_id)
        .where(
            response.c.instrument_key.in_(INSTRUMENTS),
            response.c.phase.in_(PHASES),
            response.c.completed_at.is_not(None),
        )
    ).all()
    by_organisation: dict[int, list[ScoredResponse]] = {}
    professional_of: dict[int, int] = {}
    for trajectory_id, key, phase, scores, completed_at, id_, professional_id, org in records:
        professional_of[trajectory_id] = professional_id
        by_organisation.setdefault(org, []).append(
            ScoredResponse(trajectory_id, key, phase, scores or {}, completed_at, id_)
        )
    summary = sa.table(
        "subscale_change",
        *(
            sa.column(name)
            for name in (
                "organisation_id",
                "trajectory_id",
                "professional_id",
                "instrument_key",
                "subscale_key",
                "comparison",
                "change",
                "reliable",
            )
        ),
    )
    every_row = []
    for org, responses in by_organisation.items():
        rows = change_rows(responses, professional_of, org)
        if rows:
            bind.execute(summary.insert(), rows)
        every_row += rows
    add_to_totals(bind, merge_sums(change_sums(every_row), funnel_sums(bind)))
    rows = participation_rows(bind)
    if rows:
        bind.execute(sa.table("dashboard_total", *(sa.column(c) for c in rows[0])).insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("trajectory", schema=None) as batch_op:
        batch_op.drop_index("ix_trajectory_organisation_coach")
    op.drop_table("dashboard_total")
    with op.batch_alter_table("subscale_change", schema=None) as batch_op:
        batch_op.drop_index("ix_subscale_change_dashboard")
    op.drop_table("subscale_change")
