"""The per-request database session: committed in the endpoint's own thread, or rolled back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import app.db
from app.db import CommitInThreadRoute, SessionDep
from app.main import app as dyade_app
from app.models import Organisation


def _app_with(router: APIRouter) -> TestClient:
    small = FastAPI()
    small.include_router(router)
    return TestClient(small, raise_server_exceptions=False)


def _second_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    trips: list[str] = []
    real = app.db._in_thread

    async def counting(finish: Any, session: Session) -> None:
        trips.append(finish.__name__)
        await real(finish, session)

    monkeypatch.setattr(app.db, "_in_thread", counting)
    return trips


def test_a_sync_route_commits_its_writes_without_a_second_trip(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = _second_trips(monkeypatch)
    router = APIRouter(route_class=CommitInThreadRoute)

    @router.post("/organisations")
    def create(session: SessionDep) -> dict[str, str]:
        session.add(Organisation(name="Thread school", slug="thread-school"))
        session.flush()
        return {"ok": "yes"}

    assert _app_with(router).post("/organisations").status_code == 200

    assert db.exec(select(Organisation).where(Organisation.slug == "thread-school")).one()
    # The commit ran in the endpoint's thread; get_session had nothing left to finish.
    assert trips == []


def test_a_route_that_fails_after_writing_commits_nothing(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = _second_trips(monkeypatch)
    router = APIRouter(route_class=CommitInThreadRoute)

    @router.post("/organisations")
    def create(session: SessionDep) -> dict[str, str]:
        session.add(Organisation(name="Half school", slug="half-school"))
        session.flush()
        raise RuntimeError("fails after the write")

    assert _app_with(router).post("/organisations").status_code == 500

    assert db.exec(select(Organisation).where(Organisation.slug == "half-school")).first() is None
    assert trips == ["_roll_back"]


def test_every_app_route_commits_in_its_own_thread() -> None:
    # A router made without route_class still works, but holds SQLite's write lock while
    # the commit waits for the event loop: under load every other writer waits too.
    plain = [
        route.path
        for included in dyade_app.routes
        for route in getattr(getattr(included, "original_router", None), "routes", [])
        if not isinstance(route, CommitInThreadRoute)
    ]
    assert plain == []
    assert any(hasattr(route, "original_router") for route in dyade_app.routes)
