"""The start page per role, the coach's caseload and the supervisor's overview."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import SessionDep
from app.deps import CurrentActor, SupervisorActor, public
from app.home import service
from app.templating import render

router = APIRouter()


@router.get("/home")
def home(request: Request, actor: CurrentActor) -> Response:
    return render(request, "home/home.html", {})


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, actor: SupervisorActor) -> Response:
    counts = service.organisation_counts(session, actor=actor)
    return render(request, "home/dashboard.html", {"counts": counts, "min_cell": service.MIN_CELL})


@router.get("/healthz")
@public
def healthz(session: SessionDep) -> dict[str, str]:
    from sqlalchemy import text

    session.execute(text("SELECT 1"))
    return {"status": "ok"}
