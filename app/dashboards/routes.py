"""The supervisor's dashboard and its CSV export (aggregates only)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.dashboards import service
from app.dashboards.export import export_rows, to_csv
from app.db import SessionDep
from app.deps import SupervisorActor
from app.forms import whole_number
from app.i18n import gettext as _
from app.templating import render

router = APIRouter()


def _date(value: str | None, errors: list[str], message: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(message)
        return None


def _filters(
    request: Request, coaches: list[service.CoachOption]
) -> tuple[service.Filters, list[str]]:
    """The selection from the query string; unknown values are ignored, bad dates explained."""
    params = request.query_params
    errors: list[str] = []
    sector = params.get("sector") or None
    if sector not in service.known_sectors():
        sector = None
    coach = params.get("coach") or ""
    coach_id = whole_number(coach)
    if coach_id not in {c.id for c in coaches}:
        coach_id = None
    started_from = _date(
        params.get("from"), errors, _("Enter the start date as YYYY-MM-DD, e.g. 2025-09-01.")
    )
    started_to = _date(
        params.get("to"), errors, _("Enter the end date as YYYY-MM-DD, e.g. 2026-06-30.")
    )
    return service.Filters(sector, coach_id, started_from, started_to), errors


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, actor: SupervisorActor) -> Response:
    coaches = service.coach_options(session, actor=actor)
    filters, errors = _filters(request, coaches)
    board = service.dashboard(session, actor=actor, filters=filters)
    context = {
        "board": board,
        "errors": errors,
        "sectors": service.known_sectors(),
        "query": request.url.query,
    }
    return render(request, "dashboards/dashboard.html", context, block="results")


@router.get("/dashboard/export.csv")
def export_csv(request: Request, session: SessionDep, actor: SupervisorActor) -> Response:
    coaches = service.coach_options(session, actor=actor)
    filters, _errors = _filters(request, coaches)
    board = service.dashboard(session, actor=actor, filters=filters)
    coach_name = next((c.name for c in coaches if c.id == filters.coach_id), None)
    body = to_csv(export_rows(board, coach_name=coach_name))
    return Response(
        "\ufeff" + body,  # the BOM makes spreadsheet programs read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dyade-dashboard.csv"'},
    )
