"""Admin pages for the audit trail (only after a two-factor login) and security settings."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col, select

from app import audit
from app.admin import audit_trail
from app.auth import two_factor
from app.dashboards.export import to_csv
from app.db import CommitInThreadRoute, SessionDep
from app.deps import AdminActor, TwoFactorAdminActor
from app.forms import FormDep, optional_date
from app.htmx import redirect
from app.i18n import gettext as _
from app.models import Organisation, Role, User, UserRole
from app.templating import flash, render

router = APIRouter(prefix="/admin", route_class=CommitInThreadRoute)


def _id(value: str | None, allowed: set[int]) -> int | None:
    return int(value) if value and value.isdigit() and int(value) in allowed else None


def _filters(
    request: Request, people: list[tuple[int, str]]
) -> tuple[audit_trail.AuditFilters, list[str]]:
    """The selection from the query string; unknown values are ignored, bad dates explained."""
    params = request.query_params
    known = {user_id for user_id, _name in people}
    errors: list[str] = []
    filters = audit_trail.AuditFilters(
        person_id=_id(params.get("person"), known),
        actor_id=_id(params.get("actor"), known),
        action=(params.get("action") or "")[:60],
        date_from=optional_date(
            params.get("from"), errors, _("Enter the start date as YYYY-MM-DD, e.g. 2025-09-01.")
        ),
        date_to=optional_date(
            params.get("to"), errors, _("Enter the end date as YYYY-MM-DD, e.g. 2026-06-30.")
        ),
    )
    return filters, errors


@router.get("/audit")
def audit_page(
    request: Request, session: SessionDep, actor: TwoFactorAdminActor, page: int = 0
) -> Response:
    people = audit_trail.people(session, actor=actor)
    filters, errors = _filters(request, people)
    page = min(max(page, 0), 10_000)
    result = audit_trail.search(session, actor=actor, filters=filters, page=page)
    audit.record(
        session,
        actor=actor,
        action="audit.view",
        request=request,
        subject_user_id=filters.person_id,
        detail=filters.describe(),
    )
    query = request.query_params
    context = {
        "result": result,
        "errors": errors,
        "people": people,
        "actions": audit_trail.actions(session, actor=actor),
        "values": {key: query.get(key, "") for key in ("person", "actor", "action", "from", "to")},
        "query": urlencode([(k, v) for k, v in query.multi_items() if k != "page"]),
    }
    return render(request, "admin/audit.html", context, block="audit_results")


@router.get("/audit/export.csv")
def audit_export(request: Request, session: SessionDep, actor: TwoFactorAdminActor) -> Response:
    people = audit_trail.people(session, actor=actor)
    filters, _errors = _filters(request, people)
    audit.record(
        session,
        actor=actor,
        action="audit.export",
        request=request,
        subject_user_id=filters.person_id,
        detail=filters.describe(),
    )
    rows = audit_trail.export_rows(session, actor=actor, filters=filters)
    # Built whole before the response starts: the database session ends with the route.
    content = "\ufeff" + to_csv(rows)  # the BOM makes spreadsheet programs read UTF-8
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dyade-audit-trail.csv"'},
    )


# ---------------------------------------------------------------- security settings


def _settings_page(
    request: Request, session: SessionDep, actor: AdminActor, status: int = 200
) -> Response:
    organisation = session.get(Organisation, actor.organisation_id)
    assert organisation is not None
    not_enrolled = session.exec(
        select(User.id, User.display_name)
        .join(UserRole, col(UserRole.user_id) == User.id)
        .where(
            User.organisation_id == actor.organisation_id,
            col(User.is_active),
            col(User.totp_confirmed_at).is_(None),
            col(UserRole.role).in_([str(r) for r in (Role.admin, Role.coach, Role.supervisor)]),
        )
        .distinct()
        .order_by(col(User.display_name))
    ).all()
    context = {"organisation": organisation, "not_enrolled": [name for _id, name in not_enrolled]}
    return render(request, "admin/settings.html", context, status_code=status)


@router.get("/settings")
def settings_page(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    return _settings_page(request, session, actor)


@router.post("/settings")
def save_settings(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep
) -> Response:
    organisation = session.get(Organisation, actor.organisation_id)
    assert organisation is not None
    required = form.get("two_factor_required") == "on"
    if required != organisation.two_factor_required:
        two_factor.set_required(session, organisation=organisation, required=required)
        audit.record(
            session,
            actor=actor,
            action="organisation.two_factor_required",
            request=request,
            detail=f"required={str(required).lower()}",
        )
    flash(request, _("The settings have been saved."))
    return redirect(request, "/admin/settings")
