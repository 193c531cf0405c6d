"""The professional's programme: focus relationships, trajectories, sessions and their steps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.dashboards import summary
from app.deps import Actor
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import parse_version
from app.i18n import gettext as _
from app.instruments.loader import builtin_definition
from app.instruments.schema import InstrumentDefinition
from app.instruments.scoring import score_response
from app.models import (
    AgeBand,
    CoachAssignment,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    ReflectionSession,
    Sector,
    SessionStatus,
    Trajectory,
    TrajectoryStatus,
    utcnow,
)
from app.privacy.consent import consent_from_intake
from app.programmes.loader import builtin_programme
from app.programmes.schema import ProgrammeDefinition, SessionTemplate, StepTemplate
from app.reflection.policies import own_relationship

DEFAULT_PROGRAMME = "llinc"
PSEUDONYM_LIMIT = 40
SETTING_LIMIT = 120
WORD_LIMIT = 40
TEXT_TYPES = ("narrative", "reflection", "experiment", "three_words")
DONE = (SessionStatus.completed, SessionStatus.reviewed, SessionStatus.skipped)


class VersionConflict(DomainError):
    """The answer was saved from another window since this one loaded it."""

    status_code = 409

    def __init__(self, answer: NarrativeAnswer) -> None:
        super().__init__(_("This answer was changed in another window."))
        self.answer = answer


class SessionClosed(DomainError):
    """The session is finished (or not open yet) and cannot be changed."""

    status_code = 409


# ---------------------------------------------------------------- focus relationships

_FULL_NAME = re.compile(
    r"^[A-ZÀ-Þ][a-zà-ÿ'-]+\s+(?:(?:van|de|der|den|ter|ten|el|al)\s+)*[A-ZÀ-Þ][a-zà-ÿ'-]+$"
)


def relationship_errors(values: dict[str, str]) -> dict[str, str]:
    """Problems with a focus relationship form, keyed by field."""
    errors: dict[str, str] = {}
    pseudonym = values.get("pseudonym", "").strip()
    if not pseudonym:
        errors["pseudonym"] = _("Fill in a made-up name or initials for this child or client.")
    elif len(pseudonym) > PSEUDONYM_LIMIT:
        errors["pseudonym"] = _(
            "A pseudonym can be at most %(limit)s characters.", limit=PSEUDONYM_LIMIT
        )
    elif _FULL_NAME.match(pseudonym):
        errors["pseudonym"] = _(
            "This looks like a first name and a surname. Never use the real name: "
            "choose a made-up name or initials."
        )
    if values.get("sector") not in {s.value for s in Sector}:
        errors["sector"] = _("Choose the setting you work in.")
    if values.get("age_band") not in {a.value for a in AgeBand}:
        errors["age_band"] = _("Choose an age group.")
    if len(values.get("setting", "")) > SETTING_LIMIT:
        errors["setting"] = _("At most %(limit)s characters.", limit=SETTING_LIMIT)
    since = values.get("known_since", "").strip()
    if since:
        try:
            parsed = date.fromisoformat(since)
        except ValueError:
            errors["known_since"] = _("Fill in a date like 2025-09-01, or leave it empty.")
        else:
            if parsed > date.today():
                errors["known_since"] = _("This date is in the future.")
    return errors


def list_relationships(
    session: Session, *, actor: Actor
) -> list[tuple[FocusRelationship, Trajectory | None]]:
    """The actor's focus relationships with their current trajectory (two queries)."""
    relationships = list(
        session.exec(
            select(FocusRelationship)
            .where(
                FocusRelationship.professional_id == actor.id,
                FocusRelationship.organisation_id == actor.organisation_id,
            )
            .order_by(
                col(FocusRelationship.archived_at).is_not(None), col(FocusRelationship.created_at)
            )
        ).all()
    )
    trajectories = session.exec(
        select(Trajectory)
        .where(
            Trajectory.professional_id == actor.id,
            Trajectory.organisation_id == actor.organisation_id,
        )
        .order_by(col(Trajectory.created_at))
    ).all()
    latest = {t.focus_relationship_id: t for t in trajectories}
    return [(r, latest.get(r.id or 0)) for r in relationships]


def save_relationship(
    session: Session, *, actor: Actor, values: dict[str, str], relationship_id: int | None = None
) -> FocusRelationship:
    """Create or update a focus relationship from form values."""
    errors = relationship_errors(values)
    if errors:
        raise InvalidInput(errors)
    if relationship_id is None:
        relationship = FocusRelationship(
            organisation_id=actor.organisation_id,
            professional_id=actor.id,
            pseudonym="",
            sector="",
            age_band="",
        )
    else:
        relationship = own_relationship(session, actor, relationship_id)
    since = values.get("known_since", "").strip()
    relationship.pseudonym = values["pseudonym"].strip()
    relationship.sector = values["sector"]
    relationship.age_band = values["age_band"]
    relationship.setting = values.get("setting", "").strip()
    relationship.known_since = date.fromisoformat(since) if since else None
    relationship.is_contrast = values.get("is_contrast") == "1"
    relationship.updated_at = utcnow()
    session.add(relationship)
    session.flush()
    if relationship_id is not None:  # the sector may have changed under its trajectories
        summary.recount_participation(session, organisation_id=actor.organisation_id)
    return relationship


def archive_relationship(
    session: Session, *, actor: Actor, relationship_id: int
) -> FocusRelationship:
    """Put a focus relationship (and its active trajectory) aside; nothing is deleted."""
    relationship = own_relationship(session, actor, relationship_id)
    relationship.archived_at = utcnow()
    session.add(relationship)
    for trajectory in session.exec(
        select(Trajectory).where(
            Trajectory.focus_relationship_id == relationship.id,
            Trajectory.status == TrajectoryStatus.active,
        )
    ).all():
        trajectory.status = TrajectoryStatus.archived
        session.add(trajectory)
    session.flush()
    summary.recount_participation(session, organisation_id=actor.organisation_id)
    return relationship


def restore_relationship(
    session: Session, *, actor: Actor, relationship_id: int
) -> FocusRelationship:
    """Take an archived focus relationship back, with the programme it had put aside."""
    relationship = own_relationship(session, actor, relationship_id)
    if relationship.archived_at is None:
        return relationship
    relationship.archived_at = None
    relationship.updated_at = utcnow()
    session.add(relationship)
    latest = session.exec(
        select(Trajectory)
        .where(Trajectory.focus_relationship_id == relationship.id)
        .order_by(col(Trajectory.created_at).desc())
    ).first()
    if latest is not None and latest.status == TrajectoryStatus.archived:
        latest.status = (
            TrajectoryStatus.completed if latest.completed_at else TrajectoryStatus.active
        )
        session.add(latest)
        session.flush()
        summary.recount_participation(session, organisation_id=actor.organisation_id)
    return relationship


# ---------------------------------------------------------------- trajectories


def programme_of(trajectory: Trajectory) -> ProgrammeDefinition:
    """The programme definition (key and version) this trajectory follows."""
    return builtin_programme(trajectory.programme_key, trajectory.programme_version)


def start_trajectory(
    session: Session, *, actor: Actor, relationship_id: int, contrast_id: int | None = None
) -> Trajectory:
    """Start the programme for one focus relationship (one active trajectory at a time)."""
    relationship = own_relationship(session, actor, relationship_id)
    if relationship.archived_at is not None:
        raise DomainError(_("This relationship is archived. Restore it first."))
    existing = session.exec(
        select(Trajectory).where(
            Trajectory.focus_relationship_id == relationship.id,
            Trajectory.status == TrajectoryStatus.active,
        )
    ).first()
    if existing is not None:
        return existing
    if contrast_id is not None:
        contrast = own_relationship(session, actor, contrast_id)
        if contrast.id == relationship.id:
            contrast_id = None
    programme = builtin_programme(DEFAULT_PROGRAMME)
    coach_id = session.exec(
        select(CoachAssignment.coach_id)
        .where(CoachAssignment.professional_id == actor.id)
        .order_by(col(CoachAssignment.created_at))
    ).first()
    trajectory = Trajectory(
        organisation_id=actor.organisation_id,
        professional_id=actor.id,
        focus_relationship_id=relationship.id,  # type: ignore[arg-type]
        contrast_relationship_id=contrast_id,
        coach_id=coach_id,
        programme_key=programme.key,
        programme_version=programme.version,
    )
    session.add(trajectory)
    session.flush()
    sessions = [
        ReflectionSession(
            organisation_id=actor.organisation_id,
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            position=index,
            template_key=template.key,
            phase=template.phase,
            current_step=template.steps[0].key,
        )
        for index, template in enumerate(programme.sessions)
    ]
    refresh_statuses(programme, sessions, today=date.today())
    session.add_all(sessions)
    summary.recount_participation(session, organisation_id=actor.organisation_id)
    return trajectory


def refresh_statuses(
    programme: ProgrammeDefinition, sessions: list[ReflectionSession], *, today: date
) -> None:
    """Open sessions whose turn has come; set suggested dates from the last finished one."""
    by_key = {s.template_key: s for s in sessions}
    blocked = False
    last_done: date | None = None
    for template in programme.sessions:
        current = by_key[template.key]
        if current.completed_at is not None:
            last_done = current.completed_at.date()
        if current.status in DONE or current.status == SessionStatus.in_progress:
            continue
        if not blocked:
            base = last_done or today
            if current.suggested_date is None:
                current.suggested_date = base + timedelta(
                    days=template.suggested_days_after_previous
                )
            if current.status in (SessionStatus.locked, SessionStatus.waiting):
                current.status = (
                    SessionStatus.open if template.opens == "auto" else SessionStatus.waiting
                )
        if not template.optional:
            blocked = True


def trajectory_sessions(session: Session, trajectory: Trajectory) -> list[ReflectionSession]:
    """The sessions of a trajectory in programme order."""
    return list(
        session.exec(
            select(ReflectionSession)
            .where(ReflectionSession.trajectory_id == trajectory.id)
            .order_by(col(ReflectionSession.position))
        ).all()
    )


def open_session(session: Session, *, actor: Actor, reflection_session: ReflectionSession) -> None:
    """A coach opens a session that waits for them."""
    if reflection_session.status != SessionStatus.waiting:
        raise SessionClosed(_("This session cannot be opened now."))
    reflection_session.status = SessionStatus.open
    reflection_session.opened_at = utcnow()
    reflection_session.opened_by_id = actor.id
    session.add(reflection_session)


# ---------------------------------------------------------------- steps


@dataclass
class StepState:
    """One step of a session as the wizard shows it."""

    template: StepTemplate
    number: int
    total: int
    answer: NarrativeAnswer | None = None
    response: InstrumentResponse | None = None
    instrument: InstrumentDefinition | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def session_template(
    trajectory: Trajectory, reflection_session: ReflectionSession
) -> SessionTemplate:
    return programme_of(trajectory).session(reflection_session.template_key)


def find_step(template: SessionTemplate, step_key: str) -> tuple[int, StepTemplate]:
    """The position and template of a step, or 404 for a step id that is not in the session."""
    for index, step in enumerate(template.steps):
        if step.key == step_key:
            return index, step
    raise NotFound()


def load_answers(
    session: Session, reflection_session: ReflectionSession
) -> tuple[dict[str, NarrativeAnswer], dict[str, InstrumentResponse]]:
    """Every stored answer of a session (two queries)."""
    params = {"session_id": reflection_session.id}
    answers = {a.step_key: a for a in session.exec(_SESSION_ANSWERS, params=params).all()}
    responses = {r.step_key: r for r in session.exec(_SESSION_RESPONSES, params=params).all()}
    return answers, responses


# Every step page runs these; built once (making a statement costs about as much as running it).
_SESSION_ANSWERS = select(NarrativeAnswer).where(
    col(NarrativeAnswer.session_id) == bindparam("session_id")
)
_SESSION_RESPONSES = select(InstrumentResponse).where(
    col(InstrumentResponse.session_id) == bindparam("session_id")
)


def step_done(
    step: StepTemplate, answer: NarrativeAnswer | None, response: InstrumentResponse | None
) -> bool:
    if step.type == "instrument":
        return response is not None and response.completed_at is not None
    return answer is not None and answer.submitted_at is not None


def ensure_editable(
    reflection_session: ReflectionSession, trajectory: Trajectory | None = None
) -> None:
    """Only open and started sessions of a running programme take answers."""
    if trajectory is not None and trajectory.status == TrajectoryStatus.stopped:
        raise SessionClosed(
            _("You stopped this programme. Give your consent again to go on with it.")
        )
    if reflection_session.status in DONE:
        raise SessionClosed(_("This session is finished; its answers can no longer be changed."))
    if reflection_session.status not in (SessionStatus.open, SessionStatus.in_progress):
        raise SessionClosed(_("This session is not open yet."))


# Last activity feeds the caseload (shown to the minute; "stalled" after days). Written on
# every autosave it added two UPDATEs to each one, so it moves at most once a minute.
ACTIVITY_RESOLUTION = timedelta(seconds=60)


def _touch(reflection_session: ReflectionSession, trajectory: Trajectory, step_key: str) -> None:
    # Only what changes is assigned: assigning an attribute its own value still makes the
    # session flush the object, which was most of an autosave's database work while typing.
    now = utcnow()
    if reflection_session.status == SessionStatus.open:
        reflection_session.status = SessionStatus.in_progress
        reflection_session.started_at = now
    if reflection_session.current_step != step_key:
        reflection_session.current_step = step_key
    last = reflection_session.last_activity_at
    if last is None or now - last >= ACTIVITY_RESOLUTION:
        reflection_session.last_activity_at = now
    if now - trajectory.last_activity_at >= ACTIVITY_RESOLUTION:
        trajectory.last_activity_at = now


def _save_statement(columns: tuple[str, ...]) -> Any:
    """The autosave's versioned UPDATE, built once (building it cost as much as running it)."""
    return (
        update(NarrativeAnswer)
        .where(
            col(NarrativeAnswer.session_id) == bindparam("session"),
            col(NarrativeAnswer.step_key) == bindparam("step"),
            col(NarrativeAnswer.version) == bindparam("base"),
        )
        .values(version=bindparam("new_version"), **{c: bindparam(c) for c in columns})
        .returning(NarrativeAnswer)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


_DRAFT_COLUMNS = ("text", "saved_at", "entered_by_id", "coach_entered")
_SAVE_TEXT = _save_statement(_DRAFT_COLUMNS)
_SAVE_WORDS = _save_statement((*_DRAFT_COLUMNS, "words"))


def save_draft(
    session: Session,
    *,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    step: StepTemplate,
    text: str,
    words: list[str] | None,
    base_version: int,
) -> NarrativeAnswer:
    """Autosave: store the text as a draft if nobody saved a newer version meanwhile."""
    ensure_editable(reflection_session, trajectory)
    if step.type not in (*TEXT_TYPES, "consent"):
        raise NotFound()
    base_version = max(base_version, 0)  # a tampered negative version is a first save
    limit = step.text_limit or 0
    if len(text) > limit:
        raise InvalidInput(
            {
                "text": _(
                    "This is too long: at most %(limit)s characters (you typed %(count)s).",
                    limit=limit,
                    count=len(text),
                )
            }
        )
    now = utcnow()
    values: dict[str, Any] = {
        "text": text,
        "saved_at": now,
        "entered_by_id": actor.id,
        "coach_entered": actor.id != trajectory.professional_id,
    }
    if words is not None:
        values["words"] = [w.strip()[:WORD_LIMIT] for w in words]
    # The version check is part of the UPDATE itself, so two saves racing from two tabs
    # cannot both win: the database decides, not the order in which Python ran. RETURNING
    # (SQLite 3.35+, PostgreSQL) hands back the saved row without a second query.
    saved = session.execute(
        _SAVE_WORDS if words is not None else _SAVE_TEXT,
        {
            **values,
            "session": reflection_session.id,
            "step": step.key,
            "base": base_version,
            "new_version": base_version + 1,
        },
    )
    answer = saved.scalars().one_or_none()
    if answer is None:
        if base_version != 0:
            current = _current_answer(session, reflection_session, step)
            if current.text == text and (words is None or current.words == values["words"]):
                return current  # the same text arrived twice (a beacon and a submit)
            raise VersionConflict(current)
        try:
            with session.begin_nested():
                session.add(
                    NarrativeAnswer(
                        organisation_id=reflection_session.organisation_id,
                        session_id=reflection_session.id,  # type: ignore[arg-type]
                        step_key=step.key,
                        version=1,
                        **values,
                    )
                )
        except IntegrityError:
            current = _current_answer(session, reflection_session, step)
            if current.text == text and (words is None or current.words == values["words"]):
                return current  # the same first text arrived twice
            raise VersionConflict(current) from None
    _touch(reflection_session, trajectory, step.key)
    # Normally both were loaded by this session (readable_session), which then flushes what
    # _touch changed; session.add would only walk their cascades again on every autosave.
    for changed in (reflection_session, trajectory):
        if changed not in session:
            session.add(changed)
    session.flush()
    # The first save inserted the row: read it back as stored, like every later save.
    return answer if answer is not None else _current_answer(session, reflection_session, step)


def _current_answer(
    session: Session, reflection_session: ReflectionSession, step: StepTemplate
) -> NarrativeAnswer:
    answer = session.exec(
        select(NarrativeAnswer)
        .where(
            NarrativeAnswer.session_id == reflection_session.id,
            NarrativeAnswer.step_key == step.key,
        )
        .execution_options(populate_existing=True)
    ).first()
    if answer is None:
        raise NotFound()
    return answer


def instrument_for(step: StepTemplate, response: InstrumentResponse | None) -> InstrumentDefinition:
    """The instrument of a step: the stored version once answered, else the newest one."""
    assert step.instrument is not None
    if response is not None:
        return builtin_definition(response.instrument_key, response.instrument_version)
    return builtin_definition(step.instrument)


def save_instrument_answers(
    session: Session,
    *,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    step: StepTemplate,
    answers: dict[str, int],
    complete: bool,
) -> InstrumentResponse:
    """Merge answers into the stored response; on completion every item must be answered."""
    ensure_editable(reflection_session, trajectory)
    response = session.exec(
        select(InstrumentResponse).where(
            InstrumentResponse.session_id == reflection_session.id,
            InstrumentResponse.step_key == step.key,
        )
    ).first()
    definition = instrument_for(step, response)
    if response is None:
        response = InstrumentResponse(
            organisation_id=reflection_session.organisation_id,
            session_id=reflection_session.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            step_key=step.key,
            phase=reflection_session.phase,
            instrument_key=definition.key,
            instrument_version=definition.version,
        )
    known = {item.key for item in definition.items}
    merged = {**response.answers, **{k: v for k, v in answers.items() if k in known}}
    complete = complete and known <= merged.keys()
    scores = score_response(definition, merged)
    response.answers = merged
    response.scores = {key: score.value for key, score in scores.items()}
    response.updated_at = utcnow()
    if complete:
        response.completed_at = response.completed_at or utcnow()
    session.add(response)
    if response.completed_at is not None and summary.tracks(
        response.instrument_key, response.phase
    ):
        session.flush()
        summary.refresh_changes(session, trajectory_ids=[trajectory.id])  # type: ignore[list-item]
    _touch(reflection_session, trajectory, step.key)
    session.add(reflection_session)
    session.add(trajectory)
    return response


def submit_step(
    session: Session,
    *,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    step: StepTemplate,
    values: dict[str, str],
    lists: dict[str, list[str]],
) -> None:
    """Store a step's answer as given with "next"; InvalidInput names what is missing."""
    ensure_editable(reflection_session, trajectory)
    if step.type == "instrument":
        raise NotFound()  # instrument steps are stored by save_instrument_answers
    if step.type == "consent":
        if values.get("consent_programme") != "1":
            raise InvalidInput(
                {"consent_programme": _("You can only take part when you agree to this.")}
            )
        consent_from_intake(
            session, trajectory=trajectory, research=values.get("consent_research") == "1"
        )
        text, words = "", None
    else:
        text = values.get("text", "")
        words = lists.get("words") if step.type == "three_words" else None
        errors: dict[str, str] = {}
        if words is not None:
            words = [*words, "", "", ""][:3]
            for index, word in enumerate(words):
                if step.required and not word.strip():
                    errors[f"words-{index + 1}"] = _("Fill in a word here.")
                elif len(word.strip()) > WORD_LIMIT:
                    errors[f"words-{index + 1}"] = _(
                        "At most %(limit)s characters.", limit=WORD_LIMIT
                    )
        if step.required and not text.strip():
            errors["text"] = _("Write a few sentences here before you go on.")
        if len(text) > (step.text_limit or 0):
            errors["text"] = _(
                "This is too long: at most %(limit)s characters (you typed %(count)s).",
                limit=step.text_limit,
                count=len(text),
            )
        if errors:
            raise InvalidInput(errors)
    # A tampered version counts as a first save, so a stored answer shows up as a conflict
    # (with both texts) instead of the typed text being lost.
    base = parse_version(values.get("version", "")) or 0
    answer = save_draft(
        session,
        actor=actor,
        reflection_session=reflection_session,
        trajectory=trajectory,
        step=step,
        text=text,
        words=words,
        base_version=base,
    )
    answer.submitted_at = utcnow()
    session.add(answer)


def complete_session(
    session: Session, *, reflection_session: ReflectionSession, trajectory: Trajectory
) -> list[str]:
    """Finish a session when every required step is done; returns the keys still missing."""
    ensure_editable(reflection_session, trajectory)
    template = session_template(trajectory, reflection_session)
    answers, responses = load_answers(session, reflection_session)
    missing = [
        step.key
        for step in template.steps
        if step.required and not step_done(step, answers.get(step.key), responses.get(step.key))
    ]
    if missing:
        return missing
    now = utcnow()
    reflection_session.status = SessionStatus.completed
    reflection_session.completed_at = now
    session.add(reflection_session)
    summary.count_finished_session(session, reflection_session=reflection_session)
    programme = programme_of(trajectory)
    sessions = trajectory_sessions(session, trajectory)
    for item in sessions:
        if item.id == reflection_session.id:
            item.status, item.completed_at = reflection_session.status, now
    refresh_statuses(programme, sessions, today=now.date())
    session.add_all(sessions)
    required = {t.key for t in programme.sessions if not t.optional}
    if all(s.status in DONE for s in sessions if s.template_key in required):
        trajectory.status = TrajectoryStatus.completed
        trajectory.completed_at = now
    trajectory.last_activity_at = now
    session.add(trajectory)
    if trajectory.status == TrajectoryStatus.completed:
        session.flush()
        summary.recount_participation(session, organisation_id=trajectory.organisation_id)
    return []


def count_sessions(session: Session, trajectory_ids: list[int]) -> dict[int, int]:
    """Completed sessions per trajectory (one query)."""
    if not trajectory_ids:
        return {}
    rows = session.exec(
        select(ReflectionSession.trajectory_id, func.count())
        .where(
            col(ReflectionSession.trajectory_id).in_(trajectory_ids),
            col(ReflectionSession.status).in_([str(s) for s in DONE]),
        )
        .group_by(col(ReflectionSession.trajectory_id))
    ).all()
    return {int(t): int(n) for t, n in rows}
