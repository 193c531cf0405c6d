"""The supervisor's dashboard and its exports (aggregates only); the admin's research export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit
from app.dashboards import charts, research, service
from app.dashboards.export import Cell, export_rows, to_csv, to_xlsx
from app.db import CommitInThreadRoute, SessionDep
from app.deps import AdminActor, SupervisorActor
from app.forms import optional_date, whole_number
from app.i18n import gettext as _
from app.templating import render

router = APIRouter(route_class=CommitInThreadRoute)


def _filters(
    request: Request, coaches: list[service.CoachOption], teams: list[service.TeamOption]
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
    # Only the organisation's own teams and locations are offered, and only they count.
    team_id = whole_number(params.get("team") or "")
    if team_id not in {t.id for t in teams}:
        team_id = None
    location = params.get("location") or None
    if location not in {t.location for t in teams if t.location}:
        location = None
    started_from = optional_date(
        params.get("from"), errors, _("Enter the start date as YYYY-MM-DD, e.g. 2025-09-01.")
    )
    started_to = optional_date(
        params.get("to"), errors, _("Enter the end date as YYYY-MM-DD, e.g. 2026-06-30.")
    )
    filters = service.Filters(sector, coach_id, started_from, started_to, team_id, location)
    return filters, errors


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, actor: SupervisorActor) -> Response:
    coaches = service.coach_options(session, actor=actor)
    teams = service.team_options(session, actor=actor)
    filters, errors = _filters(request, coaches, teams)
    board = service.dashboard(session, actor=actor, filters=filters, coaches=coaches, teams=teams)
    context = {
        "board": board,
        "errors": errors,
        "sectors": service.known_sectors(),
        "query": request.url.query,
        "team_labels": [(team.id, _team_label(team)) for team in teams],
        "funnel_chart": charts.funnel_chart,
        "effect_chart": charts.effect_chart,
    }
    return render(request, "dashboards/dashboard.html", context, block="results")


def _export(
    request: Request, session: SessionDep, actor: SupervisorActor, kind: str
) -> tuple[service.Dashboard, str | None]:
    coaches = service.coach_options(session, actor=actor)
    teams = service.team_options(session, actor=actor)
    filters, _errors = _filters(request, coaches, teams)
    board = service.dashboard(session, actor=actor, filters=filters, coaches=coaches, teams=teams)
    # Aggregates only, but still an export of figures about people: it goes in the trail.
    audit.record(
        session,
        actor=actor,
        action="dashboard.export",
        request=request,
        role="supervisor",
        detail=f"{kind}: {request.url.query}"[:500],
    )
    return board, next((c.name for c in coaches if c.id == filters.coach_id), None)


def _team_label(team: service.TeamOption) -> str:
    if not team.location:
        return team.name
    return _("%(team)s, location %(location)s", team=team.name, location=team.location)


def _team_name(board: service.Dashboard) -> str | None:
    team = next((t for t in board.teams if t.id == board.filters.team_id), None)
    return None if team is None else _team_label(team)


@router.get("/dashboard/export.csv")
def export_csv(request: Request, session: SessionDep, actor: SupervisorActor) -> Response:
    board, coach_name = _export(request, session, actor, "csv")
    body = to_csv(export_rows(board, coach_name=coach_name, team_name=_team_name(board)))
    return Response(
        "\ufeff" + body,  # the BOM makes spreadsheet programs read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dyade-dashboard.csv"'},
    )


@router.get("/dashboard/export.xlsx")
def export_xlsx(request: Request, session: SessionDep, actor: SupervisorActor) -> Response:
    board, coach_name = _export(request, session, actor, "xlsx")
    body = to_xlsx(
        export_rows(board, coach_name=coach_name, team_name=_team_name(board)),
        sheet_title=_("Dashboard"),
    )
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="dyade-dashboard.xlsx"'},
    )


@router.get("/admin/research")
def research_page(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    context = {"summary": research.summary(session, actor=actor)}
    return render(request, "dashboards/research.html", context)


def _research_download(
    request: Request, session: SessionDep, actor: AdminActor, kind: str
) -> research.ResearchExport:
    export = research.research_export(session, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="research.export",
        request=request,
        role="admin",
        detail=(
            f"{kind}: {len(export.rows)} responses, {export.trajectories} trajectories, "
            f"{export.participants} professionals who consented to research use"
        ),
    )
    return export


@router.get("/admin/research/export.csv")
def research_csv(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    export = _research_download(request, session, actor, "csv")
    header: list[Cell] = [*export.columns]
    body = to_csv(iter([header, *export.rows]))
    return Response(
        "\ufeff" + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dyade-research.csv"'},
    )


@router.get("/admin/research/export.sav")
def research_sav(request: Request, session: SessionDep, actor: AdminActor) -> Response:
    export = _research_download(request, session, actor, "sav")
    return Response(
        research.to_sav(export),
        media_type="application/x-spss-sav",
        headers={"Content-Disposition": 'attachment; filename="dyade-research.sav"'},
    )
