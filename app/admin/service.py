"""Organisation administration: accounts, roles, coach assignments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from app.admin.teams import leave_team
from app.auth import service as auth_service
from app.dashboards import summary
from app.deps import Actor
from app.errors import DomainError, InvalidInput
from app.i18n import gettext as _
from app.models import CoachAssignment, Organisation, Role, User, UserRole, utcnow
from app.policies import get_user, in_organisation

ROLE_ORDER = [Role.professional, Role.coach, Role.supervisor, Role.admin]
NAME_LIMIT = 120


@dataclass
class UserRow:
    user: User
    roles: list[str]
    coaches: list[User] = field(default_factory=list)
    professionals: list[User] = field(default_factory=list)

    @property
    def invited(self) -> bool:
        return self.user.password_hash is None


def list_users(session: Session, *, actor: Actor, role: str = "", query: str = "") -> list[UserRow]:
    """The organisation's accounts with roles and assignments (three queries in all)."""
    statement = in_organisation(select(User), User, actor).order_by(col(User.display_name))
    if query:
        like = f"%{query.strip().lower()[:100]}%"
        statement = statement.where(
            or_(func.lower(User.display_name).like(like), func.lower(User.email).like(like))
        )
    users = list(session.exec(statement).all())
    roles = _roles_by_user(session, actor)
    rows = [UserRow(user=u, roles=roles.get(u.id or 0, [])) for u in users]
    if role:
        rows = [row for row in rows if role in row.roles]
    by_id = {u.id: u for u in session.exec(in_organisation(select(User), User, actor)).all()}
    by_row = {row.user.id: row for row in rows}
    assignments = session.exec(
        in_organisation(select(CoachAssignment), CoachAssignment, actor)
    ).all()
    for assignment in assignments:
        coach, professional = by_id.get(assignment.coach_id), by_id.get(assignment.professional_id)
        if professional is not None and coach is not None:
            if assignment.professional_id in by_row:
                by_row[assignment.professional_id].coaches.append(coach)
            if assignment.coach_id in by_row:
                by_row[assignment.coach_id].professionals.append(professional)
    return rows


def _roles_by_user(session: Session, actor: Actor) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for user_id, role in session.exec(
        select(UserRole.user_id, UserRole.role).where(
            UserRole.organisation_id == actor.organisation_id
        )
    ).all():
        found[user_id].append(role)
    order = [str(r) for r in ROLE_ORDER]
    return {k: sorted(v, key=order.index) for k, v in found.items()}


def user_detail(session: Session, *, actor: Actor, user_id: int) -> UserRow:
    """One account of the organisation with roles and assignments, or 404."""
    user = get_user(session, user_id, actor)
    for row in list_users(session, actor=actor):
        if row.user.id == user.id:
            return row
    raise DomainError()  # unreachable: get_user found the user in this organisation


def _parse_roles(values: list[str]) -> list[str]:
    valid = {str(r) for r in Role}
    return [str(r) for r in ROLE_ORDER if str(r) in set(values) & valid]


def invite_user(
    session: Session,
    *,
    actor: Actor,
    email: str,
    display_name: str,
    locale: str,
    roles: list[str],
) -> User:
    """Create an account for a new person and email them an invitation link."""
    errors: dict[str, str] = {}
    name = display_name.strip()
    if not name:
        errors["display_name"] = _("Fill in the person's name.")
    elif len(name) > NAME_LIMIT:
        errors["display_name"] = _("A name can be at most %(limit)s characters.", limit=NAME_LIMIT)
    normalised = auth_service.normalise_email(email)
    if not normalised:
        errors["email"] = _("Fill in an email address.")
    else:
        try:
            normalised = validate_email(normalised, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            errors["email"] = _("This is not a valid email address, for example name@school.nl.")
        else:
            exists = session.exec(select(User.id).where(User.email == normalised)).first()
            if exists is not None:
                errors["email"] = _("There is already an account with this email address.")
    chosen = _parse_roles(roles)
    if not chosen:
        errors["roles"] = _("Choose at least one role.")
    if locale not in ("nl", "en"):
        errors["locale"] = _("Choose Dutch or English.")
    if errors:
        raise InvalidInput(errors)
    user = User(
        organisation_id=actor.organisation_id,
        email=normalised,
        display_name=name,
        locale=locale,
        password_hash=None,
    )
    session.add(user)
    session.flush()
    for role in chosen:
        session.add(UserRole(organisation_id=actor.organisation_id, user_id=user.id, role=role))  # type: ignore[arg-type]
    session.flush()
    summary.recount_accounts(session, organisation_id=actor.organisation_id)
    organisation = session.get(Organisation, actor.organisation_id)
    assert organisation is not None
    auth_service.send_invitation(
        session,
        user=user,
        inviter_name=actor.display_name,
        organisation_name=organisation.name,
    )
    return user


def resend_invitation(session: Session, *, actor: Actor, user_id: int) -> User:
    """Send a fresh invitation link to someone who has not set a password yet."""
    user = get_user(session, user_id, actor)
    if user.erased_at is not None:
        raise DomainError(_("This person has been erased; the account cannot be used again."))
    if user.password_hash is not None:
        raise DomainError(_("This person has already set a password."))
    organisation = session.get(Organisation, actor.organisation_id)
    assert organisation is not None
    auth_service.send_invitation(
        session,
        user=user,
        inviter_name=actor.display_name,
        organisation_name=organisation.name,
    )
    return user


def set_roles(session: Session, *, actor: Actor, user_id: int, roles: list[str]) -> User:
    """Replace a person's roles; an admin cannot take away their own admin role."""
    user = get_user(session, user_id, actor)
    chosen = _parse_roles(roles)
    if not chosen:
        raise InvalidInput({"roles": _("Choose at least one role.")})
    if user.id == actor.id and str(Role.admin) not in chosen:
        raise InvalidInput({"roles": _("You cannot take away your own admin role.")})
    session.execute(delete(UserRole).where(col(UserRole.user_id) == user.id))
    for role in chosen:
        session.add(UserRole(organisation_id=actor.organisation_id, user_id=user.id, role=role))  # type: ignore[arg-type]
    if str(Role.coach) not in chosen:
        session.execute(delete(CoachAssignment).where(col(CoachAssignment.coach_id) == user.id))
    if str(Role.professional) not in chosen:
        session.execute(
            delete(CoachAssignment).where(col(CoachAssignment.professional_id) == user.id)
        )
        leave_team(session, organisation_id=actor.organisation_id, user_id=user_id)
    session.flush()
    summary.recount_accounts(session, organisation_id=actor.organisation_id)
    return user


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (ending every login session at once) or reactivate an account."""
    user = get_user(session, user_id, actor)
    if user.erased_at is not None and active:
        raise DomainError(_("This person has been erased; the account cannot be used again."))
    if user.id == actor.id and not active:
        raise DomainError(_("You cannot deactivate your own account."))
    user.is_active = active
    user.deactivated_at = None if active else utcnow()
    session.add(user)
    if not active:
        auth_service.end_all_sessions(session, user_id=user_id)
    session.flush()
    summary.recount_accounts(session, organisation_id=actor.organisation_id)
    return user


def reset_two_factor(session: Session, *, actor: Actor, user_id: int) -> User:
    """Switch off someone's two-factor login (lost phone and codes); their logins end."""
    from app.auth import two_factor

    user = get_user(session, user_id, actor)
    if not user.two_factor_enabled:
        raise DomainError(_("Two-factor login is not on for this account."))
    two_factor.reset_for(session, user=user)
    return user


def assign_coach(
    session: Session, *, actor: Actor, coach_id: int, professional_id: int
) -> CoachAssignment:
    """Pair a coach with a professional of the same organisation."""
    coach = get_user(session, coach_id, actor)
    professional = get_user(session, professional_id, actor)
    roles = _roles_by_user(session, actor)
    if str(Role.coach) not in roles.get(coach_id, []):
        raise InvalidInput({"coach_id": _("This person is not a coach.")})
    if str(Role.professional) not in roles.get(professional_id, []):
        raise InvalidInput({"professional_id": _("This person is not a professional.")})
    if coach.id == professional.id:
        raise InvalidInput({"coach_id": _("Nobody can coach themselves.")})
    existing = session.exec(
        select(CoachAssignment).where(
            CoachAssignment.coach_id == coach_id, CoachAssignment.professional_id == professional_id
        )
    ).first()
    if existing is not None:
        return existing
    assignment = CoachAssignment(
        organisation_id=actor.organisation_id, coach_id=coach_id, professional_id=professional_id
    )
    session.add(assignment)
    return assignment


def remove_assignment(session: Session, *, actor: Actor, assignment_id: int) -> CoachAssignment:
    """End a coach–professional pairing of this organisation."""
    from app.policies import get_in_organisation

    assignment = get_in_organisation(session, CoachAssignment, assignment_id, actor)
    session.delete(assignment)
    return assignment


def coaches(session: Session, *, actor: Actor) -> list[User]:
    """Active coaches of the organisation, by name."""
    statement = (
        in_organisation(select(User), User, actor)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(UserRole.role == str(Role.coach), col(User.is_active).is_(True))
        .order_by(col(User.display_name))
    )
    return list(session.exec(statement).all())
