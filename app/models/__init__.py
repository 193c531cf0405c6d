"""All tables, imported here so Alembic sees every one of them."""

from app.models.audit import AuditChain, AuditEvent
from app.models.auth import (
    AccountToken,
    LoginFailure,
    RateCounter,
    RecoveryCode,
    TokenPurpose,
    UserSession,
)
from app.models.base import utcnow
from app.models.coaching import Coding, CodingEvidence, Feedback, Notification
from app.models.dashboards import DashboardTotal, SubscaleChange
from app.models.instruments import OrganisationInstrument
from app.models.mail import OutboxMessage
from app.models.orgs import (
    CoachAssignment,
    Organisation,
    Role,
    Team,
    TeamMembership,
    User,
    UserRole,
)
from app.models.privacy import ConsentPurpose, ConsentRecord
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
from app.models.reminders import OrganisationReminderSettings, Reminder, ReminderPreference

__all__ = [
    "AccountToken",
    "AgeBand",
    "AuditChain",
    "AuditEvent",
    "CoachAssignment",
    "Coding",
    "CodingEvidence",
    "ConsentPurpose",
    "ConsentRecord",
    "DashboardTotal",
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
    "OrganisationReminderSettings",
    "OutboxMessage",
    "PulseEntry",
    "RateCounter",
    "RecoveryCode",
    "ReflectionSession",
    "Reminder",
    "ReminderPreference",
    "Role",
    "Sector",
    "SessionStatus",
    "SubscaleChange",
    "Team",
    "TeamMembership",
    "TokenPurpose",
    "Trajectory",
    "TrajectoryStatus",
    "User",
    "UserRole",
    "UserSession",
    "utcnow",
]
