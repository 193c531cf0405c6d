"""Between sessions: the event diary, the daily pulse and the experiment log.

Only the professional who owns the trajectory writes here; the assigned coach reads
(the routes check both). Services never commit; the request dependency does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, cast

from babel.dates import format_date
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import i18n
from app.deps import Actor
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import whole_number
from app.i18n import N_
from app.i18n import gettext as _
from app.instruments import render_text
from app.instruments.loader import builtin_definition
from app.instruments.schema import InstrumentDefinition, Locale, Sector
from app.models import (
    DiaryEntry,
    ExperimentLogEntry,
    FocusRelationship,
    NarrativeAnswer,
    PulseEntry,
    ReflectionSession,
    SessionStatus,
    Trajectory,
    TrajectoryStatus,
    utcnow,
)
from app.questionnaires.service import Answers, InstrumentForm, build_form, read_answers
from app.reflection.policies import readable_trajectory
from app.reflection.service import programme_of

DIARY: Final = "diary"
PULSE: Final = "pulse"
PULSE_DAYS: Final = 14
WHAT_I_DID_LIMIT: Final = 2000
#: A diary emotion counts as one of the moment's main emotions from "moderately" up.
MAIN_EMOTION_FROM: Final = 2
MAIN_EMOTIONS_SHOWN: Final = 3
EMOTION_GROUP: Final = "emotions"
CHILD_BEHAVIOUR: Final = "child_behaviour"
#: Sessions whose phase a new entry belongs to: started or done, not merely open.
_UNDER_WAY: Final = (SessionStatus.in_progress, SessionStatus.completed, SessionStatus.reviewed)

HOW_IT_WENT: Final = {
    1: N_("Badly"),
    2: N_("Not so well"),
    3: N_("So-so"),
    4: N_("Well"),
    5: N_("Very well"),
}


# ---------------------------------------------------------------- who may write


def own_trajectory(session: Session, actor: Actor, trajectory_id: int) -> Trajectory:
    """A trajectory of the actor themselves, or 404 (also for the coach, who only reads)."""
    trajectory = readable_trajectory(session, actor, trajectory_id)
    if trajectory.professional_id != actor.id:
        raise NotFound()
    return trajectory


class TrajectoryArchived(DomainError):
    """The programme was put aside; its notes can be read but not changed."""

    status_code = 409


def ensure_writable(trajectory: Trajectory) -> None:
    """An archived programme keeps its notes but takes no new ones."""
    if trajectory.status == TrajectoryStatus.stopped:
        raise TrajectoryArchived(
            _("You stopped this programme. You can read your notes, but not add or change them.")
        )
    if trajectory.status == TrajectoryStatus.archived:
        raise TrajectoryArchived(
            _("This programme is archived. You can read your notes, but not add or change them.")
        )


def own_entry(session: Session, actor: Actor, entry_id: int) -> tuple[DiaryEntry, Trajectory]:
    """A diary entry (with its trajectory) of the actor themselves, or 404."""
    row = session.exec(
        select(DiaryEntry, Trajectory)
        .join(Trajectory, col(Trajectory.id) == col(DiaryEntry.trajectory_id))
        .where(
            DiaryEntry.id == entry_id,
            DiaryEntry.organisation_id == actor.organisation_id,
            Trajectory.professional_id == actor.id,
        )
    ).first()
    if row is None:
        raise NotFound()
    return row


def relationship_of(session: Session, trajectory: Trajectory) -> FocusRelationship:
    """The focus relationship the trajectory is about."""
    relationship = session.get(FocusRelationship, trajectory.focus_relationship_id)
    if relationship is None:
        raise NotFound()
    return relationship


def sector_of(relationship: FocusRelationship) -> Sector:
    """The relationship's sector as the instrument wording knows it."""
    return cast(Sector, relationship.sector)


def ui_locale() -> Locale:
    return i18n.get_locale()


# ---------------------------------------------------------------- dates and phases


def local_today() -> date:
    """Today where the people using Dyade live (stored times are UTC)."""
    return datetime.now(i18n.local_zone()).date()


def started_on(trajectory: Trajectory) -> date:
    """The local date on which the trajectory was started."""
    created = trajectory.created_at
    if created.tzinfo is None:  # SQLite hands back naive UTC
        created = created.replace(tzinfo=UTC)
    return created.astimezone(i18n.local_zone()).date()


def check_date(text: str, *, trajectory: Trajectory, today: date) -> tuple[date | None, str | None]:
    """A posted "occurred on" date, or the problem with it."""
    text = text.strip()
    if not text:
        return None, _("Fill in the date.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, _("Fill in a date like %(example)s.", example=today.isoformat())
    if day > today:
        return None, _("This date is in the future.")
    start = started_on(trajectory)
    if day < start:
        shown = format_date(start, format="long", locale=i18n.get_locale())
        return None, _("This date is before your programme started (%(date)s).", date=shown)
    return day, None


def current_phase(session: Session, trajectory: Trajectory) -> str:
    """The phase of the latest session started or done; the first session's before that."""
    phases = session.exec(
        select(ReflectionSession.phase, ReflectionSession.status)
        .where(ReflectionSession.trajectory_id == trajectory.id)
        .order_by(col(ReflectionSession.position))
    ).all()
    under_way = [phase for phase, status in phases if status in _UNDER_WAY]
    if under_way:
        return under_way[-1]
    return phases[0][0] if phases else "baseline"


# ---------------------------------------------------------------- the diary


@dataclass(frozen=True)
class DiaryForm(InstrumentForm):
    """The diary instrument plus the date field, whose problem joins the error summary."""

    date_problem: str | None = None

    @property
    def problems(self) -> list[tuple[str | None, str]]:
        found = super().problems
        if self.date_problem:
            found.append(("field-occurred_on", self.date_problem))
        return found


class DiaryInvalid(InvalidInput):
    """A diary entry that cannot be stored; the answers as posted are kept for the form."""

    def __init__(self, answers: Answers, date_problem: str | None) -> None:
        errors = dict(answers.errors)
        if date_problem:
            errors["occurred_on"] = date_problem
        super().__init__(errors or {"form": "; ".join(answers.form_errors)})
        self.answers = answers
        self.date_problem = date_problem


def diary_definition(version: int | None = None) -> InstrumentDefinition:
    """The diary instrument: the stored version for an entry, else the newest."""
    return builtin_definition(DIARY, version)


def diary_form(
    relationship: FocusRelationship,
    *,
    entry: DiaryEntry | None = None,
    answers: Answers | None = None,
    date_problem: str | None = None,
) -> DiaryForm:
    """The diary as form questions, filled with an entry or with what was posted."""
    definition = diary_definition(entry.instrument_version if entry else None)
    if answers is None and entry is not None:
        answers = Answers(posted=_as_posted(entry.values))
    form = build_form(
        definition,
        locale=ui_locale(),
        sector=sector_of(relationship),
        name=relationship.pseudonym,
        answers=answers,
    )
    return DiaryForm(
        **{f.name: getattr(form, f.name) for f in fields(form)}, date_problem=date_problem
    )


def _as_posted(values: Mapping[str, Any]) -> dict[str, list[str]]:
    posted: dict[str, list[str]] = {}
    for key, value in values.items():
        posted[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return posted


def save_diary_entry(
    session: Session,
    *,
    trajectory: Trajectory,
    relationship: FocusRelationship,
    occurred_on: str,
    posted: Mapping[str, Sequence[str]],
    entry: DiaryEntry | None = None,
) -> DiaryEntry:
    """Store a new or edited diary entry; DiaryInvalid says what is missing or wrong."""
    ensure_writable(trajectory)
    definition = diary_definition(entry.instrument_version if entry else None)
    answers = read_answers(
        definition,
        posted,
        name=relationship.pseudonym,
        locale=ui_locale(),
        sector=sector_of(relationship),
    )
    day, date_problem = check_date(occurred_on, trajectory=trajectory, today=local_today())
    if not answers.ok or day is None:
        raise DiaryInvalid(answers, date_problem)
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in answers.values.items()}
    if entry is None:
        entry = DiaryEntry(
            organisation_id=trajectory.organisation_id,
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            occurred_on=day,
            phase=current_phase(session, trajectory),
            instrument_version=definition.version,
            values=values,
        )
    else:
        # The phase stays the one the moment was first noted down in.
        entry.occurred_on = day
        entry.values = values
        entry.updated_at = utcnow()
    trajectory.last_activity_at = utcnow()
    session.add(entry)
    session.add(trajectory)
    session.flush()
    return entry


def delete_diary_entry(session: Session, *, trajectory: Trajectory, entry: DiaryEntry) -> None:
    """Remove a diary entry for good."""
    ensure_writable(trajectory)
    session.delete(entry)


@dataclass
class DiaryRow:
    """One diary entry as the list shows it."""

    entry: DiaryEntry
    valence: int | None
    valence_shown: str
    valence_label: str | None
    emotions: list[str] = field(default_factory=list)
    behaviour: list[str] = field(default_factory=list)
    what_happened: str = ""


def list_diary(
    session: Session, *, trajectory: Trajectory, relationship: FocusRelationship
) -> list[DiaryRow]:
    """The trajectory's diary entries, newest first (one query)."""
    entries = session.exec(
        select(DiaryEntry)
        .where(DiaryEntry.trajectory_id == trajectory.id)
        .order_by(col(DiaryEntry.occurred_on).desc(), col(DiaryEntry.id).desc())
    ).all()
    return [list_row(entry, relationship) for entry in entries]


def list_row(entry: DiaryEntry, relationship: FocusRelationship) -> DiaryRow:
    """One entry with its valence, main emotions and the child's behaviour in words."""
    locale = ui_locale()
    definition = diary_definition(entry.instrument_version)
    values = entry.values
    valence = values.get("valence")
    shown, label = "–", None
    scale = definition.scales.get("valence")
    if isinstance(valence, int) and scale is not None:
        shown = f"+{valence}" if valence > 0 else str(valence).replace("-", "\u2212")
        label = scale.anchor_label(valence, locale)
    emotions = sorted(
        (
            (values[f.key], render_text(f, locale, sector_of(relationship), relationship.pseudonym))
            for f in definition.fields
            if f.group == EMOTION_GROUP
            and isinstance(values.get(f.key), int)
            and values[f.key] >= MAIN_EMOTION_FROM
        ),
        key=lambda pair: -pair[0],
    )
    behaviour: list[str] = []
    for diary_field in definition.fields:
        if diary_field.key == CHILD_BEHAVIOUR:
            labels = {o.key: o.label.get(locale) for o in diary_field.options}
            behaviour = [labels[k] for k in values.get(CHILD_BEHAVIOUR, []) if k in labels]
    return DiaryRow(
        entry=entry,
        valence=valence if isinstance(valence, int) else None,
        valence_shown=shown,
        valence_label=label,
        emotions=[text for _intensity, text in emotions[:MAIN_EMOTIONS_SHOWN]],
        behaviour=behaviour,
        what_happened=str(values.get("what_happened", "")),
    )


# ---------------------------------------------------------------- the daily pulse


class PulseInvalid(InvalidInput):
    """A pulse with unanswered or impossible answers; they are kept for the form."""

    def __init__(self, answers: Answers) -> None:
        super().__init__(dict(answers.errors) or {"form": "; ".join(answers.form_errors)})
        self.answers = answers


def pulse_definition(version: int | None = None) -> InstrumentDefinition:
    return builtin_definition(PULSE, version)


def pulse_of_day(session: Session, trajectory: Trajectory, day: date) -> PulseEntry | None:
    """The pulse stored for one day, if any."""
    return session.exec(
        select(PulseEntry).where(PulseEntry.trajectory_id == trajectory.id, PulseEntry.day == day)
    ).first()


def pulse_form(
    relationship: FocusRelationship,
    *,
    stored: PulseEntry | None = None,
    answers: Answers | None = None,
) -> InstrumentForm:
    """Today's pulse as form questions, filled with what was stored or posted."""
    definition = pulse_definition(stored.instrument_version if stored else None)
    if answers is None and stored is not None:
        answers = Answers(posted=_as_posted(stored.answers))
    return build_form(
        definition,
        locale=ui_locale(),
        sector=sector_of(relationship),
        name=relationship.pseudonym,
        answers=answers,
    )


def save_pulse(
    session: Session,
    *,
    trajectory: Trajectory,
    relationship: FocusRelationship,
    posted: Mapping[str, Sequence[str]],
    day: date,
) -> PulseEntry:
    """Store the day's pulse; posting again on the same day replaces the answers."""
    ensure_writable(trajectory)
    stored = pulse_of_day(session, trajectory, day)
    definition = pulse_definition(stored.instrument_version if stored else None)
    answers = read_answers(
        definition,
        posted,
        name=relationship.pseudonym,
        locale=ui_locale(),
        sector=sector_of(relationship),
    )
    if not answers.ok:
        raise PulseInvalid(answers)
    values = {k: v for k, v in answers.values.items() if isinstance(v, int)}
    if stored is None:
        try:
            # Two tabs saving the first pulse of a day at once: the unique (trajectory,
            # day) constraint lets one insert win, and the other updates that row.
            with session.begin_nested():
                stored = PulseEntry(
                    organisation_id=trajectory.organisation_id,
                    trajectory_id=trajectory.id,  # type: ignore[arg-type]
                    day=day,
                    phase=current_phase(session, trajectory),
                    instrument_version=definition.version,
                    answers=values,
                )
                session.add(stored)
        except IntegrityError:
            stored = pulse_of_day(session, trajectory, day)
            if stored is None:
                raise
    stored.answers = values
    trajectory.last_activity_at = utcnow()
    session.add(stored)
    session.add(trajectory)
    session.flush()
    return stored


@dataclass
class PulseDay:
    """One day of the pulse as the list shows it: (label, answer) per item."""

    day: date
    ratings: list[tuple[str, int]]


def recent_pulses(session: Session, *, trajectory: Trajectory, today: date) -> list[PulseDay]:
    """The pulses of the last PULSE_DAYS days, newest first (one query)."""
    rows = session.exec(
        select(PulseEntry)
        .where(
            PulseEntry.trajectory_id == trajectory.id,
            col(PulseEntry.day) > today - timedelta(days=PULSE_DAYS),
        )
        .order_by(col(PulseEntry.day).desc())
    ).all()
    locale = ui_locale()
    days = []
    for row in rows:
        definition = pulse_definition(row.instrument_version)
        labels = {s.key: s.label.get(locale) for s in definition.subscales}
        ratings = [
            (labels.get(item.subscale, item.key), row.answers[item.key])
            for item in definition.items
            if isinstance(row.answers.get(item.key), int)
        ]
        days.append(PulseDay(row.day, ratings))
    return days


# ---------------------------------------------------------------- the experiment log


@dataclass
class ChosenExperiment:
    """The experiment the professional wrote down in a session."""

    text: str
    session_title: str
    chosen_at: datetime | None


def chosen_experiment(session: Session, *, trajectory: Trajectory) -> ChosenExperiment | None:
    """The latest submitted answer to an "experiment" step of the trajectory (one query)."""
    programme = programme_of(trajectory)
    experiment_steps = {
        (template.key, step.key)
        for template in programme.sessions
        for step in template.steps
        if step.type == "experiment"
    }
    rows = session.exec(
        select(NarrativeAnswer, ReflectionSession)
        .join(ReflectionSession, col(ReflectionSession.id) == col(NarrativeAnswer.session_id))
        .where(
            ReflectionSession.trajectory_id == trajectory.id,
            col(NarrativeAnswer.step_key).in_({step for _template, step in experiment_steps}),
            col(NarrativeAnswer.submitted_at).is_not(None),
        )
    ).all()
    found = [
        (answer, owner)
        for answer, owner in rows
        if (owner.template_key, answer.step_key) in experiment_steps and answer.text.strip()
    ]
    if not found:
        return None
    answer, owner = max(found, key=lambda pair: (pair[1].position, pair[0].submitted_at))
    titles = {t.key: t.title.get(ui_locale()) for t in programme.sessions}
    return ChosenExperiment(answer.text, titles.get(owner.template_key, ""), answer.submitted_at)


def experiment_errors(
    values: Mapping[str, str], *, trajectory: Trajectory, today: date
) -> tuple[dict[str, str], date | None, int | None]:
    """Problems with an experiment log form, keyed by field; the date and rating if fine."""
    errors: dict[str, str] = {}
    day, problem = check_date(values.get("occurred_on", ""), trajectory=trajectory, today=today)
    if problem:
        errors["occurred_on"] = problem
    text = values.get("what_i_did", "").replace("\r\n", "\n")
    if not text.strip():
        errors["what_i_did"] = _("Write down briefly what you tried.")
    elif len(text) > WHAT_I_DID_LIMIT:
        errors["what_i_did"] = _(
            "This is too long: at most %(limit)s characters (you typed %(count)s).",
            limit=WHAT_I_DID_LIMIT,
            count=len(text),
        )
    posted = values.get("how_it_went", "").strip()
    rating = whole_number(posted)
    if rating not in HOW_IT_WENT:
        rating = None
    if rating is None:
        errors["how_it_went"] = _("Choose how it went.")
    return errors, day, rating


def log_experiment(
    session: Session, *, trajectory: Trajectory, values: Mapping[str, str]
) -> ExperimentLogEntry:
    """Store one try of the experiment; InvalidInput names what is missing."""
    ensure_writable(trajectory)
    errors, day, rating = experiment_errors(values, trajectory=trajectory, today=local_today())
    if errors or day is None or rating is None:
        raise InvalidInput(errors)
    entry = ExperimentLogEntry(
        organisation_id=trajectory.organisation_id,
        trajectory_id=trajectory.id,  # type: ignore[arg-type]
        occurred_on=day,
        what_i_did=values.get("what_i_did", "").replace("\r\n", "\n").strip(),
        how_it_went=rating,
    )
    trajectory.last_activity_at = utcnow()
    session.add(entry)
    session.add(trajectory)
    session.flush()
    return entry


def experiment_log(session: Session, *, trajectory: Trajectory) -> list[ExperimentLogEntry]:
    """What was tried, newest first (one query)."""
    return list(
        session.exec(
            select(ExperimentLogEntry)
            .where(ExperimentLogEntry.trajectory_id == trajectory.id)
            .order_by(col(ExperimentLogEntry.occurred_on).desc(), col(ExperimentLogEntry.id).desc())
        ).all()
    )
