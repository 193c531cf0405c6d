"""Reminder pages: one's own choices, the unsubscribe link, the organisation's intervals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit
from app.db import CommitInThreadRoute, SessionDep
from app.deps import Actor, AdminActor, CurrentActor, public, signed_link
from app.errors import InvalidInput
from app.forms import FormDep
from app.htmx import redirect
from app.i18n import gettext as _
from app.programmes.loader import builtin_programme
from app.programmes.schema import REMINDER_LIMITS
from app.reminders import service
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)
PROGRAMME = "llinc"


def reminder_context(
    session: SessionDep,
    actor: Actor,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the "Reminders" section of the account page needs."""
    preference = service.preference_of(session, actor.id)
    return {
        "reminder_kinds": service.kinds_for(actor.roles),
        "reminder_values": values or service.preference_form_values(preference),
        "reminder_errors": errors or {},
        "reminder_limits": service.DAILY_LIMITS,
        "unsubscribed": preference is not None and preference.unsubscribed_at is not None,
    }


@router.post("/account/reminders")
def save_reminders(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep
) -> Response:
    try:
        service.save_preferences(session, actor=actor, values=form.values)
    except InvalidInput as exc:
        from app.auth import service as auth_service

        context = {
            "sessions": auth_service.open_sessions(session, user_id=actor.id),
            "errors": {},
            "current_session_id": actor.session_id,
            **reminder_context(session, actor, values=form.values, errors=exc.errors),
        }
        return render(request, "auth/account.html", context, status_code=422)
    flash(request, _("Your reminder settings have been saved."))
    return redirect(request, "/account#reminders")


@router.get("/unsubscribe/{token}")
@public
def unsubscribe_page(request: Request, session: SessionDep, token: str) -> Response:
    user = service.user_for_unsubscribe(session, token[:100])
    if user is None:
        return render(request, "reminders/unsubscribe.html", {"valid": False}, status_code=404)
    return render(request, "reminders/unsubscribe.html", {"valid": True, "done": False})


@router.post("/unsubscribe/{token}")
@public
@signed_link
def unsubscribe(request: Request, session: SessionDep, token: str) -> Response:
    # A GET only asks: link checkers in mail filters open links, and must not unsubscribe.
    user = service.user_for_unsubscribe(session, token[:100])
    if user is None:
        return render(request, "reminders/unsubscribe.html", {"valid": False}, status_code=404)
    service.unsubscribe(session, user=user)
    return render(request, "reminders/unsubscribe.html", {"valid": True, "done": True})


def _admin_context(
    session: SessionDep,
    actor: Actor,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    programme = builtin_programme(PROGRAMME)
    current = service.effective_settings(
        service.organisation_settings(session, [actor.organisation_id]),
        actor.organisation_id,
        programme.key,
        programme.version,
    )
    return {
        "defaults": programme.reminders,
        "limits": REMINDER_LIMITS,
        "values": values or {name: str(getattr(current, name)) for name in REMINDER_LIMITS},
        "errors": errors or {},
    }


@router.get("/admin/reminders")
def admin_reminders(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    return render(request, "admin/reminders.html", _admin_context(session, actor))


@router.post("/admin/reminders")
def save_admin_reminders(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep
) -> Response:
    try:
        service.save_organisation_settings(
            session, actor=actor, programme_key=PROGRAMME, values=form.values
        )
    except InvalidInput as exc:
        context = _admin_context(session, actor, values=form.values, errors=exc.errors)
        return render(request, "admin/reminders.html", context, status_code=422)
    audit.record(session, actor=actor, action="reminders.settings", request=request)
    flash(request, _("The reminder settings of your organisation have been saved."))
    return redirect(request, "/admin/reminders")
