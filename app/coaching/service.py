"""The coach's workspace: caseload with attention flags, one whole trajectory, feedback."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.deps import Actor
from app.instruments.loader import builtin_definition
from app.instruments.reliable_change import (
    ChangeClass,
    ReliableChange,
    reliable_change,
)
from app.models import (
    CoachAssignment,
    Coding,
    CodingEvidence,
    DiaryEntry,
    ExperimentLogEntry,
    Feedback,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    ReflectionSession,
    SessionStatus,
    Trajectory,
    User,
    utcnow,
)
from app.programmes.loader import builtin_programme
from app.programmes.schema import ProgrammeDefinition
from app.reflection.baselines import Parameters, organisation_parameters

STALL_DAYS = 14
HIGH_STRAIN = 60.0  # on the 0–100 strain scale: "often" or more on average
EMOTIONS = ("anger", "helplessness", "anxiety", "joy", "guilt", "pride")
EXPRESSIONS = ("genuine", "hidden", "faked", "reappraised")
# An emotion or expression counts as present in an entry from "moderately" (2 of 0–4).
PRESENT = 2
OPEN = (SessionStatus.open, SessionStatus.in_progress)
DONE = (SessionStatus.completed, SessionStatus.reviewed, SessionStatus.skipped)


# ------------------------------------------------------------------ rows read for display

# The coach's pages read a trajectory's sessions, answers, questionnaires and diary as
# plain rows, not ORM objects: they only show them, and a long trajectory's rows load
# several times faster so (making and tracking an ORM object costs more than reading its
# row). Each type's fields are columns of its table, by name, and its statements select
# exactly these, in this order (`_columns`).


class SessionRow(NamedTuple):
    """A reflection session, read-only."""

    id: int
    trajectory_id: int
    position: int
    template_key: str
    phase: str
    status: str
    current_step: str
    suggested_date: date | None
    scheduled_at: datetime | None
    schedule_sequence: int
    opened_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    last_activity_at: datetime | None


class AnswerRow(NamedTuple):
    """A narrative answer, read-only."""

    id: int
    session_id: int
    step_key: str
    text: str
    words: list[str]
    version: int
    saved_at: datetime
    submitted_at: datetime | None
    coach_entered: bool


class ResponseRow(NamedTuple):
    """A questionnaire response with its scores, read-only."""

    id: int
    session_id: int
    trajectory_id: int
    step_key: str
    phase: str
    instrument_key: str
    instrument_version: int
    scores: dict[str, Any]
    completed_at: datetime | None


class DiaryRow(NamedTuple):
    """A diary moment, read-only."""

    id: int
    trajectory_id: int
    occurred_on: date
    phase: str
    instrument_version: int
    values: dict[str, Any]


def _columns(model: Any, row: type[tuple[Any, ...]]) -> list[Any]:
    """The model's columns named by the row type's fields, in the same order."""
    return [getattr(model, name) for name in row._fields]  # type: ignore[attr-defined]


_SESSION_COLUMNS = _columns(ReflectionSession, SessionRow)
_RESPONSE_COLUMNS = _columns(InstrumentResponse, ResponseRow)


# ------------------------------------------------------------------ change over time


@dataclass
class MeasurePoint:
    session_id: int
    template_key: str
    phase: str
    value: float | None
    change: ReliableChange | None = None


@dataclass
class SubscaleSeries:
    instrument_key: str
    instrument_title: dict[str, str]
    subscale_key: str
    label: dict[str, str]
    higher_is_better: bool
    y_min: float
    y_max: float
    points: list[MeasurePoint]

    @property
    def latest_change(self) -> ReliableChange | None:
        for point in reversed(self.points):
            if point.change is not None:
                return point.change
        return None


def subscale_series(
    responses: list[ResponseRow],
    positions: dict[int, SessionRow],
    organisation: dict[tuple[str, int], Parameters],
) -> list[SubscaleSeries]:
    """Every subscale's scores across sessions, each later point compared with the first."""
    by_instrument: dict[str, list[ResponseRow]] = defaultdict(list)
    for response in sorted(responses, key=lambda r: positions[r.session_id].position):
        if response.completed_at is not None:
            by_instrument[response.instrument_key].append(response)
    series: list[SubscaleSeries] = []
    for key, rows in by_instrument.items():
        definition = builtin_definition(key, rows[0].instrument_version)
        if definition.scale is None:
            continue
        rule_max = 100.0 if definition.scoring == "rescale_0_100" else float(definition.scale.max)
        rule_min = 0.0 if definition.scoring == "rescale_0_100" else float(definition.scale.min)
        version = rows[0].instrument_version
        for subscale in definition.subscales:
            # The organisation's own, as the professional's "what changed" page and the
            # report use, so that every page gives the same verdict.
            parameters = organisation[(key, version)][subscale.key]
            points: list[MeasurePoint] = []
            first = rows[0].scores.get(subscale.key)
            for index, response in enumerate(rows):
                value = response.scores.get(subscale.key)
                change = None
                if index and parameters and first is not None and value is not None:
                    change = reliable_change(
                        first, value, parameters, higher_is_better=subscale.higher_is_better
                    )
                owner = positions[response.session_id]
                points.append(
                    MeasurePoint(owner.id, owner.template_key, owner.phase, value, change)
                )
            series.append(
                SubscaleSeries(
                    instrument_key=key,
                    instrument_title={"nl": definition.title.nl, "en": definition.title.en},
                    subscale_key=subscale.key,
                    label={"nl": subscale.label.nl, "en": subscale.label.en},
                    higher_is_better=subscale.higher_is_better,
                    y_min=rule_min,
                    y_max=rule_max,
                    points=points,
                )
            )
    return series


def organisation_change(
    session: Session, *, organisation_id: int, responses: list[ResponseRow]
) -> dict[tuple[str, int], Parameters]:
    """The organisation's change parameters for every questionnaire these responses use
    (two statements, however many; app/reflection/baselines.py)."""
    pairs = {(r.instrument_key, r.instrument_version) for r in responses if r.completed_at}
    return organisation_parameters(session, organisation_id=organisation_id, pairs=pairs)


# ------------------------------------------------------------------ caseload


@dataclass
class CaseloadRow:
    professional: User
    trajectory: Trajectory | None
    pseudonym: str = ""
    next_session: str = ""
    next_status: str = ""
    done_sessions: int = 0
    total_sessions: int = 0
    last_activity: datetime | None = None
    flags: list[str] = field(default_factory=list)


FLAGS = ("stalled", "deterioration", "high_strain", "distress")


def caseload(session: Session, *, actor: Actor, today: date | None = None) -> list[CaseloadRow]:
    """The coach's professionals and their trajectories with attention flags (five queries)."""
    today = today or utcnow().date()
    professionals = list(
        session.exec(
            select(User)
            .join(CoachAssignment, col(CoachAssignment.professional_id) == col(User.id))
            .where(
                CoachAssignment.coach_id == actor.id,
                CoachAssignment.organisation_id == actor.organisation_id,
                col(User.is_active).is_(True),
            )
        ).all()
    )
    ids = [p.id for p in professionals]
    rows_by_trajectory: dict[int, CaseloadRow] = {}
    rows: list[CaseloadRow] = []
    trajectories = session.exec(
        select(Trajectory, FocusRelationship.pseudonym)
        .join(FocusRelationship, col(FocusRelationship.id) == col(Trajectory.focus_relationship_id))
        .where(
            col(Trajectory.professional_id).in_(ids),
            # A stopped programme (consent withdrawn) leaves the caseload like an archived one.
            col(Trajectory.status).not_in(["archived", "stopped"]),
        )
        .order_by(col(Trajectory.created_at))
    ).all()
    with_trajectory: set[int] = set()
    by_id = {p.id: p for p in professionals}
    for trajectory, pseudonym in trajectories:
        row = CaseloadRow(
            professional=by_id[trajectory.professional_id],
            trajectory=trajectory,
            pseudonym=pseudonym,
            last_activity=trajectory.last_activity_at,
        )
        rows.append(row)
        rows_by_trajectory[trajectory.id or 0] = row
        with_trajectory.add(trajectory.professional_id)
    rows.extend(
        CaseloadRow(professional=p, trajectory=None)
        for p in professionals
        if p.id not in with_trajectory
    )
    if not rows_by_trajectory:
        return rows
    sessions = list(
        map(
            SessionRow._make,
            session.execute(
                sql_select(*_SESSION_COLUMNS)
                .where(col(ReflectionSession.trajectory_id).in_(list(rows_by_trajectory)))
                .order_by(col(ReflectionSession.trajectory_id), col(ReflectionSession.position))
            ),
        )
    )
    stall_before = utcnow() - timedelta(days=STALL_DAYS)
    positions = {s.id: s for s in sessions}
    for s in sessions:
        row = rows_by_trajectory[s.trajectory_id]
        row.total_sessions += 1
        if s.status in DONE:
            row.done_sessions += 1
        elif not row.next_session and s.status != SessionStatus.locked:
            row.next_session, row.next_status = s.template_key, s.status
        if s.status in OPEN:
            touched = s.last_activity_at or s.opened_at
            if touched is None and s.suggested_date is not None:
                touched = datetime.combine(
                    s.suggested_date, datetime.min.time(), tzinfo=stall_before.tzinfo
                )
            if touched is not None and touched < stall_before and "stalled" not in row.flags:
                row.flags.append("stalled")
    responses = list(
        map(
            ResponseRow._make,
            session.execute(
                sql_select(*_RESPONSE_COLUMNS).where(
                    col(InstrumentResponse.trajectory_id).in_(list(rows_by_trajectory)),
                    col(InstrumentResponse.completed_at).is_not(None),
                )
            ),
        )
    )
    grouped: dict[int, list[ResponseRow]] = defaultdict(list)
    for response in responses:
        grouped[response.trajectory_id].append(response)
    baselines = organisation_change(
        session, organisation_id=actor.organisation_id, responses=responses
    )
    for trajectory_id, items in grouped.items():
        row = rows_by_trajectory[trajectory_id]
        series = subscale_series(items, positions, baselines)
        if any(
            s.latest_change and s.latest_change.classification is ChangeClass.DETERIORATED
            for s in series
        ):
            row.flags.append("deterioration")
        latest = {s.subscale_key: s.points[-1].value for s in series if s.points}
        strain = [latest.get("work_exhaustion"), latest.get("client_exhaustion")]
        if any(v is not None and v >= HIGH_STRAIN for v in strain):
            row.flags.append("high_strain")
        distress, compassion = latest.get("empathic_distress"), latest.get("compassion")
        if distress is not None and compassion is not None and distress > compassion:
            row.flags.append("distress")
    return rows


def sort_and_filter(rows: list[CaseloadRow], *, sort: str, flag: str) -> list[CaseloadRow]:
    """Caseload rows filtered by one flag and sorted by name, activity or attention."""
    if flag in FLAGS:
        rows = [r for r in rows if flag in r.flags]
    if sort == "activity":
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: r.last_activity or oldest, reverse=True)
    if sort == "attention":
        return sorted(rows, key=lambda r: (-len(r.flags), r.professional.display_name.lower()))
    return sorted(rows, key=lambda r: (r.professional.display_name.lower(), r.pseudonym.lower()))


# ------------------------------------------------------------------ one trajectory


@dataclass
class DiaryPhaseSummary:
    phase: str
    count: int
    mean_valence: float | None
    emotion_share: dict[str, float]
    hidden_or_faked_share: float


@dataclass
class TrajectoryView:
    trajectory: Trajectory
    programme: ProgrammeDefinition
    professional: User
    relationship: FocusRelationship
    sessions: list[SessionRow]
    answers: list[AnswerRow]
    responses: list[ResponseRow]
    diary: list[DiaryRow]
    experiments: list[ExperimentLogEntry]
    codings: list[Coding]
    evidence: list[CodingEvidence]
    feedback: list[Feedback]
    coaches: dict[int, str]
    series: list[SubscaleSeries] = field(default_factory=list)

    def answers_by_step(self) -> dict[str, list[tuple[SessionRow, AnswerRow]]]:
        """Answers to the same step key across sessions, in programme order."""
        by_session = {s.id: s for s in self.sessions}
        found: dict[str, list[tuple[SessionRow, AnswerRow]]] = defaultdict(list)
        for answer in self.answers:
            owner = by_session[answer.session_id]
            found[answer.step_key].append((owner, answer))
        for items in found.values():
            items.sort(key=lambda pair: pair[0].position)
        return dict(found)

    def repeated_steps(self) -> list[tuple[str, list[tuple[SessionRow, AnswerRow]]]]:
        """Prompts answered in more than one session, to read side by side."""
        return [(k, v) for k, v in self.answers_by_step().items() if len(v) > 1]

    def diary_by_phase(self) -> list[DiaryPhaseSummary]:
        """Means, emotion frequencies and the share of hidden or faked feelings per phase."""
        grouped: dict[str, list[DiaryRow]] = defaultdict(list)
        for entry in self.diary:
            grouped[entry.phase].append(entry)
        order: dict[str, int] = {t.phase: i for i, t in enumerate(self.programme.sessions)}
        summaries = []
        for phase, entries in sorted(grouped.items(), key=lambda kv: order.get(kv[0], 99)):
            # One pass over the entries (a long diary has hundreds of them).
            numbers: list[int] = []
            present = dict.fromkeys(EMOTIONS, 0)
            masked = 0
            for e in entries:
                values = e.values
                valence = values.get("valence")
                if isinstance(valence, int):
                    numbers.append(valence)
                # Only the feelings an entry holds (a JSON number); the rest count as absent.
                for emotion, value in values.items():
                    if emotion in present and type(value) is int and value >= PRESENT:
                        present[emotion] += 1
                if _int(values.get("hidden")) >= PRESENT or _int(values.get("faked")) >= PRESENT:
                    masked += 1
            share = {emotion: present[emotion] / len(entries) for emotion in EMOTIONS}
            summaries.append(
                DiaryPhaseSummary(
                    phase=phase,
                    count=len(entries),
                    mean_valence=sum(numbers) / len(numbers) if numbers else None,
                    emotion_share=share,
                    hidden_or_faked_share=masked / len(entries),
                )
            )
        return summaries

    def timeline(self) -> list[tuple[datetime | date, str, Any]]:
        """Sessions and diary entries in the order they happened."""
        events: list[tuple[datetime | date, str, Any]] = []
        for s in self.sessions:
            if s.completed_at:
                events.append((s.completed_at.date(), "session", s))
            elif s.started_at:
                events.append((s.started_at.date(), "session_started", s))
        events.extend((e.occurred_on, "diary", e) for e in self.diary)
        events.extend((e.occurred_on, "experiment", e) for e in self.experiments)
        return sorted(events, key=lambda item: (item[0], item[1]))


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


# The trajectory page's statements, built once (making a statement and its cache key
# anew cost about as much as running it). What belongs together is read together: the
# professional with the relationship, the codings with their evidence, and the coaches'
# names with the codings and the feedback.
_PEOPLE = (
    select(User, FocusRelationship)
    .join(FocusRelationship, col(FocusRelationship.id) == bindparam("relationship_id"))
    .where(col(User.id) == bindparam("professional_id"))
)
# The sessions in order, each with its narrative answers (one row per answer; a session
# without answers has one row with the answer's columns empty).
_SESSIONS = (
    sql_select(*_SESSION_COLUMNS, *_columns(NarrativeAnswer, AnswerRow))
    .outerjoin(NarrativeAnswer, col(NarrativeAnswer.session_id) == col(ReflectionSession.id))
    .where(col(ReflectionSession.trajectory_id) == bindparam("trajectory_id"))
    .order_by(col(ReflectionSession.position), col(NarrativeAnswer.id))
)
_SESSION_WIDTH = len(SessionRow._fields)
_RESPONSES = sql_select(*_RESPONSE_COLUMNS).where(
    col(InstrumentResponse.trajectory_id) == bindparam("trajectory_id")
)
_DIARY = (
    sql_select(*_columns(DiaryEntry, DiaryRow))
    .where(col(DiaryEntry.trajectory_id) == bindparam("trajectory_id"))
    .order_by(col(DiaryEntry.occurred_on), col(DiaryEntry.id))
)
_EXPERIMENTS = (
    select(ExperimentLogEntry)
    .where(col(ExperimentLogEntry.trajectory_id) == bindparam("trajectory_id"))
    .order_by(col(ExperimentLogEntry.occurred_on))
)
_CODINGS = (
    select(Coding, CodingEvidence, User.display_name)
    .outerjoin(CodingEvidence, col(CodingEvidence.coding_id) == col(Coding.id))
    .outerjoin(User, col(User.id) == col(Coding.coach_id))
    .where(col(Coding.trajectory_id) == bindparam("trajectory_id"))
    .order_by(col(Coding.id), col(CodingEvidence.id))
)
_FEEDBACK = (
    select(Feedback, User.display_name)
    .outerjoin(User, col(User.id) == col(Feedback.coach_id))
    .where(col(Feedback.trajectory_id) == bindparam("trajectory_id"))
    .order_by(col(Feedback.created_at), col(Feedback.id))
)


def load_trajectory_view(
    session: Session,
    *,
    trajectory: Trajectory,
    people: tuple[User, FocusRelationship] | None = None,
) -> TrajectoryView:
    """Everything on the coach's trajectory page, in a fixed number of queries.

    `people` are the trajectory's professional and relationship when the caller has read
    them already (the page's access check does).
    """
    programme = builtin_programme(trajectory.programme_key, trajectory.programme_version)
    if people is None:
        people = session.exec(
            _PEOPLE,
            params={
                "relationship_id": trajectory.focus_relationship_id,
                "professional_id": trajectory.professional_id,
            },
        ).first()
        assert people is not None
    professional, relationship = people
    by_trajectory = {"trajectory_id": trajectory.id}
    sessions: list[SessionRow] = []
    answers: list[AnswerRow] = []
    width = _SESSION_WIDTH
    # Plain Core statements on the session's connection: no ORM result machinery.
    connection = session.connection()
    for row in connection.execute(_SESSIONS, by_trajectory).all():
        if not sessions or sessions[-1].id != row[0]:
            sessions.append(SessionRow._make(row[:width]))
        if row[width] is not None:
            answers.append(AnswerRow._make(row[width:]))
    responses = list(map(ResponseRow._make, connection.execute(_RESPONSES, by_trajectory).all()))
    diary = list(map(DiaryRow._make, connection.execute(_DIARY, by_trajectory).all()))
    experiments = list(session.exec(_EXPERIMENTS, params=by_trajectory).all())
    coaches: dict[int, str] = {}
    codings: list[Coding] = []
    evidence: list[CodingEvidence] = []
    for coding, quote, coach_name in session.exec(_CODINGS, params=by_trajectory).all():
        if not codings or codings[-1] is not coding:
            codings.append(coding)
        if quote is not None:
            evidence.append(quote)
        if coach_name is not None and coding.coach_id:
            coaches[coding.coach_id] = coach_name
    evidence.sort(key=lambda e: e.id or 0)
    feedback: list[Feedback] = []
    for item, coach_name in session.exec(_FEEDBACK, params=by_trajectory).all():
        feedback.append(item)
        if coach_name is not None and item.coach_id:
            coaches[item.coach_id] = coach_name
    view = TrajectoryView(
        trajectory=trajectory,
        programme=programme,
        professional=professional,
        relationship=relationship,
        sessions=sessions,
        answers=answers,
        responses=responses,
        diary=diary,
        experiments=experiments,
        codings=codings,
        evidence=evidence,
        feedback=feedback,
        coaches=coaches,
    )
    positions = {s.id: s for s in sessions}
    baselines = organisation_change(
        session, organisation_id=trajectory.organisation_id, responses=responses
    )
    view.series = subscale_series(responses, positions, baselines)
    return view


# ------------------------------------------------------------------ feedback and summary

FEEDBACK_LIMIT = 5000
SUMMARY_LIMIT = 5000


def give_feedback(
    session: Session,
    *,
    actor: Actor,
    trajectory: Trajectory,
    text: str,
    session_id: int | None = None,
    diary_entry_id: int | None = None,
) -> Feedback:
    """Write feedback to the professional on a session, a diary entry or the whole."""
    from app.errors import InvalidInput
    from app.i18n import gettext as _
    from app.notify import notify
    from app.reminders.service import feedback_due, send_now

    if not text.strip():
        raise InvalidInput({"feedback": _("Write your feedback first.")})
    if len(text) > FEEDBACK_LIMIT:
        raise InvalidInput({"feedback": _("At most %(limit)s characters.", limit=FEEDBACK_LIMIT)})
    if session_id is not None:
        target = session.get(ReflectionSession, session_id)
        if target is None or target.trajectory_id != trajectory.id:
            raise InvalidInput({"feedback": _("Choose a session of this programme.")})
    if diary_entry_id is not None:
        entry = session.get(DiaryEntry, diary_entry_id)
        if entry is None or entry.trajectory_id != trajectory.id:
            raise InvalidInput({"feedback": _("Choose a diary moment of this programme.")})
    feedback = Feedback(
        organisation_id=trajectory.organisation_id,
        trajectory_id=trajectory.id,  # type: ignore[arg-type]
        session_id=session_id,
        diary_entry_id=diary_entry_id,
        coach_id=actor.id,
        text=text.strip(),
    )
    session.add(feedback)
    session.flush()
    notify(
        session,
        organisation_id=trajectory.organisation_id,
        user_id=trajectory.professional_id,
        kind="feedback",
        link=f"/trajectories/{trajectory.id}#feedback",
    )
    # The email is a reminder like the others: as the professional chose, at most once,
    # and (in quiet hours or over their daily limit) later from the job, if still unread.
    professional = session.get(User, trajectory.professional_id)
    if professional is not None:
        send_now(session, item=feedback_due(feedback, trajectory), user=professional)
    return feedback


def feedback_for_professional(session: Session, *, trajectory: Trajectory) -> list[Feedback]:
    """The coach feedback of a trajectory, newest first."""
    return list(
        session.exec(
            select(Feedback)
            .where(Feedback.trajectory_id == trajectory.id)
            .order_by(col(Feedback.created_at).desc())
        ).all()
    )


@dataclass
class FeedbackTargets:
    """What each piece of feedback is about: a session's title or a diary moment's date."""

    session_titles: dict[int, str] = field(default_factory=dict)
    diary_dates: dict[int, date] = field(default_factory=dict)


def feedback_targets(
    session: Session | None,
    *,
    feedback: list[Feedback],
    sessions: Sequence[ReflectionSession | SessionRow],
    programme: ProgrammeDefinition,
    locale: str,
    diary: Sequence[DiaryEntry | DiaryRow] | None = None,
) -> FeedbackTargets:
    """Name the session or diary moment each feedback is about (at most one query)."""
    titles = {t.key: t.title.get(locale) for t in programme.sessions}  # type: ignore[arg-type]
    targets = FeedbackTargets(
        session_titles={s.id or 0: titles.get(s.template_key, "") for s in sessions}
    )
    wanted = {f.diary_entry_id for f in feedback if f.diary_entry_id is not None}
    if diary is None and wanted and session is not None:
        diary = list(
            session.exec(select(DiaryEntry).where(col(DiaryEntry.id).in_(list(wanted)))).all()
        )
    targets.diary_dates = {e.id or 0: e.occurred_on for e in diary or [] if e.id in wanted}
    return targets


def save_summary(session: Session, *, trajectory: Trajectory, text: str) -> None:
    """The coach's summary for the trajectory report."""
    from app.errors import InvalidInput
    from app.i18n import gettext as _

    if len(text) > SUMMARY_LIMIT:
        raise InvalidInput({"summary": _("At most %(limit)s characters.", limit=SUMMARY_LIMIT)})
    trajectory.coach_summary = text.strip()
    session.add(trajectory)


def mark_reviewed(session: Session, *, reflection_session: ReflectionSession) -> None:
    """The coach has read a finished session."""
    if reflection_session.status == SessionStatus.completed:
        reflection_session.status = SessionStatus.reviewed
        session.add(reflection_session)


def mark_feedback_read(session: Session, *, trajectory: Trajectory) -> None:
    """The professional has seen the feedback on their trajectory page."""
    from sqlalchemy import update

    session.execute(
        update(Feedback)
        .where(col(Feedback.trajectory_id) == trajectory.id, col(Feedback.read_at).is_(None))
        .values(read_at=utcnow())
    )
