"""Database engine and the per-request session (commit on success, roll back on error)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends
from fastapi.routing import APIRoute
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine
from starlette.concurrency import run_in_threadpool

from app.config import get_settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers continue while one writer commits; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Connections beyond the request limit: the in-process reminder job and commands.
SPARE_CONNECTIONS = 4


def make_engine(url: str, *, requests: int | None = None) -> Engine:
    """An engine for the URL, with SQLite set up for concurrent web use.

    `requests` is how many requests may run at once (settings.max_concurrent_requests); the
    pool always has a connection for each of them, so none waits for another's.
    """
    if requests is None:
        requests = get_settings().max_concurrent_requests
    pool: dict[str, Any] = {"pool_size": requests + SPARE_CONNECTIONS, "max_overflow": 10}
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # an in-memory database has a pool of its own kind
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().effective_database_url)


# The request's session, for CommitInThreadRoute (worker threads see a copy of the context).
_request_session: ContextVar[Session | None] = ContextVar("request_session", default=None)


async def get_session() -> AsyncIterator[Session]:
    """One session per request; committed when the route succeeds."""
    # Opening a session does no I/O, so it happens here instead of in a worker thread; the
    # commit (or rollback) and close do, and go to the thread pool together, in one trip.
    session = Session(get_engine(), expire_on_commit=False)
    _request_session.set(session)
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _in_thread(_roll_back, session)
        raise
    else:
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            await _in_thread(_commit, session)
        else:
            # Already committed in the endpoint's thread (CommitInThreadRoute), or nothing
            # was read: no connection is held, so closing does no I/O and needs no thread.
            session.close()


async def _in_thread(finish: Callable[[Session], None], session: Session) -> None:
    # A limiter of its own, as FastAPI does for a dependency's exit: waiting for a free
    # worker while holding a pooled connection could deadlock with requests waiting for one.
    await anyio.to_thread.run_sync(finish, session, limiter=anyio.CapacityLimiter(1))


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        _roll_back(session)
        raise
    finally:
        session.close()


def _roll_back(session: Session) -> None:
    try:
        # Detach first so the error page can still show who is logged in: a rollback
        # would expire every loaded object of this closed session.
        session.expunge_all()
        session.rollback()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


F = TypeVar("F", bound=Callable[..., Any])


def db_only(endpoint: F) -> F:
    """Mark a route that does nothing but database work (no mail, no PDF, no hashing).

    With settings.run_db_routes_inline (on SQLite, by default) it runs on the event loop,
    not in the thread pool; its login check too (app.deps.authenticate). Anything that can
    wait on the network or compute for long must stay unmarked: on the event loop it would
    hold up every other request of the worker.
    """
    endpoint.__dyade_db_only__ = True  # type: ignore[attr-defined]
    return endpoint


def runs_inline(endpoint: object) -> bool:
    """This route runs on the event loop (see db_only)."""
    return getattr(endpoint, "__dyade_db_only__", False) and get_settings().run_db_routes_inline


def _inline_or_in_thread(run: Callable[..., Any]) -> Callable[..., Any]:
    # Async, so FastAPI awaits it instead of sending it to the thread pool; the choice is
    # made per call because the settings are read at run time (tests switch databases).
    @functools.wraps(run)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if get_settings().run_db_routes_inline:
            return run(*args, **kwargs)
        return await run_in_threadpool(run, *args, **kwargs)

    return call


def _commit_after(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        session = _request_session.get()
        if session is not None and session.in_transaction():
            session.commit()
        return result

    return run


class CommitInThreadRoute(APIRoute):
    """A route whose sync endpoint commits the request's session in its own worker thread.

    Otherwise the commit waits for a second trip through the event loop and the thread
    pool; on SQLite the write lock is held all that time, and every other writer (another
    worker process too) waits for it. If the endpoint raises, nothing is committed here and
    get_session rolls back as before; a failed commit raises from the endpoint, so the
    request still ends with an error page and a rollback.

    A route marked db_only runs on the event loop instead when the settings say so.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _commit_after(endpoint)
            if getattr(endpoint, "__dyade_db_only__", False):
                endpoint = _inline_or_in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)
