"""Migrations: upgrade → downgrade → upgrade works, and models and migrations agree.

Runs on a fresh SQLite file, and on PostgreSQL when DYADE_TEST_POSTGRES_URL (or a
PostgreSQL DYADE_TEST_DATABASE_URL) is set; CI sets DYADE_REQUIRE_POSTGRES=1, so there
it fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from app.db import make_engine
from tests.conftest import require_flag

ROOT = Path(__file__).resolve().parent.parent


def _alembic(engine: Engine, *args: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, args[0])(config, *args[1:])


def _postgres_scratch_url() -> str:
    url = os.environ.get("DYADE_TEST_POSTGRES_URL", "")
    if not url and os.environ.get("DYADE_TEST_DATABASE_URL", "").startswith("postgresql"):
        # The suite itself runs on PostgreSQL: check the migrations there too.
        url = os.environ["DYADE_TEST_DATABASE_URL"]
    if not url:
        if require_flag("DYADE_REQUIRE_POSTGRES"):
            pytest.fail("DYADE_REQUIRE_POSTGRES=1 but DYADE_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL (set DYADE_TEST_POSTGRES_URL)")
    base = make_url(url)
    # The process id in the name: the SQLite and PostgreSQL runs of the test command go at
    # the same time and both check the migrations on this server.
    scratch = base.set(database=f"{base.database}_migrations_{os.getpid()}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}"'))
        connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    admin.dispose()
    return scratch.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def scratch_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
    else:
        engine = make_engine(_postgres_scratch_url())
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        name = engine.url.database or ""
        base = engine.url.set(database=name.removesuffix(f"_migrations_{os.getpid()}"))
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_upgrade_downgrade_upgrade_round_trips(scratch_engine: Engine) -> None:
    _alembic(scratch_engine, "upgrade", "head")
    assert "app_user" in inspect(scratch_engine).get_table_names()
    _alembic(scratch_engine, "downgrade", "base")
    assert set(inspect(scratch_engine).get_table_names()) <= {"alembic_version"}
    _alembic(scratch_engine, "upgrade", "head")
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= set(
        inspect(scratch_engine).get_table_names()
    )


def test_models_and_migrations_agree(scratch_engine: Engine) -> None:
    _alembic(scratch_engine, "upgrade", "head")
    with scratch_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], f"models differ from migrations: {differences}"


def test_audit_events_written_before_the_chain_are_chained_by_the_migration(
    scratch_engine: Engine,
) -> None:
    from sqlmodel import Session

    from app import audit

    _alembic(scratch_engine, "upgrade", "0004")
    with scratch_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisation (name, slug, default_locale, created_at)"
                " VALUES (:n, :s, 'nl', :t)"
            ),
            [
                {"n": "Een", "s": "een", "t": "2025-01-01 10:00:00"},
                {"n": "Twee", "s": "twee", "t": "2025-01-01 10:00:00"},
            ],
        )
        connection.execute(
            text(
                "INSERT INTO audit_event"
                " (organisation_id, created_at, actor_role, action, detail, ip_address)"
                " VALUES (:org, :t, 'coach', :action, '', '10.0.0.1')"
            ),
            [
                {"org": 1, "t": "2025-03-01 09:00:00.123456", "action": "trajectory.view"},
                {"org": 2, "t": "2025-03-01 09:05:00", "action": "user.view"},
                {"org": 1, "t": "2025-03-02 11:00:00", "action": "report.download"},
            ],
        )
    _alembic(scratch_engine, "upgrade", "head")
    with Session(scratch_engine) as session:
        result = audit.verify(session)
        assert result.ok, result.problems
        assert (result.chains, result.rows) == (2, 3)
        seqs = session.execute(
            text("SELECT organisation_id, chain_seq FROM audit_event ORDER BY id")
        ).all()
        assert [tuple(row) for row in seqs] == [(1, 1), (2, 1), (1, 2)]
    with pytest.raises(Exception, match="append-only"), scratch_engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET detail = 'x'"))
