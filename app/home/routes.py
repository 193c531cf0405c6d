"""The start page per role and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.db import CommitInThreadRoute, SessionDep, db_only
from app.deps import CurrentActor, public
from app.templating import render

router = APIRouter(route_class=CommitInThreadRoute)


@router.get("/home")
@db_only
def home(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    from app.reminders.scheduling import upcoming_sessions

    return render(request, "home/home.html", {"upcoming": upcoming_sessions(session, actor=actor)})


@router.get("/healthz")
@public
def healthz(session: SessionDep) -> dict[str, str]:
    from sqlalchemy import text

    session.execute(text("SELECT 1"))
    return {"status": "ok"}
