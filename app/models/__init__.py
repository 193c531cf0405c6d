"""All tables, imported here so Alembic sees every one of them."""

from app.models.audit import AuditEvent
from app.models.auth import AccountToken, LoginFailure, RateCounter, TokenPurpose, UserSession
from app.models.base import utcnow
from app.models.coaching import Coding, CodingEvidence, Feedback, Notification
from app.models.instruments import OrganisationInstrument
from app.models.mail import OutboxMessage
from app.models.orgs import CoachAssignment, Organisation, Role, User, UserRole
from app.models.reflection import (
    AgeBand,
    DiaryEntry,
    ExperimentLogEntry,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    PulseEntry,
    ReflectionSession,
    Sector,
    SessionStatus,
    Trajectory,
    TrajectoryStatus,
)

__all__ = [
    "AccountToken",
    "AgeBand",
    "AuditEvent",
    "CoachAssignment",
    "Coding",
    "CodingEvidence",
    "DiaryEntry",
    "ExperimentLogEntry",
    "Feedback",
    "FocusRelationship",
    "InstrumentResponse",
    "LoginFailure",
    "NarrativeAnswer",
    "Notification",
    "Organisation",
    "OrganisationInstrument",
    "OutboxMessage",
    "PulseEntry",
    "RateCounter",
    "ReflectionSession",
    "Role",
    "Sector",
    "SessionStatus",
    "TokenPurpose",
    "Trajectory",
    "TrajectoryStatus",
    "User",
    "UserRole",
    "UserSession",
    "utcnow",
]
