"""Rate limits stored in the database, so that every worker on every machine counts alike.

A limit counts requests per key (an address, an email, a login session) in fixed windows:
one row per key and window, incremented with one atomic upsert. Failed logins are
throttled separately (app/auth/service.py), because only failures count there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.errors import DomainError
from app.models import RateCounter, utcnow

# Counters of windows that ended longer ago than this are removed.
KEEP_FOR = timedelta(hours=2)
EPOCH = datetime(2000, 1, 1, tzinfo=utcnow().tzinfo)


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per `window` for one key."""

    count: int
    window: timedelta


class RateLimited(DomainError):
    """Too many requests for this key in the current window."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window that contains `now`."""
    length = window.total_seconds()
    elapsed = (now - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=math.floor(elapsed / length) * length)


@cache
def _upsert(dialect: str) -> Any:
    # Built once per dialect: building the statement and its cache key on every autosave
    # cost about as much as running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = RateCounter.__table__  # type: ignore[attr-defined]
    return (
        insert(table)
        .values(key=bindparam("key"), window_start=bindparam("start"), count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": table.c.count + 1}
        )
        .returning(table.c.count)
    )


def hit(session: Session, *, key: str, limit: Limit) -> int:
    """Count one request for the key; the seconds to wait when over the limit, else 0."""
    now = utcnow()
    start = window_start(now, limit.window)
    upsert = _upsert(session.get_bind().dialect.name)
    count = int(session.execute(upsert, {"key": key[:300], "start": start}).scalar_one())
    if count == 1:
        # A new window for this key: a good moment to forget windows long gone.
        session.execute(delete(RateCounter).where(col(RateCounter.window_start) < now - KEEP_FOR))
    if count <= limit.count:
        return 0
    return max(1, math.ceil((start + limit.window - now).total_seconds()))


def check(session: Session, *, key: str, limit: Limit, message: str) -> None:
    """Count one request; raise RateLimited (with the message) when over the limit."""
    wait = hit(session, key=key, limit=limit)
    if wait:
        raise RateLimited(message, retry_after=wait)
