"""At most max_concurrent_requests requests in progress per process; the rest wait their turn."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.config import get_settings
from app.db import SPARE_CONNECTIONS, get_engine, make_engine
from app.main import app as dyade_app
from app.middleware import ConcurrencyLimit


class _SlowApp:
    """Answers after a short wait, counting how many requests it is handling at once."""

    def __init__(self) -> None:
        self.in_progress = 0
        self.most = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.in_progress += 1
        self.most = max(self.most, self.in_progress)
        await asyncio.sleep(0.05)
        self.in_progress -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _get_many(app: ConcurrencyLimit, path: str, count: int) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = await asyncio.gather(*(client.get(path) for _ in range(count)))
    return [response.status_code for response in responses]


def _run(coroutine: Coroutine[Any, Any, list[int]]) -> list[int]:
    # A new event loop in a thread of its own: the browser tests' Playwright keeps one
    # running on the main thread, where asyncio.run() refuses to start another.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _many(app: ConcurrencyLimit, path: str, count: int) -> list[int]:
    return _run(_get_many(app, path, count))


def test_requests_beyond_the_limit_wait_and_are_then_answered() -> None:
    inner = _SlowApp()
    statuses = _many(ConcurrencyLimit(inner, limit=3), "/home", 10)

    assert statuses == [200] * 10
    assert inner.most == 3


def test_static_files_do_not_wait_for_pages() -> None:
    inner = _SlowApp()
    _many(ConcurrencyLimit(inner, limit=2), "/static/app.css", 6)

    assert inner.most == 6


def test_the_limit_works_again_in_a_new_event_loop() -> None:
    inner = _SlowApp()
    limited = ConcurrencyLimit(inner, limit=2)
    for _ in range(2):
        assert _many(limited, "/home", 5) == [200] * 5
    assert inner.most == 2


def test_the_app_limits_requests_to_the_configured_number() -> None:
    limits = [m.kwargs["limit"] for m in dyade_app.user_middleware if m.cls is ConcurrencyLimit]

    assert limits == [get_settings().max_concurrent_requests]


@pytest.mark.parametrize("requests", [1, 24, 40])
def test_the_pool_has_a_connection_for_every_request_in_progress(
    requests: int, tmp_path: object
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/pool.db", requests=requests)
    try:
        assert engine.pool.size() == requests + SPARE_CONNECTIONS  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_the_apps_own_engine_follows_the_setting() -> None:
    # SQLite in a file here, or PostgreSQL: both pooled alike.
    size = get_engine().pool.size()  # type: ignore[attr-defined]

    assert size == get_settings().max_concurrent_requests + SPARE_CONNECTIONS
