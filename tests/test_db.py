"""The per-request database session: committed in the endpoint's own thread, or rolled back."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import app.db
import app.deps
from app.config import get_settings
from app.db import CommitInThreadRoute, SessionDep, db_only
from app.main import app as dyade_app
from app.models import Organisation
from tests.conftest import Cast, Client


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


@pytest.mark.parametrize("inline", [True, False])
def test_a_db_only_route_runs_on_the_event_loop_only_when_set_to(
    db: Session, monkeypatch: pytest.MonkeyPatch, inline: bool
) -> None:
    monkeypatch.setattr(get_settings(), "db_routes_inline", inline)
    router = APIRouter(route_class=CommitInThreadRoute)

    @router.get("/loop")
    async def loop() -> dict[str, int]:
        return {"thread": threading.get_ident()}

    @router.post("/organisations")
    @db_only
    def create(session: SessionDep) -> dict[str, int]:
        session.add(Organisation(name="Loop school", slug="loop-school"))
        return {"thread": threading.get_ident()}

    with _app_with(router) as client:  # one event loop for both requests
        loop_thread = client.get("/loop").json()["thread"]
        response = client.post("/organisations")

    assert response.status_code == 200
    assert (response.json()["thread"] == loop_thread) is inline
    # Committed either way.
    assert db.exec(select(Organisation).where(Organisation.slug == "loop-school")).one()


def test_inline_is_the_default_on_sqlite_only(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "db_routes_inline", None)
    monkeypatch.setattr(settings, "database_url", "sqlite:///elsewhere.db")
    assert settings.run_db_routes_inline
    monkeypatch.setattr(settings, "database_url", "postgresql+psycopg://dyade@db/dyade")
    assert not settings.run_db_routes_inline


@pytest.mark.parametrize("inline", [True, False])
def test_the_login_check_of_a_db_only_page_follows_the_setting(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch, inline: bool
) -> None:
    monkeypatch.setattr(get_settings(), "db_routes_inline", inline)
    trips: list[str] = []
    real = app.deps.run_in_threadpool

    async def counting(func: Any, *args: Any) -> Any:
        trips.append(func.__name__)
        return await real(func, *args)

    monkeypatch.setattr(app.deps, "run_in_threadpool", counting)
    client.login_as(cast.professional)

    assert "Pim Prof" in client.get("/home").text  # a db_only page
    assert trips == ([] if inline else ["load_actor"])
    # A route that may wait on mail or hashing keeps its thread, login check included.
    trips.clear()
    assert client.get("/account").status_code == 200
    assert trips == ["load_actor"]
