"""A trajectory with something in every table, for the privacy tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from app.models import (
    Coding,
    CodingEvidence,
    DiaryEntry,
    ExperimentLogEntry,
    Feedback,
    NarrativeAnswer,
    Notification,
    PulseEntry,
    ReflectionSession,
    Trajectory,
)
from tests.conftest import Cast, Client
from tests.test_report import NARRATIVE, build

DRAFT = "Nog niet af: de ruzie bij de kapstok"
DIARY = "Hij gooide zijn beker om in de kring"
EXPERIMENT = "Ik ging naast hem zitten bij het lezen"
FEEDBACK = "Mooi dat je zijn kant zag, Pim"
QUOTE = "zat Kiki stil"
NOTE = "laat sensitiviteit zien"
REASON = "Klacht van ouder over de kapstok-ruzie"


@dataclass
class Rich:
    trajectory: Trajectory
    texts: tuple[str, ...]


def rich_trajectory(client: Client, db: Session, cast: Cast) -> Rich:
    """cast.professional's trajectory with narratives, a draft, diary, pulse, codings, feedback."""
    trajectory = build(client, db, cast)
    sessions = {
        s.template_key: s
        for s in db.exec(
            select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory.id)
        ).all()
    }
    interview = sessions["interview"]
    org, tid = trajectory.organisation_id, trajectory.id or 0
    db.add(
        NarrativeAnswer(
            organisation_id=org, session_id=interview.id or 0, step_key="connected", text=DRAFT
        )
    )
    entry = DiaryEntry(
        organisation_id=org,
        trajectory_id=tid,
        occurred_on=date(2026, 11, 2),
        phase="interview",
        instrument_version=1,
        values={"valence": -2, "what_happened": DIARY},
    )
    db.add(entry)
    db.add(
        PulseEntry(
            organisation_id=org,
            trajectory_id=tid,
            day=date(2026, 11, 3),
            phase="interview",
            instrument_version=1,
            answers={"closeness": 4, "anger": 2},
        )
    )
    db.add(
        ExperimentLogEntry(
            organisation_id=org,
            trajectory_id=tid,
            occurred_on=date(2026, 11, 4),
            what_i_did=EXPERIMENT,
            how_it_went=4,
        )
    )
    db.add(Feedback(organisation_id=org, trajectory_id=tid, coach_id=cast.coach.id, text=FEEDBACK))
    coding = Coding(
        organisation_id=org,
        session_id=interview.id or 0,
        trajectory_id=tid,
        coach_id=cast.coach.id,
        ratings={"sensitivity": 5, "anger": 2},
    )
    db.add(coding)
    db.flush()
    db.add(
        CodingEvidence(
            organisation_id=org,
            coding_id=coding.id or 0,
            step_key="three_words",
            quote=QUOTE,
            note=NOTE,
        )
    )
    db.add(
        Notification(
            organisation_id=org,
            user_id=cast.professional.id or 0,
            kind="feedback",
            link=f"/trajectories/{tid}#feedback",
        )
    )
    db.commit()
    return Rich(trajectory, (NARRATIVE, DRAFT, DIARY, EXPERIMENT, FEEDBACK, QUOTE, NOTE))
