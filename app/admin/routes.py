"""Admin pages: accounts, roles, coach assignments and the development outbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col, select

from app import audit
from app.admin import service, teams
from app.config import get_settings
from app.db import CommitInThreadRoute, SessionDep
from app.deps import AdminActor, Id
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import FormDep, parse_id
from app.htmx import redirect
from app.i18n import gettext as _
from app.models import OutboxMessage, Role
from app.templating import flash, render

router = APIRouter(prefix="/admin", route_class=CommitInThreadRoute)


@router.get("/users")
def users_page(
    request: Request, session: SessionDep, actor: AdminActor, role: str = "", q: str = ""
) -> Response:
    rows = service.list_users(session, actor=actor, role=role[:20], query=q[:100])
    detail = "; ".join(f"{k}={v}" for k, v in (("role", role[:20]), ("q", q[:100])) if v)
    audit.record(session, actor=actor, action="users.list", request=request, detail=detail)
    context = {"rows": rows, "role": role, "q": q[:100], "roles": service.ROLE_ORDER}
    return render(request, "admin/users.html", context, block="user_table")


def _invite_form(
    request: Request, values: dict[str, object], errors: dict[str, str], status: int
) -> Response:
    context = {"values": values, "errors": errors, "roles": service.ROLE_ORDER}
    return render(request, "admin/invite.html", context, status_code=status)


@router.get("/users/new")
def invite_page(request: Request, actor: AdminActor) -> Response:
    values: dict[str, object] = {"locale": actor.locale, "roles": [str(Role.professional)]}
    return _invite_form(request, values, {}, 200)


@router.post("/users")
def invite(request: Request, session: SessionDep, actor: AdminActor, form: FormDep) -> Response:
    values: dict[str, object] = {
        "email": form.get("email")[:500],
        "display_name": form.get("display_name")[:500],
        "locale": form.get("locale"),
        "roles": form.get_list("roles"),
    }
    try:
        user = service.invite_user(
            session,
            actor=actor,
            email=form.get("email"),
            display_name=form.get("display_name"),
            locale=form.get("locale"),
            roles=form.get_list("roles"),
        )
    except InvalidInput as exc:
        return _invite_form(request, values, exc.errors, 422)
    audit.record(
        session, actor=actor, action="user.invite", request=request, subject_user_id=user.id
    )
    flash(request, _("Invitation sent to %(email)s.", email=user.email))
    return redirect(request, f"/admin/users/{user.id}")


def _detail(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    user_id: Id,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    row = service.user_detail(session, actor=actor, user_id=user_id)
    audit.record(session, actor=actor, action="user.view", request=request, subject_user_id=user_id)
    context = {
        "row": row,
        "roles": service.ROLE_ORDER,
        "coaches": service.coaches(session, actor=actor),
        "assignments": _assignments(session, actor, user_id),
        "trajectories": _trajectories(session, actor, user_id),
        "teams": teams.list_teams(session, actor=actor),
        "team": teams.team_of(session, actor=actor, user_id=user_id),
        "errors": errors or {},
    }
    return render(request, "admin/user.html", context, status_code=status)


def _trajectories(session: SessionDep, actor: AdminActor, user_id: Id) -> list[Any]:
    """The person's programmes: only when and how far, no pseudonym (that needs a reason)."""
    from app.models import Trajectory

    return list(
        session.exec(
            select(Trajectory.id, Trajectory.created_at, Trajectory.status)
            .where(
                Trajectory.professional_id == user_id,
                Trajectory.organisation_id == actor.organisation_id,
            )
            .order_by(col(Trajectory.created_at))
        ).all()
    )


def _assignments(session: SessionDep, actor: AdminActor, user_id: Id) -> list[tuple[int, str, str]]:
    from app.models import CoachAssignment, User

    rows = session.exec(
        select(CoachAssignment.id, User.display_name, User.email)
        .join(User, col(User.id) == col(CoachAssignment.coach_id))
        .where(
            CoachAssignment.professional_id == user_id,
            CoachAssignment.organisation_id == actor.organisation_id,
        )
        .order_by(col(User.display_name))
    ).all()
    return [(int(a or 0), n, e) for a, n, e in rows]


@router.get("/users/{user_id}")
def user_page(request: Request, session: SessionDep, actor: AdminActor, user_id: Id) -> Response:
    return _detail(request, session, actor, user_id)


@router.post("/users/{user_id}/roles")
def change_roles(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep, user_id: Id
) -> Response:
    try:
        service.set_roles(session, actor=actor, user_id=user_id, roles=form.get_list("roles"))
    except InvalidInput as exc:
        return _detail(request, session, actor, user_id, exc.errors, 422)
    audit.record(
        session,
        actor=actor,
        action="user.roles",
        request=request,
        subject_user_id=user_id,
        detail=",".join(sorted(form.get_list("roles")))[:200],
    )
    flash(request, _("The roles have been saved."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/users/{user_id}/deactivate")
def deactivate(request: Request, session: SessionDep, actor: AdminActor, user_id: Id) -> Response:
    try:
        service.set_active(session, actor=actor, user_id=user_id, active=False)
    except InvalidInput as exc:
        return _detail(request, session, actor, user_id, exc.errors, 422)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(request, session, actor, user_id, {"status": exc.message}, 422)
    audit.record(
        session, actor=actor, action="user.deactivate", request=request, subject_user_id=user_id
    )
    flash(request, _("The account has been deactivated and logged out everywhere."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/users/{user_id}/reactivate")
def reactivate(request: Request, session: SessionDep, actor: AdminActor, user_id: Id) -> Response:
    try:
        service.set_active(session, actor=actor, user_id=user_id, active=True)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(request, session, actor, user_id, {"status": exc.message}, 422)
    audit.record(
        session, actor=actor, action="user.reactivate", request=request, subject_user_id=user_id
    )
    flash(request, _("The account is active again."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/users/{user_id}/two-factor/reset")
def reset_two_factor(
    request: Request, session: SessionDep, actor: AdminActor, user_id: Id
) -> Response:
    try:
        service.reset_two_factor(session, actor=actor, user_id=user_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(request, session, actor, user_id, {"status": exc.message}, 422)
    audit.record(
        session,
        actor=actor,
        action="user.two_factor_reset",
        request=request,
        subject_user_id=user_id,
    )
    flash(request, _("Two-factor login is off for this account; they can set it up again."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/users/{user_id}/invitation")
def resend(request: Request, session: SessionDep, actor: AdminActor, user_id: Id) -> Response:
    try:
        user = service.resend_invitation(session, actor=actor, user_id=user_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(request, session, actor, user_id, {"status": exc.message}, 422)
    audit.record(
        session, actor=actor, action="user.invite", request=request, subject_user_id=user_id
    )
    flash(request, _("A new invitation has been sent to %(email)s.", email=user.email))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/users/{user_id}/coaches")
def add_coach(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep, user_id: Id
) -> Response:
    coach_id = parse_id(form.get("coach_id")) or 0
    try:
        if not coach_id:
            raise InvalidInput({"coach_id": _("Choose a coach.")})
        service.assign_coach(session, actor=actor, coach_id=coach_id, professional_id=user_id)
    except InvalidInput as exc:
        return _detail(request, session, actor, user_id, exc.errors, 422)
    audit.record(
        session,
        actor=actor,
        action="assignment.add",
        request=request,
        subject_user_id=user_id,
        detail=f"coach={coach_id}",
    )
    flash(request, _("The coach has been assigned."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/assignments/{assignment_id}/delete")
def remove_coach(
    request: Request, session: SessionDep, actor: AdminActor, assignment_id: Id
) -> Response:
    assignment = service.remove_assignment(session, actor=actor, assignment_id=assignment_id)
    audit.record(
        session,
        actor=actor,
        action="assignment.remove",
        request=request,
        subject_user_id=assignment.professional_id,
        detail=f"coach={assignment.coach_id}",
    )
    flash(request, _("The coach is no longer assigned."))
    return redirect(request, f"/admin/users/{assignment.professional_id}")


@router.post("/users/{user_id}/team")
def change_team(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep, user_id: Id
) -> Response:
    raw = form.get("team_id")
    team_id = parse_id(raw)
    try:
        if raw and team_id is None:
            raise InvalidInput({"team_id": _("Choose a team from the list.")})
        team = teams.set_team(session, actor=actor, user_id=user_id, team_id=team_id)
    except InvalidInput as exc:
        return _detail(request, session, actor, user_id, exc.errors, 422)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(request, session, actor, user_id, {"team_id": exc.message}, 422)
    audit.record(
        session,
        actor=actor,
        action="user.team",
        request=request,
        subject_user_id=user_id,
        detail=f"team={team.id}" if team else "team=none",
    )
    if team is None:
        flash(request, _("This person is no longer in a team."))
    else:
        flash(request, _("This person is now in team %(team)s.", team=team.name))
    return redirect(request, f"/admin/users/{user_id}")


# Teams


def _teams_page(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "rows": teams.list_teams(session, actor=actor),
        "values": values or {},
        "errors": errors or {},
    }
    return render(request, "admin/teams.html", context, status_code=status)


@router.get("/teams")
def teams_page(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    return _teams_page(request, session, actor)


@router.post("/teams")
def create_team(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep
) -> Response:
    values = {"name": form.get("name")[:500], "location": form.get("location")[:500]}
    try:
        team = teams.create_team(
            session, actor=actor, name=values["name"], location=values["location"]
        )
    except InvalidInput as exc:
        return _teams_page(request, session, actor, values, exc.errors, 422)
    audit.record(
        session,
        actor=actor,
        action="team.create",
        request=request,
        detail=f"team={team.id}: {team.name} / {team.location}"[:500],
    )
    flash(request, _("Team %(team)s has been added.", team=team.name))
    return redirect(request, "/admin/teams")


def _team_page(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    team_id: Id,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    team = teams.get_team(session, actor=actor, team_id=team_id)
    context = {
        "team": team,
        "members": teams.members(session, actor=actor, team_id=team_id),
        "values": values or {"name": team.name, "location": team.location},
        "errors": errors or {},
    }
    return render(request, "admin/team.html", context, status_code=status)


@router.get("/teams/{team_id}")
def team_page(request: Request, session: SessionDep, actor: AdminActor, team_id: Id) -> Response:
    return _team_page(request, session, actor, team_id)


@router.post("/teams/{team_id}")
def update_team(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep, team_id: Id
) -> Response:
    values = {"name": form.get("name")[:500], "location": form.get("location")[:500]}
    try:
        team = teams.update_team(
            session, actor=actor, team_id=team_id, name=values["name"], location=values["location"]
        )
    except InvalidInput as exc:
        return _team_page(request, session, actor, team_id, values, exc.errors, 422)
    audit.record(
        session,
        actor=actor,
        action="team.update",
        request=request,
        detail=f"team={team.id}: {team.name} / {team.location}"[:500],
    )
    flash(request, _("The team has been saved."))
    return redirect(request, f"/admin/teams/{team_id}")


@router.post("/teams/{team_id}/delete")
def delete_team(request: Request, session: SessionDep, actor: AdminActor, team_id: Id) -> Response:
    try:
        team = teams.delete_team(session, actor=actor, team_id=team_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _team_page(request, session, actor, team_id, None, {"status": exc.message}, 422)
    audit.record(
        session,
        actor=actor,
        action="team.delete",
        request=request,
        detail=f"team={team_id}: {team.name} / {team.location}"[:500],
    )
    flash(request, _("Team %(team)s has been removed.", team=team.name))
    return redirect(request, "/admin/teams")


def _require_outbox() -> None:
    if not get_settings().outbox_enabled:
        raise NotFound()


@router.get("/outbox")
def outbox(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    _require_outbox()
    messages = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.organisation_id == actor.organisation_id)
        .order_by(col(OutboxMessage.id).desc())
        .limit(100)
    ).all()
    return render(request, "admin/outbox.html", {"messages": messages})


@router.get("/outbox/{message_id}")
def outbox_message(
    request: Request, session: SessionDep, actor: AdminActor, message_id: Id
) -> Response:
    _require_outbox()
    message = session.get(OutboxMessage, message_id)
    if message is None or message.organisation_id != actor.organisation_id:
        raise NotFound()
    audit.record(
        session, actor=actor, action="outbox.view", request=request, detail=f"message={message_id}"
    )
    return render(request, "admin/outbox_message.html", {"message": message})
