"""Teams (with an optional location) and team membership; the dashboard's running totals
of professional accounts and of trajectories per coach, team and location, backfilled.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:37:31.165244
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "organisation_id, kind, cell, n, people, completed, completed_people, "
    "total, squares, judged, improved, deteriorated"
)


def upgrade() -> None:
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "name", "location"),
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_organisation_id"), ["organisation_id"], unique=False
        )
    op.create_table(
        "team_membership",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("team_membership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_membership_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index("ix_team_membership_team_user", ["team_id", "user_id"], unique=False)

    # The dashboard's covering index gains trajectory_id, for filtered selections.
    _dashboard_index(with_trajectory=True)

    # Backfill the new running totals (app.dashboards.summary.account_rows and
    # breakdown_rows; nobody is in a team yet, so every trajectory is in cell "").
    op.execute(
        f"INSERT INTO dashboard_total ({_COLUMNS}) "  # nosec B608 - constants
        "SELECT r.organisation_id, 'accounts', 'professional', count(*), count(*), "
        "0, 0, 0, 0, 0, 0, 0 "
        "FROM user_role r JOIN app_user u ON u.id = r.user_id "
        "WHERE r.role = 'professional' AND u.is_active "
        "GROUP BY r.organisation_id"
    )
    counts = (
        "count(*), count(DISTINCT professional_id), "
        "count(CASE WHEN status = 'completed' THEN 1 END), "
        "count(DISTINCT CASE WHEN status = 'completed' THEN professional_id END)"
    )
    op.execute(
        f"INSERT INTO dashboard_total ({_COLUMNS}) "  # nosec B608 - constants
        "SELECT organisation_id, 'coach', coalesce(CAST(coach_id AS VARCHAR(200)), ''), "
        f"{counts}, 0, 0, 0, 0, 0 FROM trajectory GROUP BY organisation_id, coach_id"
    )
    for kind in ("team", "location"):
        op.execute(
            f"INSERT INTO dashboard_total ({_COLUMNS}) "  # nosec B608 - constants
            f"SELECT organisation_id, '{kind}', '', {counts}, 0, 0, 0, 0, 0 "
            "FROM trajectory GROUP BY organisation_id"
        )


def _dashboard_index(*, with_trajectory: bool) -> None:
    columns = ["organisation_id", "instrument_key", "subscale_key", "comparison"]
    columns += ["trajectory_id"] if with_trajectory else []
    columns += ["professional_id", "change", "reliable"]
    with op.batch_alter_table("subscale_change", schema=None) as batch_op:
        batch_op.drop_index("ix_subscale_change_dashboard")
        batch_op.create_index("ix_subscale_change_dashboard", columns, unique=False)


def downgrade() -> None:
    _dashboard_index(with_trajectory=False)
    op.execute(
        "DELETE FROM dashboard_total WHERE kind IN ('accounts', 'coach', 'team', 'location')"
    )
    with op.batch_alter_table("team_membership", schema=None) as batch_op:
        batch_op.drop_index("ix_team_membership_team_user")
        batch_op.drop_index(batch_op.f("ix_team_membership_organisation_id"))
    op.drop_table("team_membership")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_organisation_id"))
    op.drop_table("team")
