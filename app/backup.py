"""Backup and restore of the whole database: SQLite's online backup API, or pg_dump/pg_restore.

Both are safe while the app runs. SQLite copies page by page through the backup API, so
writers are never blocked for long and the copy is one consistent snapshot; PostgreSQL's
pg_dump reads in one repeatable-read transaction. A backup is written to a temporary file
next to the target and renamed only when complete, so a failed run leaves no half file.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess  # nosec B404 - runs pg_dump/pg_restore with a fixed argument list, no shell
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def _kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend
    raise BackupError(f"Backups are supported for SQLite and PostgreSQL, not {backend!r}.")


def _file_kind(path: Path) -> str:
    with path.open("rb") as handle:
        start = handle.read(16)
    if start.startswith(SQLITE_MAGIC):
        return "sqlite"
    if start.startswith(PGDUMP_MAGIC):
        return "postgresql"
    return "unknown"


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


def _check_target(target: Path, *, force: bool) -> None:
    if target.is_dir():
        raise BackupError(f"{target} is a folder; give a file name for the backup.")
    if target.exists() and not force:
        raise BackupError(
            f"{target} already exists. Choose another name, or add --force to overwrite it."
        )
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1024:.0f} kB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def backup(database_url: str, target: Path, *, force: bool = False) -> str:
    """Write a backup of the database to `target`; returns what was done, in one line."""
    url = make_url(database_url)
    kind = _kind(url)
    _check_target(target, force=force)
    partial = _partial(target)
    try:
        if kind == "sqlite":
            source = _sqlite_path(url)
            _sqlite_backup(source, partial)
            where = str(source)
        else:
            _run(_pg_tool("pg_dump"), ["--format=custom", f"--file={partial}"], url)
            where = _pg_label(url)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return f"Backed up the {kind} database {where} to {target} ({_size(target)})."


def restore(database_url: str, source: Path, *, force: bool = False) -> str:
    """Replace the database's contents with a backup; refuses a non-empty one without force."""
    url = make_url(database_url)
    kind = _kind(url)
    if not source.is_file():
        raise BackupError(f"There is no backup file {source}.")
    found = _file_kind(source)
    if found != kind:
        what = {"sqlite": "an SQLite backup", "postgresql": "a PostgreSQL (pg_dump) backup"}
        raise BackupError(
            f"{source} is not {what[kind]}"
            + (f" but {what[found]}" if found in what else "")
            + f"; the configured database is {kind}."
        )
    tables = _tables(database_url)
    if tables and not force:
        raise BackupError(
            f"The database {_label(url)} is not empty ({len(tables)} tables). Restoring "
            "replaces everything in it; add --force if that is what you want."
        )
    if kind == "sqlite":
        _sqlite_restore(source, _sqlite_path(url, must_exist=False))
    else:
        _run(
            _pg_tool("pg_restore"),
            ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"],
            url,
            extra=[str(source)],
        )
    return (
        f"Restored {source} into the {kind} database {_label(url)}. If the backup comes "
        "from an older version of Dyade, run `python -m app migrate` now."
    )


def _label(url: URL) -> str:
    return str(_sqlite_path(url, must_exist=False)) if _kind(url) == "sqlite" else _pg_label(url)


def _tables(database_url: str) -> list[str]:
    url = make_url(database_url)
    if _kind(url) == "sqlite":
        path = _sqlite_path(url, must_exist=False)
        if not path.exists() or path.stat().st_size == 0:
            return []
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


# ---------------------------------------------------------------- SQLite


def _sqlite_path(url: URL, *, must_exist: bool = True) -> Path:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"The SQLite database {path} does not exist.")
    return path


def _sqlite_backup(source: Path, partial: Path) -> None:
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        # Small steps with pauses let the running app keep writing meanwhile.
        src.backup(dst, pages=256, sleep=0.005)
        # A backup is one self-contained file: no -wal or -shm beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        result = dst.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise BackupError(f"The copy failed its integrity check: {result}")
    finally:
        dst.close()
        src.close()


def _sqlite_restore(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        result = src.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise BackupError(f"{source} is damaged (integrity check: {result}).")
        names = {row[0] for row in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "alembic_version" not in names:
            raise BackupError(f"{source} is an SQLite file, but not a Dyade database.")
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            dst.execute("PRAGMA journal_mode=WAL")  # as the app opens it
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


# ---------------------------------------------------------------- PostgreSQL


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_pg_tool(name: str, configured_dir: str = "") -> Path | None:
    """The pg_dump/pg_restore to use: the configured folder, the newest Debian one, or PATH."""
    if configured_dir:
        candidate = Path(configured_dir) / name
        return candidate if candidate.is_file() else None
    # The newest client can dump every older server; Debian keeps one folder per version.
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=_version_key)
    if versions:
        return versions[-1]
    found = shutil.which(name)
    return Path(found) if found else None


def _pg_tool(name: str) -> Path:
    from app.config import get_settings

    configured = get_settings().pg_bin_dir
    tool = find_pg_tool(name, configured)
    if tool is None:
        where = f"in DYADE_PG_BIN_DIR ({configured})" if configured else "on this machine"
        raise BackupError(
            f"{name} was not found {where}. Install the PostgreSQL client programs "
            "(Debian: apt install postgresql-client) or set DYADE_PG_BIN_DIR to their folder."
        )
    return tool


def _pg_label(url: URL) -> str:
    return f"{url.database} on {url.host or 'localhost'}:{url.port or 5432}"


def _run(tool: Path, args: list[str], url: URL, extra: list[str] | None = None) -> None:
    # libpq understands the URL without the driver name; the password goes through the
    # environment, never the command line (which other users can see in `ps`).
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    command = [str(tool), *args, f"--dbname={conninfo}", *(extra or [])]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 # nosec B603
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(
            f"{tool.name} failed (exit code {result.returncode}): "
            + (" ".join(message[-3:]) if message else "no message")
        )
