"""Summary rows the supervisor's dashboard aggregates; derived data, rebuilt from responses."""

from __future__ import annotations

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class SubscaleChange(SQLModel, table=True):
    """One trajectory's change on one subscale from the intake to a later measurement.

    Written by `app.dashboards.summary` whenever a questionnaire response of the trajectory
    is completed, so that the dashboard sums these rows in SQL instead of pairing scores in
    Python. `reliable` is the Jacobson & Truax verdict: 1 reliably improved, −1 reliably
    deteriorated, 0 neither, NULL when the subscale has no reliable-change parameters.
    """

    __tablename__ = "subscale_change"
    __table_args__ = (
        UniqueConstraint("trajectory_id", "instrument_key", "subscale_key", "comparison"),
        # Covers the dashboard's queries: group columns first, then the selected
        # trajectory and what it sums, so a selection reads the index in group order.
        Index(
            "ix_subscale_change_dashboard",
            "organisation_id",
            "instrument_key",
            "subscale_key",
            "comparison",
            "trajectory_id",
            "professional_id",
            "change",
            "reliable",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    # The unique constraint's index (trajectory_id first) serves the per-trajectory rebuild.
    trajectory_id: int = Field(foreign_key="trajectory.id", ondelete="CASCADE")
    professional_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    instrument_key: str = Field(max_length=60)
    subscale_key: str = Field(max_length=60)
    comparison: str = Field(max_length=20)
    change: float
    reliable: int | None = None


class DashboardTotal(SQLModel, table=True):
    """Running sums of one figure of one organisation, so the whole-organisation dashboard
    reads a few dozen rows instead of scanning every session and every change.

    kind "change": cell "instrument/subscale/comparison", the sums of `subscale_change`
    (n pairs, Σ change, Σ change², how many have a reliable-change verdict, how many
    improved, deteriorated). kind "funnel": cell "position/template key", n = sessions
    finished. Kept by `app.dashboards.summary` with additive updates in the same
    transaction as the change. kind "participation": cell "all" or "sector/<sector>",
    n = trajectories started, people = professionals among them, completed and
    completed_people likewise; distinct people do not add up, so these are recounted
    (one GROUP BY) whenever a trajectory starts, completes, is archived or changes
    sector. kinds "coach", "team" and "location": cell the coach id, team id or location
    ("" for none), the same four counts, recounted with the participation and when
    someone changes team or a team its location. kind "accounts": cell "professional",
    n = active professional accounts, recounted when an account is created,
    (de)activated or erased and when the professional role is given or taken.
    `rebuild_totals` recomputes everything from the base tables.
    """

    __tablename__ = "dashboard_total"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "cell"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    kind: str = Field(max_length=20)
    cell: str = Field(max_length=200)
    n: int = 0
    people: int = 0
    completed: int = 0
    completed_people: int = 0
    total: float = 0.0
    squares: float = 0.0
    judged: int = 0
    improved: int = 0
    deteriorated: int = 0
