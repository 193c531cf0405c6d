"""Everything stored about and by one person, for their own download (JSON, HTML, PDF).

Loaded in a fixed number of queries, however much there is: every table is read once,
limited to the person with a subquery, and the pieces are put together in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, SQLModel, col, select

from app.i18n import Locale
from app.instruments.loader import builtin_definition
from app.models import (
    AuditEvent,
    CoachAssignment,
    Coding,
    CodingEvidence,
    ConsentRecord,
    DiaryEntry,
    ExperimentLogEntry,
    Feedback,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    Notification,
    Organisation,
    PulseEntry,
    ReflectionSession,
    Trajectory,
    User,
    UserRole,
    UserSession,
    utcnow,
)
from app.programmes.loader import builtin_programme

FORMAT = "dyade-personal-data"
FORMAT_VERSION = 1
# Secrets are never part of an export, not even their hashes.
_NEVER = {"password_hash", "token_hash"}


@dataclass
class SessionData:
    session: ReflectionSession
    title: str
    answers: list[NarrativeAnswer] = field(default_factory=list)
    responses: list[InstrumentResponse] = field(default_factory=list)
    codings: list[Coding] = field(default_factory=list)
    step_titles: dict[str, str] = field(default_factory=dict)


@dataclass
class TrajectoryData:
    trajectory: Trajectory
    relationship: FocusRelationship | None
    programme_title: str
    sessions: list[SessionData] = field(default_factory=list)
    diary: list[DiaryEntry] = field(default_factory=list)
    pulse: list[PulseEntry] = field(default_factory=list)
    experiments: list[ExperimentLogEntry] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)
    templates: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class PersonalData:
    """One person's data, grouped the way they know it: per trajectory, per session."""

    exported_at: datetime
    user: User
    organisation: Organisation
    roles: list[str]
    names: dict[int, str]  # people referred to (coaches, actors in the access log)
    coach_ids: list[int]
    coachee_ids: list[int]
    relationships: list[FocusRelationship]
    trajectories: list[TrajectoryData]
    evidence: dict[int, list[CodingEvidence]]
    consents_without_trajectory: list[ConsentRecord]
    notifications: list[Notification]
    logins: list[UserSession]
    access_log: list[AuditEvent]

    def name(self, user_id: int | None) -> str:
        return self.names.get(user_id or 0, "")

    def instrument_title(self, key: str, version: int, locale: Locale) -> str:
        try:
            return builtin_definition(key, version).title.get(locale)
        except KeyError:  # an organisation's own instrument
            return key

    def scores(self, response: InstrumentResponse, locale: Locale) -> list[tuple[str, Any]]:
        """A response's subscale scores with their names in the reader's language."""
        try:
            labels = {
                s.key: s.label.get(locale)
                for s in builtin_definition(
                    response.instrument_key, response.instrument_version
                ).subscales
            }
        except KeyError:
            labels = {}
        return [(labels.get(k, k), v) for k, v in response.scores.items()]


def _programme_titles(trajectory: Trajectory, locale: Locale) -> tuple[str, dict[str, Any]]:
    try:
        programme = builtin_programme(trajectory.programme_key, trajectory.programme_version)
    except KeyError:
        return trajectory.programme_key, {}
    return programme.title.get(locale), {t.key: t for t in programme.sessions}


def load_personal_data(session: Session, *, user_id: int, locale: Locale) -> PersonalData:
    """Everything about and by one person (a fixed number of queries)."""
    row = session.exec(
        select(User, Organisation)
        .join(Organisation, col(Organisation.id) == col(User.organisation_id))
        .where(User.id == user_id)
    ).one()
    user, organisation = row
    own_trajectories = select(Trajectory.id).where(Trajectory.professional_id == user_id)
    own_sessions = select(ReflectionSession.id).where(
        col(ReflectionSession.trajectory_id).in_(own_trajectories)
    )

    def rows(model: type[SQLModel], *where: Any, order: Any = None) -> list[Any]:
        statement = select(model).where(*where)
        statement = statement.order_by(order if order is not None else model.id)  # type: ignore[attr-defined]
        return list(session.exec(statement).all())

    roles = sorted(session.exec(select(UserRole.role).where(UserRole.user_id == user_id)).all())
    assignments: list[CoachAssignment] = rows(
        CoachAssignment,
        or_(
            col(CoachAssignment.coach_id) == user_id,
            col(CoachAssignment.professional_id) == user_id,
        ),
    )
    relationships: list[FocusRelationship] = rows(
        FocusRelationship, FocusRelationship.professional_id == user_id
    )
    trajectories: list[Trajectory] = rows(Trajectory, Trajectory.professional_id == user_id)
    sessions: list[ReflectionSession] = rows(
        ReflectionSession,
        col(ReflectionSession.trajectory_id).in_(own_trajectories),
        order=col(ReflectionSession.position),
    )
    answers: list[NarrativeAnswer] = rows(
        NarrativeAnswer, col(NarrativeAnswer.session_id).in_(own_sessions)
    )
    responses: list[InstrumentResponse] = rows(
        InstrumentResponse, col(InstrumentResponse.trajectory_id).in_(own_trajectories)
    )
    codings: list[Coding] = rows(Coding, col(Coding.trajectory_id).in_(own_trajectories))
    evidence: list[CodingEvidence] = rows(
        CodingEvidence,
        col(CodingEvidence.coding_id).in_(
            select(Coding.id).where(col(Coding.trajectory_id).in_(own_trajectories))
        ),
    )
    diary: list[DiaryEntry] = rows(
        DiaryEntry,
        col(DiaryEntry.trajectory_id).in_(own_trajectories),
        order=col(DiaryEntry.occurred_on),
    )
    pulse: list[PulseEntry] = rows(
        PulseEntry, col(PulseEntry.trajectory_id).in_(own_trajectories), order=col(PulseEntry.day)
    )
    experiments: list[ExperimentLogEntry] = rows(
        ExperimentLogEntry,
        col(ExperimentLogEntry.trajectory_id).in_(own_trajectories),
        order=col(ExperimentLogEntry.occurred_on),
    )
    feedback: list[Feedback] = rows(Feedback, col(Feedback.trajectory_id).in_(own_trajectories))
    consents: list[ConsentRecord] = rows(ConsentRecord, ConsentRecord.user_id == user_id)
    notifications: list[Notification] = rows(Notification, Notification.user_id == user_id)
    logins: list[UserSession] = rows(UserSession, UserSession.user_id == user_id)
    access_log: list[AuditEvent] = rows(AuditEvent, AuditEvent.subject_user_id == user_id)

    mentioned: set[int | None] = {a.coach_id for a in assignments}
    mentioned |= {a.professional_id for a in assignments}
    mentioned |= {t.coach_id for t in trajectories} | {c.coach_id for c in codings}
    mentioned |= {f.coach_id for f in feedback} | {e.actor_id for e in access_log}
    mentioned.discard(None)
    names = {
        int(uid or 0): name
        for uid, name in session.exec(
            select(User.id, User.display_name).where(
                col(User.id).in_(sorted(m for m in mentioned if m is not None)),
                User.organisation_id == user.organisation_id,
            )
        ).all()
    }

    by_trajectory: dict[int, TrajectoryData] = {}
    relationship_by_id = {r.id: r for r in relationships}
    for trajectory in trajectories:
        title, templates = _programme_titles(trajectory, locale)
        data = TrajectoryData(
            trajectory=trajectory,
            relationship=relationship_by_id.get(trajectory.focus_relationship_id),
            programme_title=title,
            templates=templates,
        )
        by_trajectory[trajectory.id or 0] = data
    by_session: dict[int, SessionData] = {}
    for item in sessions:
        owner = by_trajectory[item.trajectory_id]
        template = owner.templates.get(item.template_key)
        entry = SessionData(
            session=item,
            title=template.title.get(locale) if template else item.template_key,
            step_titles={s.key: s.title.get(locale) for s in template.steps} if template else {},
        )
        owner.sessions.append(entry)
        by_session[item.id or 0] = entry
    for answer in answers:
        by_session[answer.session_id].answers.append(answer)
    for response in responses:
        by_session[response.session_id].responses.append(response)
    for coding in codings:
        by_session[coding.session_id].codings.append(coding)
    for lines, target in (
        (diary, "diary"),
        (pulse, "pulse"),
        (experiments, "experiments"),
        (feedback, "feedback"),
    ):
        for line in lines:
            getattr(by_trajectory[line.trajectory_id], target).append(line)
    loose: list[ConsentRecord] = []
    for record in consents:
        if record.trajectory_id in by_trajectory:
            by_trajectory[record.trajectory_id].consents.append(record)
        else:
            loose.append(record)
    grouped_evidence: dict[int, list[CodingEvidence]] = defaultdict(list)
    for quote in evidence:
        grouped_evidence[quote.coding_id].append(quote)
    return PersonalData(
        exported_at=utcnow(),
        user=user,
        organisation=organisation,
        roles=roles,
        names=names,
        coach_ids=[a.coach_id for a in assignments if a.professional_id == user_id],
        coachee_ids=[a.professional_id for a in assignments if a.coach_id == user_id],
        relationships=relationships,
        trajectories=list(by_trajectory.values()),
        evidence=dict(grouped_evidence),
        consents_without_trajectory=loose,
        notifications=notifications,
        logins=logins,
        access_log=access_log,
    )


def _plain(obj: SQLModel, *, drop: set[str] | None = None) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude=_NEVER | (drop or set()))


def as_json(data: PersonalData) -> dict[str, Any]:
    """The download as one JSON document: every stored field, grouped per trajectory."""
    trajectories = []
    for item in data.trajectories:
        t = _plain(item.trajectory)
        t["programme_title"] = item.programme_title
        t["coach_name"] = data.name(item.trajectory.coach_id)
        t["focus_relationship"] = _plain(item.relationship) if item.relationship else None
        t["sessions"] = [
            {
                **_plain(s.session),
                "title": s.title,
                "narrative_answers": [
                    {
                        **_plain(a),
                        "step_title": s.step_titles.get(a.step_key, a.step_key),
                        "draft": a.submitted_at is None,
                    }
                    for a in s.answers
                ],
                "instrument_responses": [_plain(r) for r in s.responses],
                "codings": [
                    {
                        **_plain(c),
                        "coach_name": data.name(c.coach_id),
                        "evidence": [_plain(e) for e in data.evidence.get(c.id or 0, [])],
                    }
                    for c in s.codings
                ],
            }
            for s in item.sessions
        ]
        t["diary"] = [_plain(e) for e in item.diary]
        t["pulse"] = [_plain(e) for e in item.pulse]
        t["experiment_log"] = [_plain(e) for e in item.experiments]
        t["feedback"] = [{**_plain(f), "coach_name": data.name(f.coach_id)} for f in item.feedback]
        t["consent_records"] = [_plain(r) for r in item.consents]
        trajectories.append(t)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": data.exported_at.isoformat(),
        "account": {**_plain(data.user), "organisation": data.organisation.name},
        "roles": data.roles,
        "coaches": [{"id": i, "name": data.name(i)} for i in data.coach_ids],
        "coaches_these_professionals": [{"id": i, "name": data.name(i)} for i in data.coachee_ids],
        "focus_relationships": [_plain(r) for r in data.relationships],
        "trajectories": trajectories,
        "consent_records": [_plain(r) for r in data.consents_without_trajectory],
        "notifications": [_plain(n) for n in data.notifications],
        "logins": [_plain(s) for s in data.logins],
        "access_log": [{**_plain(e), "actor_name": data.name(e.actor_id)} for e in data.access_log],
    }
