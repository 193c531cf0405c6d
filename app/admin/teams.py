"""Teams (and their locations) of an organisation, and which team a professional is in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.dashboards import summary
from app.deps import Actor
from app.errors import DomainError, InvalidInput
from app.i18n import gettext as _
from app.models import Role, Team, TeamMembership, User, UserRole
from app.policies import get_in_organisation, get_user

NAME_LIMIT = 120


@dataclass(frozen=True)
class TeamRow:
    team: Team
    members: int


def list_teams(session: Session, *, actor: Actor) -> list[TeamRow]:
    """The organisation's teams with how many people are in each (one query)."""
    members = func.count(col(TeamMembership.user_id))
    rows = session.exec(
        select(Team, members)
        .outerjoin(TeamMembership, col(TeamMembership.team_id) == col(Team.id))
        .where(col(Team.organisation_id) == actor.organisation_id)
        .group_by(col(Team.id))
        .order_by(col(Team.location), col(Team.name), col(Team.id))
    ).all()
    return [TeamRow(team, int(n)) for team, n in rows]


def get_team(session: Session, *, actor: Actor, team_id: int) -> Team:
    """A team of the actor's organisation, or 404."""
    return get_in_organisation(session, Team, team_id, actor)


def members(session: Session, *, actor: Actor, team_id: int) -> list[User]:
    """The people in a team, by name."""
    return list(
        session.exec(
            select(User)
            .join(TeamMembership, col(TeamMembership.user_id) == col(User.id))
            .where(
                col(TeamMembership.team_id) == team_id,
                col(TeamMembership.organisation_id) == actor.organisation_id,
            )
            .order_by(col(User.display_name))
        ).all()
    )


def _checked(
    session: Session, actor: Actor, name: str, location: str, team_id: int | None
) -> tuple[str, str]:
    errors: dict[str, str] = {}
    name, location = " ".join(name.split()), " ".join(location.split())
    if not name:
        errors["name"] = _("Fill in the team's name.")
    elif len(name) > NAME_LIMIT:
        errors["name"] = _("A name can be at most %(limit)s characters.", limit=NAME_LIMIT)
    if len(location) > NAME_LIMIT:
        errors["location"] = _("A location can be at most %(limit)s characters.", limit=NAME_LIMIT)
    if not errors:
        same = session.exec(
            select(Team.id).where(
                col(Team.organisation_id) == actor.organisation_id,
                func.lower(col(Team.name)) == name.lower(),
                func.lower(col(Team.location)) == location.lower(),
                col(Team.id) != (team_id or 0),
            )
        ).first()
        if same is not None:
            errors["name"] = _("There is already a team with this name at this location.")
    if errors:
        raise InvalidInput(errors)
    return name, location


def create_team(session: Session, *, actor: Actor, name: str, location: str) -> Team:
    """Add a team (a name and, optionally, a location) to the organisation."""
    name, location = _checked(session, actor, name, location, None)
    team = Team(organisation_id=actor.organisation_id, name=name, location=location)
    session.add(team)
    session.flush()
    return team


def update_team(session: Session, *, actor: Actor, team_id: int, name: str, location: str) -> Team:
    """Rename a team or change its location."""
    team = get_team(session, actor=actor, team_id=team_id)
    name, location = _checked(session, actor, name, location, team_id)
    moved = location != team.location
    team.name, team.location = name, location
    session.add(team)
    session.flush()
    if moved:  # the dashboard's counts per location change with it
        summary.recount_participation(session, organisation_id=actor.organisation_id)
    return team


def delete_team(session: Session, *, actor: Actor, team_id: int) -> Team:
    """Remove a team that nobody is in."""
    team = get_team(session, actor=actor, team_id=team_id)
    if members(session, actor=actor, team_id=team_id):
        raise DomainError(
            _("Someone is still in this team. Take them out of it first, on their own page.")
        )
    session.delete(team)
    session.flush()
    return team


def team_of(session: Session, *, actor: Actor, user_id: int) -> Team | None:
    """The team a person of the organisation is in, if any."""
    return session.exec(
        select(Team)
        .join(TeamMembership, col(TeamMembership.team_id) == col(Team.id))
        .where(
            col(TeamMembership.user_id) == user_id,
            col(TeamMembership.organisation_id) == actor.organisation_id,
        )
    ).first()


def set_team(session: Session, *, actor: Actor, user_id: int, team_id: int | None) -> Team | None:
    """Put a professional in one team (instead of any other), or in none (team_id None)."""
    user = get_user(session, user_id, actor)
    team = get_team(session, actor=actor, team_id=team_id) if team_id is not None else None
    if team is not None:
        if user.erased_at is not None:
            raise DomainError(_("This person has been erased; the account cannot be used again."))
        is_professional = session.exec(
            select(UserRole.id).where(
                col(UserRole.user_id) == user_id, col(UserRole.role) == Role.professional.value
            )
        ).first()
        if is_professional is None:
            raise InvalidInput({"team_id": _("Only professionals are in a team.")})
    leave_team(session, organisation_id=actor.organisation_id, user_id=user_id, recount=False)
    if team is not None:
        session.add(
            TeamMembership(organisation_id=actor.organisation_id, user_id=user_id, team_id=team_id)  # type: ignore[arg-type]
        )
    session.flush()
    summary.recount_participation(session, organisation_id=actor.organisation_id)
    return team


def leave_team(
    session: Session, *, organisation_id: int, user_id: int, recount: bool = True
) -> None:
    """Take someone out of their team (their professional role ended, or they were erased)."""
    session.execute(
        delete(TeamMembership).where(
            col(TeamMembership.user_id) == user_id,
            col(TeamMembership.organisation_id) == organisation_id,
        )
    )
    if recount:
        summary.recount_participation(session, organisation_id=organisation_id)
