"""What every benchmark does to its database: point the app at it, and start it afresh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def use_database(url: str, data_dir: Path, *, secret_key: str) -> None:
    """Point the app's settings and engine at this database (both are cached per process)."""
    os.environ.update(
        DYADE_DATABASE_URL=url,
        DYADE_DATA_DIR=str(data_dir),
        DYADE_ENVIRONMENT="test",
        DYADE_SECRET_KEY=secret_key,
    )
    from app.config import get_settings
    from app.db import get_engine

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def wipe_postgres(url: str) -> None:
    """Drop everything in a PostgreSQL benchmark database (its name must say "bench")."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(f"Refusing to wipe PostgreSQL database {name!r}: its name must say bench.")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def start_programme(
    session: Any,
    user: Any,
    *,
    pseudonym: str,
    age_band: str = "8-11",
    address: str = "bench",
    user_agent: str = "bench",
) -> tuple[str, Any, Any]:
    """Log the professional in and start their programme about a new focus relationship:
    (login token, actor, trajectory), flushed."""
    from app.auth.service import start_session
    from app.deps import load_actor
    from app.reflection import service

    token = start_session(session, user=user, address=address, user_agent=user_agent)
    session.flush()
    actor = load_actor(session, token)
    assert actor is not None
    relationship = service.save_relationship(
        session,
        actor=actor,
        values={"pseudonym": pseudonym, "sector": "education", "age_band": age_band},
    )
    assert relationship.id is not None
    trajectory = service.start_trajectory(session, actor=actor, relationship_id=relationship.id)
    session.flush()
    return token, actor, trajectory
