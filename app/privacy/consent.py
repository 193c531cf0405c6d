"""Consent for programme participation and research use: records, current state, withdrawal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from app.dashboards import summary
from app.deps import Actor
from app.errors import DomainError, InvalidInput, NotFound
from app.i18n import gettext as _
from app.models import (
    ConsentPurpose,
    ConsentRecord,
    FocusRelationship,
    Trajectory,
    TrajectoryStatus,
    utcnow,
)

# The version of the consent sentences shown at the intake and on the consent page; raise
# it whenever their wording changes, so every record says what the person agreed to.
WORDING_VERSION = 1


def record_consent(
    session: Session,
    *,
    trajectory: Trajectory,
    purpose: ConsentPurpose,
    given: bool,
    at: datetime | None = None,
) -> ConsentRecord:
    """Add one consent record and bring the trajectory's current state in line with it."""
    now = at or utcnow()
    record = ConsentRecord(
        organisation_id=trajectory.organisation_id,
        user_id=trajectory.professional_id,
        trajectory_id=trajectory.id,
        purpose=str(purpose),
        given=given,
        wording_version=WORDING_VERSION,
        recorded_at=now,
    )
    session.add(record)
    if purpose == ConsentPurpose.programme:
        if given:
            trajectory.consent_at = now
            if trajectory.status == TrajectoryStatus.stopped:
                trajectory.status = (
                    TrajectoryStatus.completed
                    if trajectory.completed_at is not None
                    else TrajectoryStatus.active
                )
        else:
            # Without consent the programme stops: no more sessions, diary or coach reading.
            trajectory.consent_at = None
            trajectory.status = TrajectoryStatus.stopped
    else:
        trajectory.research_consent = given
    trajectory.last_activity_at = now
    session.add(trajectory)
    if purpose == ConsentPurpose.programme:
        # A stopped or resumed programme changes the dashboard's participation counts.
        session.flush()
        summary.recount_participation(session, organisation_id=trajectory.organisation_id)
    return record


def consent_from_intake(session: Session, *, trajectory: Trajectory, research: bool) -> None:
    """The intake's consent step: record programme consent once, research consent on change."""
    if trajectory.consent_at is None:
        record_consent(session, trajectory=trajectory, purpose=ConsentPurpose.programme, given=True)
    if research != trajectory.research_consent:
        record_consent(
            session, trajectory=trajectory, purpose=ConsentPurpose.research, given=research
        )


@dataclass
class ConsentRow:
    """One trajectory on the consent page: its current consents and their history."""

    trajectory: Trajectory
    relationship: FocusRelationship
    history: list[ConsentRecord] = field(default_factory=list)

    @property
    def programme_given(self) -> bool:
        return self.trajectory.consent_at is not None

    @property
    def stopped(self) -> bool:
        return self.trajectory.status == TrajectoryStatus.stopped

    def latest(self, purpose: str) -> ConsentRecord | None:
        found = [r for r in self.history if r.purpose == purpose]
        return found[-1] if found else None


def consent_overview(session: Session, *, actor: Actor) -> list[ConsentRow]:
    """The actor's trajectories with their consent history (two queries)."""
    pairs = session.exec(
        select(Trajectory, FocusRelationship)
        .join(FocusRelationship, col(FocusRelationship.id) == col(Trajectory.focus_relationship_id))
        .where(
            Trajectory.professional_id == actor.id,
            Trajectory.organisation_id == actor.organisation_id,
        )
        .order_by(col(Trajectory.created_at).desc())
    ).all()
    rows = {t.id: ConsentRow(trajectory=t, relationship=r) for t, r in pairs}
    records = session.exec(
        select(ConsentRecord)
        .where(
            ConsentRecord.user_id == actor.id,
            ConsentRecord.organisation_id == actor.organisation_id,
        )
        .order_by(col(ConsentRecord.recorded_at), col(ConsentRecord.id))
    ).all()
    for record in records:
        if record.trajectory_id in rows:
            rows[record.trajectory_id].history.append(record)
    return list(rows.values())


def change_consent(
    session: Session,
    *,
    actor: Actor,
    trajectory_id: int,
    purpose: str,
    give: bool,
    confirmed: bool,
) -> ConsentRecord:
    """The professional gives or withdraws a consent for one of their own trajectories."""
    trajectory = session.get(Trajectory, trajectory_id)
    if (
        trajectory is None
        or trajectory.organisation_id != actor.organisation_id
        or trajectory.professional_id != actor.id
    ):
        raise NotFound()
    if purpose not in {p.value for p in ConsentPurpose}:
        raise InvalidInput({"form": _("Choose which consent you want to change.")})
    chosen = ConsentPurpose(purpose)
    if chosen == ConsentPurpose.programme:
        if give and trajectory.status != TrajectoryStatus.stopped:
            raise DomainError(_("You already take part in this programme."))
        if not give and trajectory.status == TrajectoryStatus.stopped:
            raise DomainError(_("This programme has already been stopped."))
        if not give and not confirmed:
            raise InvalidInput(
                {
                    f"confirm-{trajectory_id}": _(
                        "Tick the box to confirm that you want to stop this programme."
                    )
                }
            )
    elif give == trajectory.research_consent:
        raise DomainError(
            _("You had already given this consent.")
            if give
            else _("You had already withdrawn this consent.")
        )
    return record_consent(session, trajectory=trajectory, purpose=chosen, given=give)
