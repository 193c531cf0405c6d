"""Coding a narrative on the representation dimensions, evidence passages, the profile."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.coaching.scheme import coding_scheme, validate_ratings
from app.deps import Actor
from app.errors import DomainError, InvalidInput, NotFound
from app.i18n import gettext as _
from app.models import (
    Coding,
    CodingEvidence,
    NarrativeAnswer,
    ReflectionSession,
    Trajectory,
    utcnow,
)
from app.notify import notify

QUOTE_LIMIT = 2000
NOTE_LIMIT = 2000
CODED_PHASES = ("interview", "consolidation", "post", "follow_up")


def coding_for(
    session: Session, *, actor: Actor, reflection_session: ReflectionSession
) -> Coding | None:
    """This coach's coding of the session, if any."""
    return session.exec(
        select(Coding).where(
            Coding.session_id == reflection_session.id, Coding.coach_id == actor.id
        )
    ).first()


def session_codings(session: Session, *, reflection_session: ReflectionSession) -> list[Coding]:
    """Every coach's coding of one session (for agreement)."""
    return list(
        session.exec(
            select(Coding)
            .where(Coding.session_id == reflection_session.id)
            .order_by(col(Coding.id))
        ).all()
    )


def narrative_of(session: Session, reflection_session: ReflectionSession) -> list[NarrativeAnswer]:
    """The submitted and draft answers of a session, in step order of the answers table."""
    return list(
        session.exec(
            select(NarrativeAnswer)
            .where(NarrativeAnswer.session_id == reflection_session.id)
            .order_by(col(NarrativeAnswer.id))
        ).all()
    )


def save_ratings(
    session: Session,
    *,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    posted: dict[str, str],
) -> Coding:
    """Store the coach's ratings (missing ones stay unrated); InvalidInput on bad values."""
    scheme = coding_scheme()
    values = {
        key.removeprefix("rating-"): value
        for key, value in posted.items()
        if key.startswith("rating-") and value != ""
    }
    ratings, problems = validate_ratings(scheme, values, _=_)
    if problems:
        raise InvalidInput({f"rating-{key}": message for key, message in problems.items()})
    coding = coding_for(session, actor=actor, reflection_session=reflection_session)
    if coding is None:
        coding = Coding(
            organisation_id=reflection_session.organisation_id,
            session_id=reflection_session.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            coach_id=actor.id,
            scheme_version=scheme.version,
        )
    coding.ratings = ratings
    coding.updated_at = utcnow()
    session.add(coding)
    session.flush()
    return coding


def add_evidence(
    session: Session,
    *,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    step_key: str,
    quote: str,
    note: str,
    dimension: str,
) -> CodingEvidence:
    """Mark a passage of the narrative as evidence, with a note."""
    errors: dict[str, str] = {}
    if not quote.strip():
        errors["quote"] = _("Paste or type the passage you want to mark.")
    elif len(quote) > QUOTE_LIMIT:
        errors["quote"] = _("At most %(limit)s characters.", limit=QUOTE_LIMIT)
    if len(note) > NOTE_LIMIT:
        errors["note"] = _("At most %(limit)s characters.", limit=NOTE_LIMIT)
    steps = {a.step_key for a in narrative_of(session, reflection_session)}
    if step_key not in steps:
        errors["step_key"] = _("Choose the answer the passage comes from.")
    scheme = coding_scheme()
    if dimension and dimension not in {d.key for d in scheme.dimensions}:
        errors["dimension"] = _("Choose one of the dimensions.")
    if errors:
        raise InvalidInput(errors)
    coding = coding_for(session, actor=actor, reflection_session=reflection_session)
    if coding is None:
        coding = save_ratings(
            session,
            actor=actor,
            reflection_session=reflection_session,
            trajectory=trajectory,
            posted={},
        )
    evidence = CodingEvidence(
        organisation_id=coding.organisation_id,
        coding_id=coding.id,  # type: ignore[arg-type]
        step_key=step_key,
        dimension=dimension,
        quote=quote.strip(),
        note=note.strip(),
    )
    session.add(evidence)
    return evidence


def remove_evidence(session: Session, *, actor: Actor, evidence_id: int) -> CodingEvidence:
    """Remove one of the actor's own evidence passages."""
    row = session.exec(
        select(CodingEvidence, Coding)
        .join(Coding, col(Coding.id) == col(CodingEvidence.coding_id))
        .where(
            CodingEvidence.id == evidence_id,
            CodingEvidence.organisation_id == actor.organisation_id,
            Coding.coach_id == actor.id,
        )
    ).first()
    if row is None:
        raise NotFound()
    evidence, _coding = row
    session.delete(evidence)
    return evidence


def release_profile(
    session: Session, *, actor: Actor, reflection_session: ReflectionSession, trajectory: Trajectory
) -> Coding:
    """Show the coach's profile to the professional (in their reflection session)."""
    coding = coding_for(session, actor=actor, reflection_session=reflection_session)
    if coding is None or not coding.ratings:
        raise DomainError(_("Rate at least one dimension before you release the profile."))
    coding.released_at = utcnow()
    session.add(coding)
    notify(
        session,
        organisation_id=trajectory.organisation_id,
        user_id=trajectory.professional_id,
        kind="profile_released",
        link=f"/trajectories/{trajectory.id}/profile",
        email=True,
    )
    return coding


def released_profiles(session: Session, *, trajectory: Trajectory) -> list[Coding]:
    """Released codings of a trajectory, oldest first (a later one shows the change)."""
    return list(
        session.exec(
            select(Coding)
            .where(Coding.trajectory_id == trajectory.id, col(Coding.released_at).is_not(None))
            .order_by(col(Coding.released_at))
        ).all()
    )
