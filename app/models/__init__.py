"""All tables, imported here so Alembic sees every one of them."""

from app.models.audit import AuditEvent
from app.models.auth import AccountToken, LoginFailure, TokenPurpose, UserSession
from app.models.base import utcnow
from app.models.instruments import OrganisationInstrument
from app.models.mail import OutboxMessage
from app.models.orgs import CoachAssignment, Organisation, Role, User, UserRole

__all__ = [
    "AccountToken",
    "AuditEvent",
    "CoachAssignment",
    "LoginFailure",
    "Organisation",
    "OrganisationInstrument",
    "OutboxMessage",
    "Role",
    "TokenPurpose",
    "User",
    "UserRole",
    "UserSession",
    "utcnow",
]
