"""The supervisor's dashboard: aggregate figures of one organisation, small groups hidden.

The whole organisation (no filter) is read from its running totals in `dashboard_total`
(a few dozen rows, kept by `app.dashboards.summary` when answers, sessions and
trajectories change), so its cost does not grow with the number of answers. A selection
(sector, coach cohort, period) is computed with GROUP BY queries: the trajectories, their
finished sessions, and the summary table `subscale_change` (one row per trajectory,
subscale and comparison), whose n, Σd, Σd², min, max and reliable-change counts
`stats.paired_change_from_sums` turns into the group figures. Distinct people are
counted exactly wherever they decide whether a figure is shown. Nothing here returns a
name, a text or one person's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, distinct, func, tuple_
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.dashboards.stats import (
    MIN_CELL,
    PairedChange,
    paired_change_from_sums,
    selection_is_safe,
    suppress_row,
)
from app.dashboards.summary import COMPARISONS, FINISHED, INSTRUMENTS, change_cell
from app.deps import Actor
from app.i18n import local_zone
from app.instruments.loader import builtin_definition
from app.instruments.schema import Translation
from app.models import (
    DashboardTotal,
    FocusRelationship,
    ReflectionSession,
    SubscaleChange,
    Team,
    TeamMembership,
    Trajectory,
    TrajectoryStatus,
    User,
)
from app.models.reflection import Sector
from app.programmes.loader import builtin_programme
from app.reflection.service import DEFAULT_PROGRAMME


@dataclass(frozen=True)
class Filters:
    """Which trajectories the dashboard covers; None means "all"."""

    sector: str | None = None
    coach_id: int | None = None
    started_from: date | None = None
    started_to: date | None = None
    team_id: int | None = None
    location: str | None = None

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (
                self.sector,
                self.coach_id,
                self.started_from,
                self.started_to,
                self.team_id,
                self.location,
            )
        )

    def wider(self) -> list[Filters]:
        """Every selection with one filter fewer (what a filter difference compares with)."""
        out = []
        if self.sector is not None:
            out.append(replace(self, sector=None))
        if self.coach_id is not None:
            out.append(replace(self, coach_id=None))
        if self.started_from is not None or self.started_to is not None:
            out.append(replace(self, started_from=None, started_to=None))
        if self.team_id is not None:
            out.append(replace(self, team_id=None))
        if self.location is not None:
            out.append(replace(self, location=None))
        return out

    def partitions(self) -> list[tuple[str, str, Filters]]:
        """The filters that pick one group of a partition (sector, coach, team, location):
        (dimension, the chosen group's cell, the selection without this filter)."""
        out = []
        if self.sector is not None:
            out.append(("sector", self.sector, replace(self, sector=None)))
        if self.coach_id is not None:
            out.append(("coach", str(self.coach_id), replace(self, coach_id=None)))
        if self.team_id is not None:
            out.append(("team", str(self.team_id), replace(self, team_id=None)))
        if self.location is not None:
            out.append(("location", self.location, replace(self, location=None)))
        return out


@dataclass(frozen=True)
class SectorRow:
    sector: str
    professionals: int | None  # None: hidden, fewer than MIN_CELL
    started: int | None
    completed: int | None


@dataclass(frozen=True)
class FunnelStep:
    position: int
    template_key: str
    completed: int | None  # trajectories that completed this session; None: hidden


@dataclass(frozen=True)
class ChangeRow:
    """Change on one subscale from intake to one later measurement, for the whole group."""

    instrument_key: str
    instrument_title: Translation
    subscale_key: str
    label: Translation
    higher_is_better: bool
    comparison: str
    n: int | None  # pairs; None: hidden, fewer than MIN_CELL people
    change: PairedChange | None
    share_improved: float | None  # None: hidden or unknown
    share_unchanged: float | None
    share_deteriorated: float | None


@dataclass(frozen=True)
class CoachOption:
    id: int
    name: str


@dataclass(frozen=True)
class TeamOption:
    id: int
    name: str
    location: str


@dataclass
class Dashboard:
    filters: Filters
    withheld: bool = False  # the selection differs from a wider one by too few people
    professional_accounts: int | None = None
    professionals: int | None = None
    started: int | None = None
    completed: int | None = None
    sectors: list[SectorRow] = field(default_factory=list)
    funnel: list[FunnelStep] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    coaches: list[CoachOption] = field(default_factory=list)
    teams: list[TeamOption] = field(default_factory=list)
    min_cell: int = MIN_CELL

    @property
    def locations(self) -> list[str]:
        """The locations of the organisation's teams (for the location filter)."""
        return sorted({team.location for team in self.teams if team.location})


def _shown(value: int, people: int) -> int | None:
    return value if people >= MIN_CELL else None


def _conditions(organisation_id: int, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Trajectory.organisation_id) == organisation_id,
        col(FocusRelationship.organisation_id) == organisation_id,
    ]
    if filters.sector is not None:
        conditions.append(col(FocusRelationship.sector) == filters.sector)
    if filters.coach_id is not None:
        conditions.append(col(Trajectory.coach_id) == filters.coach_id)
    if filters.started_from is not None:
        # Days are the reader's days: midnight in the app's local time zone.
        start = datetime.combine(filters.started_from, time.min, tzinfo=local_zone())
        conditions.append(col(Trajectory.created_at) >= start)
    if filters.started_to is not None:
        end = datetime.combine(filters.started_to + timedelta(days=1), time.min, local_zone())
        conditions.append(col(Trajectory.created_at) < end)
    # A team is a group of people, so these select the trajectories of its current members.
    if filters.team_id is not None:
        conditions.append(
            col(Trajectory.professional_id).in_(
                sql_select(col(TeamMembership.user_id)).where(
                    col(TeamMembership.organisation_id) == organisation_id,
                    col(TeamMembership.team_id) == filters.team_id,
                )
            )
        )
    if filters.location is not None:
        conditions.append(
            col(Trajectory.professional_id).in_(
                sql_select(col(TeamMembership.user_id))
                .join(Team, col(Team.id) == col(TeamMembership.team_id))
                .where(
                    col(TeamMembership.organisation_id) == organisation_id,
                    col(Team.organisation_id) == organisation_id,
                    col(Team.location) == filters.location,
                )
            )
        )
    return conditions


def _join_focus() -> Any:
    return col(FocusRelationship.id) == col(Trajectory.focus_relationship_id)


Totals = dict[str, dict[str, DashboardTotal]]  # kind → cell → running total


#: The kinds of running totals every dashboard reads: a few dozen rows, whatever the size
#: of the organisation (the rows per coach, team and location are read only when needed).
PAGE_TOTALS = ("change", "funnel", "participation", "accounts")


def _load_totals(session: Session, organisation_id: int, kinds: Sequence[str]) -> Totals:
    totals: Totals = {kind: {} for kind in kinds}
    for total in session.execute(
        sql_select(DashboardTotal).where(
            col(DashboardTotal.organisation_id) == organisation_id,
            col(DashboardTotal.kind).in_(kinds),
        )
    ).scalars():
        totals[total.kind][total.cell] = total
    return totals


def _professionals(session: Session, organisation_id: int, filters: Filters, totals: Totals) -> int:
    if not filters.active:  # the whole organisation: its running total
        whole = totals["participation"].get("all")
        return whole.people if whole else 0
    count = session.exec(
        select(func.count(distinct(col(Trajectory.professional_id))))
        .join(FocusRelationship, _join_focus())
        .where(*_conditions(organisation_id, filters))
    ).one()
    return int(count or 0)


def _people_by(
    session: Session, organisation_id: int, dimension: str, filters: Filters, totals: Totals
) -> dict[str, int]:
    """People per group of one partition (sector, coach, team, location) in a selection;
    cell "" holds those in no group (no coach, no team, no known location)."""
    if not filters.active:  # the whole organisation: the running totals have the groups
        if dimension == "sector":
            return {
                cell.removeprefix("sector/"): t.people
                for cell, t in totals["participation"].items()
                if cell.startswith("sector/")
            }
        if dimension not in totals:
            totals.update(_load_totals(session, organisation_id, [dimension]))
        return {cell: t.people for cell, t in totals[dimension].items()}
    people = func.count(distinct(col(Trajectory.professional_id)))
    query = sql_select(people).select_from(Trajectory).join(FocusRelationship, _join_focus())
    group: Any
    if dimension == "sector":
        group = col(FocusRelationship.sector)
    elif dimension == "coach":
        group = col(Trajectory.coach_id)
    else:
        member = (col(TeamMembership.user_id) == col(Trajectory.professional_id)) & (
            col(TeamMembership.organisation_id) == organisation_id
        )
        query = query.outerjoin(TeamMembership, member)
        group = col(TeamMembership.team_id)
        if dimension == "location":
            query = query.outerjoin(Team, col(Team.id) == col(TeamMembership.team_id))
            group = func.coalesce(col(Team.location), "")
    rows = session.execute(
        query.add_columns(group).where(*_conditions(organisation_id, filters)).group_by(group)
    ).all()
    return {("" if value is None else str(value)): int(n) for n, value in rows}


def _partitions_are_safe(
    session: Session, organisation_id: int, filters: Filters, totals: Totals
) -> bool:
    """Whether each chosen group (a sector, coach, team or location) would be shown in the
    breakdown of the selection without that filter, with complementary suppression.

    Otherwise the group could be worked out from its siblings: with teams of 20, 3 and
    20 people, the small team is hidden, and so must one other be, or the whole minus
    the two big teams gives the small one away.
    """
    for dimension, chosen, without in filters.partitions():
        groups = _people_by(session, organisation_id, dimension, without, totals)
        if groups.get(chosen, 0) < MIN_CELL:
            return False
        cells = sorted((cell, n) for cell, n in groups.items() if n > 0)
        total = _professionals(session, organisation_id, without, totals)
        hidden = suppress_row([n for _cell, n in cells], total=total)
        if any(h for (cell, _n), h in zip(cells, hidden, strict=True) if cell == chosen):
            return False
    return True


def coach_options(session: Session, *, actor: Actor) -> list[CoachOption]:
    """The coaches with trajectories in the organisation (for the cohort filter)."""
    # Their ids are the cells of the running totals per coach (one row per coach).
    rows = session.execute(  # Core rows: hundreds of them in a large organisation
        sql_select(col(User.id), col(User.display_name))
        .select_from(DashboardTotal)
        .join(User, col(User.id) == cast(col(DashboardTotal.cell), Integer))
        .where(
            col(DashboardTotal.organisation_id) == actor.organisation_id,
            col(DashboardTotal.kind) == "coach",
            col(DashboardTotal.cell) != "",
            col(DashboardTotal.n) > 0,
            col(User.organisation_id) == actor.organisation_id,
        )
        .order_by(col(User.display_name), col(User.id))
    ).all()
    return [CoachOption(int(id_), name) for id_, name in rows if id_ is not None]


def team_options(session: Session, *, actor: Actor) -> list[TeamOption]:
    """The organisation's teams (for the team and location filters)."""
    rows = session.execute(
        sql_select(col(Team.id), col(Team.name), col(Team.location))
        .where(col(Team.organisation_id) == actor.organisation_id)
        .order_by(col(Team.location), col(Team.name), col(Team.id))
    ).all()
    return [TeamOption(int(id_), name, location) for id_, name, location in rows if id_]


def dashboard(
    session: Session,
    *,
    actor: Actor,
    filters: Filters,
    coaches: list[CoachOption] | None = None,
    teams: list[TeamOption] | None = None,
) -> Dashboard:
    """The dashboard figures of the actor's organisation for one selection."""
    org = actor.organisation_id
    if coaches is None:
        coaches = coach_options(session, actor=actor)
    if teams is None:
        teams = team_options(session, actor=actor)
    result = Dashboard(filters=filters, coaches=coaches, teams=teams)
    # The running totals (a few dozen rows, plus one per coach, team and location).
    totals = _load_totals(session, org, PAGE_TOTALS)
    accounts = totals["accounts"].get("professional")
    result.professional_accounts = _shown(accounts.n, accounts.n) if accounts else 0

    completed = col(Trajectory.status) == TrajectoryStatus.completed.value
    started_people = func.count(distinct(col(Trajectory.professional_id)))
    completed_people = func.count(distinct(case((completed, col(Trajectory.professional_id)))))
    # One row per trajectory, so count(*) counts trajectories.
    completed_trajectories = func.count(case((completed, 1)))
    conditions = _conditions(org, filters)
    sector_rows: Sequence[Sequence[Any]]
    if filters.active:
        trajectories, people, done, done_people = session.execute(
            sql_select(func.count(), started_people, completed_trajectories, completed_people)
            .select_from(Trajectory)
            .join(FocusRelationship, _join_focus())
            .where(*conditions)
        ).one()
        wider = [_professionals(session, org, w, totals) for w in filters.wider()]
        if not selection_is_safe(int(people), wider) or not _partitions_are_safe(
            session, org, filters, totals
        ):
            result.withheld = True
            return result
        if filters.sector is not None:  # one sector: the counts just made
            sector_rows = [(filters.sector, trajectories, people, done, done_people)]
        else:
            sector_rows = session.execute(
                sql_select(
                    col(FocusRelationship.sector),
                    func.count(),
                    started_people,
                    completed_trajectories,
                    completed_people,
                )
                .select_from(Trajectory)
                .join(FocusRelationship, _join_focus())
                .where(*conditions)
                .group_by(FocusRelationship.sector)
                .order_by(FocusRelationship.sector)
            ).all()
    else:
        # The whole organisation: its running totals.
        participation = totals["participation"]
        whole = participation.get("all")
        trajectories, people, done, done_people = (
            (whole.n, whole.people, whole.completed, whole.completed_people) if whole else (0,) * 4
        )
        sector_rows = [
            (cell.removeprefix("sector/"), t.n, t.people, t.completed, t.completed_people)
            for cell, t in sorted(participation.items())
            if cell.startswith("sector/") and t.n
        ]
    result.professionals = _shown(people, people)
    result.started = _shown(trajectories, people)
    result.completed = _shown(done, done_people)

    hide_people = suppress_row([r[2] for r in sector_rows], total=people)
    hide_done = suppress_row([r[4] for r in sector_rows], total=done_people)
    result.sectors = [
        SectorRow(
            sector=str(sector),
            professionals=None if hide_p else n_people,
            started=None if hide_p else n_started,
            completed=None if hide_d else n_done,
        )
        for (sector, n_started, n_people, n_done, _), hide_p, hide_d in zip(
            sector_rows, hide_people, hide_done, strict=True
        )
    ]
    # Trajectories beyond one per professional: any group of n trajectories belongs to at
    # least n − extra people, so a group that big needs no count of distinct people.
    extra = int(trajectories) - int(people)
    if filters.active:
        selected = (
            sql_select(col(Trajectory.id))
            .join(FocusRelationship, _join_focus())
            .where(*conditions)
            .scalar_subquery()
        )
        result.funnel = _funnel_selected(session, org, selected, extra)
        whole = totals["participation"].get("all")
        # More than an eighth of the organisation: reading the whole index is cheaper.
        broad = whole is not None and 8 * int(trajectories) > whole.n
        result.changes = _changes_selected(session, org, selected, extra, broad=broad)
    else:
        result.funnel = _funnel_from_totals(session, org, totals["funnel"], extra)
        result.changes = _changes_from_totals(session, org, totals["change"], extra)
    if trajectories:
        result.funnel = _with_every_session(result.funnel)
    return result


def _with_every_session(funnel: list[FunnelStep]) -> list[FunnelStep]:
    """The programme's sessions in order, a session nobody finished yet included."""
    steps = list(funnel)
    present = {step.template_key for step in funnel}
    programme = builtin_programme(DEFAULT_PROGRAMME)
    for position, template in enumerate(programme.sessions):  # as start_trajectory numbers
        if template.key not in present:
            steps.append(FunnelStep(position, template.key, None))
    return sorted(steps, key=lambda step: (step.position, step.template_key))


def _funnel_selected(
    session: Session, organisation_id: int, selected: Any, extra: int
) -> list[FunnelStep]:
    """The funnel of the selected trajectories (`selected`: a subquery of their ids)."""
    finished = (
        col(ReflectionSession.organisation_id) == organisation_id,
        col(ReflectionSession.status).in_(FINISHED),
        col(ReflectionSession.trajectory_id).in_(selected),
    )
    rows = session.execute(
        sql_select(
            col(ReflectionSession.position),
            col(ReflectionSession.template_key),
            func.count(),  # one session per trajectory and template
        )
        .where(*finished)
        .group_by(col(ReflectionSession.position), col(ReflectionSession.template_key))
    ).all()
    out = []
    for position, key, n in rows:
        people = n
        if n - extra < MIN_CELL:  # small enough that the number of people matters
            people = session.execute(
                sql_select(func.count(distinct(col(Trajectory.professional_id))))
                .select_from(ReflectionSession)
                .join(Trajectory, col(Trajectory.id) == col(ReflectionSession.trajectory_id))
                .where(
                    *finished,
                    col(ReflectionSession.position) == position,
                    col(ReflectionSession.template_key) == key,
                )
            ).scalar_one()
        out.append(FunnelStep(int(position), str(key), _shown(n, people)))
    return out


def _funnel_from_totals(
    session: Session, organisation_id: int, totals: dict[str, DashboardTotal], extra: int
) -> list[FunnelStep]:
    out = []
    for cell, total in totals.items():
        position_text, _slash, key = cell.partition("/")
        position = int(position_text)
        people = total.n
        if total.n - extra < MIN_CELL:
            people = int(
                session.execute(
                    sql_select(func.count(distinct(col(Trajectory.professional_id))))
                    .select_from(ReflectionSession)
                    .join(Trajectory, col(Trajectory.id) == col(ReflectionSession.trajectory_id))
                    .where(
                        col(ReflectionSession.organisation_id) == organisation_id,
                        col(ReflectionSession.position) == position,
                        col(ReflectionSession.template_key) == key,
                        col(ReflectionSession.status).in_(FINISHED),
                    )
                ).scalar_one()
            )
        if total.n > 0:
            out.append(FunnelStep(position, key, _shown(total.n, people)))
    return out


def _changes_from_totals(
    session: Session, organisation_id: int, totals: dict[str, DashboardTotal], extra: int
) -> list[ChangeRow]:
    cells: dict[tuple[str, str, str], Cell] = {}
    for key in INSTRUMENTS:
        for subscale in builtin_definition(key).subscales:
            for comparison in COMPARISONS:
                total = totals.get(change_cell(key, subscale.key, comparison))
                if total is None or total.n <= 0:
                    continue
                people = total.n
                if total.n - extra < MIN_CELL:  # small enough to count exactly, cheaply
                    people = int(
                        session.execute(
                            sql_select(
                                func.count(distinct(col(SubscaleChange.professional_id)))
                            ).where(
                                col(SubscaleChange.organisation_id) == organisation_id,
                                col(SubscaleChange.instrument_key) == key,
                                col(SubscaleChange.subscale_key) == subscale.key,
                                col(SubscaleChange.comparison) == comparison,
                            )
                        ).scalar_one()
                    )
                cells[(key, subscale.key, comparison)] = Cell(
                    n=total.n,
                    people=people,
                    total=total.total,
                    squares=total.squares,
                    no_spread=None,
                    judged=total.judged,
                    improved=total.improved,
                    deteriorated=total.deteriorated,
                )
    return _change_rows(cells)


@dataclass(frozen=True)
class Cell:
    """The sums behind one change row."""

    n: int
    people: int
    total: float
    squares: float
    no_spread: bool | None  # None: judge from the sums
    judged: int
    improved: int
    deteriorated: int


def _change_rows(cells: dict[tuple[str, str, str], Cell]) -> list[ChangeRow]:
    out: list[ChangeRow] = []
    for key in INSTRUMENTS:
        definition = builtin_definition(key)
        for subscale in definition.subscales:
            for comparison in COMPARISONS:
                cell = cells.get((key, subscale.key, comparison))
                out.append(_change_row(key, definition.title, subscale, comparison, cell))
    return out


def _changes_selected(
    session: Session, organisation_id: int, selected: Any, extra: int, *, broad: bool
) -> list[ChangeRow]:
    """The change rows of the selected trajectories (`selected`: a subquery of their ids).

    A broad selection (a sector, a location) reads ix_subscale_change_dashboard from end
    to end, in group order, and keeps the rows of the selected trajectories: no table
    rows, no sort. A narrow one (a team, a coach) looks up its few trajectories instead.
    SQLite's planner would take the lookups for both, so for a broad selection the
    trajectory column is wrapped (+ 0) and its index not considered.
    """
    reliable = col(SubscaleChange.reliable)
    change = col(SubscaleChange.change)
    group = (
        col(SubscaleChange.instrument_key),
        col(SubscaleChange.subscale_key),
        col(SubscaleChange.comparison),
    )
    trajectory: Any = col(SubscaleChange.trajectory_id)
    where = (
        col(SubscaleChange.organisation_id) == organisation_id,
        col(SubscaleChange.instrument_key).in_(INSTRUMENTS),
        (trajectory + 0 if broad else trajectory).in_(selected),
    )
    rows = session.execute(
        sql_select(
            *group,
            func.count(),
            func.sum(change),
            func.sum(change * change),
            func.min(change),
            func.max(change),
            func.count(reliable),
            func.sum(case((reliable == 1, 1), else_=0)),
            func.sum(case((reliable == -1, 1), else_=0)),
        )
        .where(*where)
        .group_by(*group)
    ).all()
    # n pairs belong to at least n − extra people; count exactly only below MIN_CELL.
    small = [(r[0], r[1], r[2]) for r in rows if int(r[3]) - extra < MIN_CELL]
    people: dict[tuple[str, str, str], int] = {}
    if small:
        people = {
            (key, subscale, comparison): int(n)
            for key, subscale, comparison, n in session.execute(
                sql_select(*group, func.count(distinct(col(SubscaleChange.professional_id))))
                .where(*where, tuple_(*group).in_(small))
                .group_by(*group)
            )
        }
    cells = {
        (r[0], r[1], r[2]): Cell(
            n=int(r[3]),
            people=people.get((r[0], r[1], r[2]), int(r[3])),
            total=float(r[4]),
            squares=float(r[5]),
            no_spread=r[6] == r[7],
            judged=int(r[8]),
            improved=int(r[9] or 0),
            deteriorated=int(r[10] or 0),
        )
        for r in rows
    }
    return _change_rows(cells)


def _change_row(
    key: str, title: Translation, subscale: Any, comparison: str, cell: Cell | None
) -> ChangeRow:
    base = ChangeRow(
        instrument_key=key,
        instrument_title=title,
        subscale_key=subscale.key,
        label=subscale.label,
        higher_is_better=subscale.higher_is_better,
        comparison=comparison,
        n=None,
        change=None,
        share_improved=None,
        share_unchanged=None,
        share_deteriorated=None,
    )
    if cell is None or cell.people < MIN_CELL or cell.n < MIN_CELL:
        return base
    known = cell.judged == cell.n  # every pair has a reliable-change verdict
    change = paired_change_from_sums(
        n=cell.n,
        total=cell.total,
        total_squares=cell.squares,
        no_spread=cell.no_spread,
        improved=cell.improved if known else None,
        deteriorated=cell.deteriorated if known else None,
    )
    shares: list[float | None] = [None, None, None]
    if change.improved is not None and change.deteriorated is not None:
        counts = [change.improved, change.unchanged or 0, change.deteriorated]
        hidden = suppress_row(counts, total=change.n)
        shares = [None if h else c / change.n for c, h in zip(counts, hidden, strict=True)]
    return replace(
        base,
        n=change.n,
        change=change,
        share_improved=shares[0],
        share_unchanged=shares[1],
        share_deteriorated=shares[2],
    )


def known_sectors() -> list[str]:
    """The sectors a supervisor can filter on."""
    return [s.value for s in Sector]
