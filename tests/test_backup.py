"""Backup and restore: a round trip gives back every row of every table, on SQLite and PostgreSQL.

The PostgreSQL tests use scratch databases created with the test connection
(DYADE_TEST_DATABASE_URL when it is PostgreSQL, else DYADE_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from app import backup as backup_module
from app.backup import BackupError, backup, find_pg_tool, restore
from app.cli import main
from app.db import make_engine
from app.models import (
    DiaryEntry,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    Organisation,
    ReflectionSession,
    Trajectory,
    User,
    UserRole,
)
from tests.conftest import require_flag
from tests.test_migrations import _alembic

STORY = "Ze keek me aan — “juf, mag ik blijven?” 🌱 ¿Qué? 小明"


def _normal(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def table_checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Per table: the number of rows and a SHA-256 over all of them, in primary-key order."""
    sums: dict[str, tuple[int, str]] = {}
    tables = [*SQLModel.metadata.sorted_tables]
    with engine.connect() as connection:
        for table in tables:
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = connection.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}")).all()  # noqa: S608 - our own table names
            digest = hashlib.sha256()
            for row in rows:
                digest.update(repr([_normal(v) for v in row]).encode())
            sums[table.name] = (len(rows), digest.hexdigest())
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        sums["alembic_version"] = (1, str(version))
    return sums


def populate(engine: Engine) -> None:
    """A little of everything: people, a trajectory, text with every kind of character, JSON."""
    with Session(engine) as session:
        org = Organisation(name="Kindcentrum De Vlinder", slug="vlinder")
        session.add(org)
        session.flush()
        people = []
        for n in range(3):
            user = User(
                organisation_id=org.id or 0,
                email=f"p{n}@vlinder.example",
                display_name=f"Persoon {n} — Ærø",
                password_hash="x",
            )
            session.add(user)
            people.append(user)
        session.flush()
        session.add(UserRole(organisation_id=org.id or 0, user_id=people[0].id or 0, role="admin"))
        relationship = FocusRelationship(
            organisation_id=org.id or 0,
            professional_id=people[1].id or 0,
            pseudonym="Kiki",
            sector="education",
            age_band="8-11",
            known_since=date(2025, 9, 1),
        )
        session.add(relationship)
        session.flush()
        trajectory = Trajectory(
            organisation_id=org.id or 0,
            professional_id=people[1].id or 0,
            focus_relationship_id=relationship.id or 0,
            programme_key="llinc",
            programme_version=1,
            research_consent=True,
            coach_summary=STORY,
        )
        session.add(trajectory)
        session.flush()
        reflection = ReflectionSession(
            organisation_id=org.id or 0,
            trajectory_id=trajectory.id or 0,
            position=0,
            template_key="intake",
            phase="baseline",
        )
        session.add(reflection)
        session.flush()
        for n in range(20):
            session.add(
                NarrativeAnswer(
                    organisation_id=org.id or 0,
                    session_id=reflection.id or 0,
                    step_key=f"step{n}",
                    text=f"{STORY} ({n})\nnieuwe regel\ttab",
                    words=["warm", "安心", str(n)],
                    version=n,
                )
            )
        session.add(
            InstrumentResponse(
                organisation_id=org.id or 0,
                session_id=reflection.id or 0,
                trajectory_id=trajectory.id or 0,
                step_key="relationship",
                phase="baseline",
                instrument_key="relationship",
                instrument_version=1,
                answers={"c1": 4, "c2": 5},
                scores={"closeness": 4.5, "conflict": None},
            )
        )
        session.add(
            DiaryEntry(
                organisation_id=org.id or 0,
                trajectory_id=trajectory.id or 0,
                occurred_on=date(2026, 1, 2),
                phase="baseline",
                instrument_version=1,
                values={"valence": -2, "what_happened": STORY},
            )
        )
        session.commit()


def mutate(engine: Engine) -> None:
    """Changes after the backup that the restore must undo."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM narrative_answer WHERE step_key = 'step3'"))
        connection.execute(text("UPDATE app_user SET display_name = 'Veranderd'"))
        connection.execute(text("DELETE FROM diary_entry"))


# ---------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = make_engine(url)
    _alembic(engine, "upgrade", "head")
    populate(engine)
    yield url, engine
    engine.dispose()


def test_sqlite_round_trip_gives_back_every_row(
    sqlite_db: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = sqlite_db
    before = table_checksums(engine)
    assert before["narrative_answer"][0] == 20
    file = tmp_path / "dyade.backup"
    message = backup(url, file)
    assert "Backed up" in message and file.is_file()
    assert file.read_bytes().startswith(b"SQLite format 3")
    assert not (tmp_path / "dyade.backup-wal").exists()  # one self-contained file

    mutate(engine)
    assert table_checksums(engine) != before
    restore(url, file, force=True)
    # The app's own engine, still open, sees the restored data.
    assert table_checksums(engine) == before

    # And into a database that did not exist yet (a new machine): no --force needed.
    fresh_url = f"sqlite:///{tmp_path / 'new' / 'dyade.db'}"
    restore(fresh_url, file)
    fresh = make_engine(fresh_url)
    assert table_checksums(fresh) == before
    fresh.dispose()


def test_sqlite_backup_is_consistent_while_the_app_writes(
    sqlite_db: tuple[str, Engine], tmp_path: Path
) -> None:
    url, _engine = sqlite_db
    path = make_url(url).database or ""
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        connection = sqlite3.connect(path, timeout=10)
        n = 0
        while not stop.is_set():
            with connection:
                connection.execute(
                    "INSERT INTO login_failure (key, created_at) VALUES (?, '2026-01-01 00:00:00')",
                    (f"k{n}",),
                )
            n += 1
            written.append(n)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(written) < 50 and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        backup(url, tmp_path / "during.backup")
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(tmp_path / "during.backup")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = copy.execute("SELECT key FROM login_failure ORDER BY id").fetchall()
    copy.close()
    # A snapshot: every row up to some point, in order, none missing in between.
    assert rows == [(f"k{n}",) for n in range(len(rows))]
    assert 50 <= len(rows) <= len(written)


def test_backup_refuses_to_overwrite_without_force(
    sqlite_db: tuple[str, Engine], tmp_path: Path
) -> None:
    url, _engine = sqlite_db
    file = tmp_path / "exists.backup"
    file.write_bytes(b"keep me")
    with pytest.raises(BackupError, match=r"already exists.*--force"):
        backup(url, file)
    assert file.read_bytes() == b"keep me"
    backup(url, file, force=True)
    assert file.read_bytes().startswith(b"SQLite format 3")


def test_restore_refuses_a_non_empty_database_without_force(
    sqlite_db: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = sqlite_db
    file = tmp_path / "b.backup"
    backup(url, file)
    mutate(engine)
    changed = table_checksums(engine)
    with pytest.raises(BackupError, match=r"not empty.*--force"):
        restore(url, file)
    assert table_checksums(engine) == changed


def test_restore_explains_a_wrong_or_missing_file(
    sqlite_db: tuple[str, Engine], tmp_path: Path
) -> None:
    url, _engine = sqlite_db
    with pytest.raises(BackupError, match="no backup file"):
        restore(url, tmp_path / "missing.backup", force=True)
    dump = tmp_path / "pg.backup"
    dump.write_bytes(b"PGDMP\x01\x0e\x00")
    with pytest.raises(BackupError, match="PostgreSQL"):
        restore(url, dump, force=True)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError, match="not a Dyade database"):
        restore(url, other, force=True)


def test_the_commands_print_clear_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test database itself, as configured (the suite's SQLite or PostgreSQL database).
    file = tmp_path / "cli.backup"
    assert main(["backup", str(file)]) == 0
    assert "Backed up" in capsys.readouterr().out
    assert main(["backup", str(file)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["restore", str(file)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "nothing")]) == 1
    assert "no backup file" in capsys.readouterr().err


# ---------------------------------------------------------------- PostgreSQL


def _postgres_base() -> str:
    for name in ("DYADE_TEST_DATABASE_URL", "DYADE_TEST_POSTGRES_URL"):
        value = os.environ.get(name, "")
        if value.startswith("postgresql"):
            return value
    if require_flag("DYADE_REQUIRE_POSTGRES"):
        pytest.fail("DYADE_REQUIRE_POSTGRES=1 but no PostgreSQL test URL is set")
    pytest.skip("no PostgreSQL (set DYADE_TEST_DATABASE_URL to a PostgreSQL URL)")


def _scratch(base: str, suffix: str) -> str:
    url = make_url(base)
    # The process id in the name: the SQLite and PostgreSQL runs of the test command go at
    # the same time and both run this test on this server.
    scratch = url.set(database=f"{url.database}_{suffix}_{os.getpid()}")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    admin.dispose()
    return scratch.render_as_string(hide_password=False)


def _drop(base: str, scratch: str) -> None:
    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(scratch).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_postgres_round_trip_gives_back_every_row(tmp_path: Path) -> None:
    base = _postgres_base()
    assert find_pg_tool("pg_dump") is not None and find_pg_tool("pg_restore") is not None
    live_url, empty_url = _scratch(base, "backup"), _scratch(base, "restored")
    engine = make_engine(live_url)
    try:
        _alembic(engine, "upgrade", "head")
        populate(engine)
        before = table_checksums(engine)
        file = tmp_path / "dyade.dump"
        assert "Backed up the postgresql database" in backup(live_url, file)
        assert file.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format

        mutate(engine)
        assert table_checksums(engine) != before
        with pytest.raises(BackupError, match="not empty"):
            restore(live_url, file)
        engine.dispose()  # pg_restore --clean drops the tables; idle connections are fine
        restore(live_url, file, force=True)
        assert table_checksums(engine) == before

        restore(empty_url, file)  # a new, empty database needs no --force
        fresh = make_engine(empty_url)
        assert table_checksums(fresh) == before
        fresh.dispose()
        with pytest.raises(BackupError, match="already exists"):
            backup(live_url, file)
    finally:
        engine.dispose()
        _drop(base, live_url)
        _drop(base, empty_url)


def test_a_missing_pg_dump_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backup_module, "find_pg_tool", lambda name, configured="": None)
    with pytest.raises(BackupError, match=r"pg_dump was not found.*DYADE_PG_BIN_DIR"):
        backup("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "x.dump")
    assert not (tmp_path / "x.dump").exists()


def test_the_newest_debian_client_is_preferred(tmp_path: Path) -> None:
    tool = find_pg_tool("pg_dump", str(tmp_path))
    assert tool is None  # a configured folder without the program: not found, not guessed
    (tmp_path / "pg_dump").write_text("#!/bin/sh\n")
    assert find_pg_tool("pg_dump", str(tmp_path)) == tmp_path / "pg_dump"


def test_check_says_where_pg_dump_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.config import get_settings

    settings = get_settings()
    monkeypatch.setattr(settings, "database_url", "postgresql+psycopg://dyade@db.internal/dyade")
    monkeypatch.setattr(settings, "pg_bin_dir", str(tmp_path))
    main(["check"])
    assert "pg_dump for backups: NOT FOUND (set DYADE_PG_BIN_DIR)" in capsys.readouterr().out
    (tmp_path / "pg_dump").write_text("#!/bin/sh\n")
    main(["check"])
    assert f"pg_dump for backups: {tmp_path / 'pg_dump'}" in capsys.readouterr().out
