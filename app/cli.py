"""Admin commands: `python -m app <command>` (also installed as `dyade`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _settings_or_exit() -> object:
    from pydantic import ValidationError

    from app.config import describe_problems, get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        print("Configuration problems:", file=sys.stderr)
        for line in describe_problems(exc):
            print(f"  - {line}", file=sys.stderr)
        raise SystemExit(2) from None


def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    command.upgrade(config, "head")


def cmd_check(_args: argparse.Namespace) -> int:
    from sqlalchemy import text

    from app.config import get_settings
    from app.db import get_engine

    _settings_or_exit()
    settings = get_settings()
    ok = True
    print(f"environment: {settings.environment}")
    print(f"database: {settings.effective_database_url.split('@')[-1]}")
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        print("database connection: ok")
    except Exception as exc:
        ok = False
        print(f"database connection: FAILED ({exc.__class__.__name__}: {exc})")
    if settings.effective_database_url.startswith("postgresql"):
        from app.backup import find_pg_tool

        tool = find_pg_tool("pg_dump", settings.pg_bin_dir)
        print(f"pg_dump for backups: {tool or 'NOT FOUND (set DYADE_PG_BIN_DIR)'}")
    if settings.is_development:
        print("note: development mode (default secret key allowed, cookies not Secure)")
    print(f"smtp: {settings.smtp_host or 'not configured (mail goes to the outbox page)'}")
    if settings.reminders_run_in_process:
        every = settings.reminders_interval_minutes
        print(f"reminders: run in the web process every {every} minutes")
    else:
        print("reminders: not in the web process (run `python -m app reminders run` from cron)")
    print("configuration: ok" if ok else "configuration: problems found")
    return 0 if ok else 1


def cmd_migrate(_args: argparse.Namespace) -> int:
    _settings_or_exit()
    migrate()
    return 0


def _print_logins() -> None:
    from app.seed import DEMO_PASSWORD, demo_logins

    print(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
    current = ""
    for org, email, roles in demo_logins():
        if org != current:
            print(f"  {org}")
            current = org
        print(f"    {email:<34} {roles}")
    print()


def cmd_seed_demo(_args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.db import get_engine
    from app.seed import database_is_empty, seed_demo

    _settings_or_exit()
    with Session(get_engine()) as session:
        if not database_is_empty(session):
            print("The database already has data; no demo data added.")
            return 0
        seed_demo(session)
        session.commit()
    print("Demo data added.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    _settings_or_exit()
    migrate()
    if args.demo:
        cmd_seed_demo(args)
        _print_logins()
    print(f"Dyade runs at http://{args.host}:{args.port}  (Ctrl+C stops it)")
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level="info",
    )
    return 0


def cmd_instruments(args: argparse.Namespace) -> int:
    from app.instruments import cli as instruments_cli

    return instruments_cli.main(args.rest)


def cmd_programmes(args: argparse.Namespace) -> int:
    from app.programmes import cli as programmes_cli

    return programmes_cli.main(args.rest)


def cmd_reminders(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from app.mail import retry_unsent
    from app.reminders.service import run_reminders

    _settings_or_exit()
    now = None
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            print(f"--now: {args.now!r} is not a date and time like 2026-03-14T09:00")
            return 2
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    report = run_reminders(now=now)
    print(report.summary())
    # Mail is retried by the real clock (--now is for the reminders): the time a message
    # may be retried was set by the real clock when it was written.
    sent, failed = retry_unsent()
    if sent or failed:
        print(f"Mail retried: {sent} sent, {failed} failed again.")
    return 1 if report.failed else 0


def cmd_i18n(args: argparse.Namespace) -> int:
    from app.i18n_tools import update_catalogues

    return update_catalogues(check=args.check)


def cmd_backup(args: argparse.Namespace) -> int:
    from app.backup import BackupError, backup
    from app.config import get_settings

    _settings_or_exit()
    try:
        print(backup(get_settings().effective_database_url, Path(args.file), force=args.force))
    except BackupError as exc:
        print(f"Backup not made: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from app.backup import BackupError, restore
    from app.config import get_settings
    from app.db import get_engine

    _settings_or_exit()
    get_engine().dispose()
    try:
        print(restore(get_settings().effective_database_url, Path(args.file), force=args.force))
    except BackupError as exc:
        print(f"Nothing restored: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.config import get_settings
    from app.db import get_engine
    from app.models import utcnow
    from app.privacy.retention import months_before, run_retention

    _settings_or_exit()
    months = get_settings().retention_months_after_completion
    with Session(get_engine()) as session:
        due = run_retention(session, months=months, dry_run=args.dry_run)
        session.commit()
    cutoff = months_before(utcnow(), months).date().isoformat()
    verb = "would delete" if args.dry_run else "deleted"
    for item in due:
        print(
            f"  {verb} trajectory {item.id} (organisation {item.organisation_id}, "
            f"completed {item.completed_at.date().isoformat()})"
        )
    print(
        f"{len(due)} trajectories completed before {cutoff} ({months} months ago): "
        + ("dry run, nothing deleted." if args.dry_run else f"{verb}.")
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app import audit
    from app.config import get_settings
    from app.db import get_engine

    _settings_or_exit()
    with Session(get_engine()) as session:
        if args.audit_command == "verify":
            result = audit.verify(session, organisation_id=args.organisation)
            for problem in result.problems:
                where = f"row id {problem.event_id}" if problem.event_id else "end of chain"
                print(
                    f"BROKEN: organisation {problem.organisation_id}, number {problem.chain_seq} "
                    f"({where}): {problem.problem}"
                )
            for organisation_id, last_seq, last_hash in result.heads:
                if args.organisation in (None, organisation_id):
                    print(f"organisation {organisation_id}: last number {last_seq}, {last_hash}")
            status = "ok" if result.ok else f"{len(result.problems)} chain(s) broken"
            print(f"audit trail: {result.chains} chain(s), {result.rows} row(s) checked: {status}")
            return 0 if result.ok else 1
        years = args.years if args.years is not None else get_settings().audit_retention_years
        if years < 1:
            print("The retention period is at least 1 year.", file=sys.stderr)
            return 2
        purged = audit.purge(session, years=years)
        session.commit()
        total = sum(purged.removed.values())
        print(
            f"audit trail: removed {total} event(s) from before {purged.cutoff:%Y-%m-%d %H:%M} UTC "
            f"(retention {years} years)"
        )
        return 0


def cmd_synthetic(args: argparse.Namespace) -> int:
    import time

    from sqlmodel import Session, col, select

    from app import synthetic
    from app.db import get_engine
    from app.models import Organisation
    from app.security import hash_password

    _settings_or_exit()
    migrate()
    engine = get_engine()
    slugs = [args.slug] if args.organisations == 1 else [
        f"{args.slug}-{n}" for n in range(1, args.organisations + 1)
    ]  # fmt: skip
    with Session(engine) as session:
        taken = session.exec(
            select(Organisation.slug).where(col(Organisation.slug).in_(slugs))
        ).first()
    if taken:
        print(f"An organisation {taken!r} exists already; choose another --slug.")
        return 1
    began = time.perf_counter()
    counts = synthetic.generate(
        engine,
        professionals=args.professionals,
        organisations=args.organisations,
        slug=args.slug,
        seed=args.seed,
        password_hash=hash_password(args.password),
    )
    seconds = time.perf_counter() - began
    print(
        f"Added {counts.organisations} organisation(s): {counts.professionals:,} professionals, "
        f"{counts.coaches:,} coaches, {counts.teams:,} teams, "
        f"{counts.trajectories:,} trajectories, "
        f"{counts.sessions:,} sessions, {counts.responses:,} questionnaire responses, "
        f"{counts.item_answers:,} item answers, {counts.summary_rows:,} summary rows "
        f"in {seconds:.1f} s."
    )
    print(f"Logins (password {args.password}):")
    for email, role in counts.logins:
        print(f"  {email:<40} {role}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dyade", description="Dyade administration")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "check", help="validate the configuration and the database connection"
    ).set_defaults(func=cmd_check)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="add demo organisations to an empty database").set_defaults(
        func=cmd_seed_demo
    )
    serve = sub.add_parser("serve", help="migrate, then run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--demo", action="store_true", help="seed demo data into an empty database and print logins"
    )
    serve.set_defaults(func=cmd_serve)
    instruments = sub.add_parser("instruments", help="list or validate instrument definitions")
    instruments.add_argument("rest", nargs=argparse.REMAINDER)
    instruments.set_defaults(func=cmd_instruments)
    programmes = sub.add_parser("programmes", help="list or validate programme definitions")
    programmes.add_argument("rest", nargs=argparse.REMAINDER)
    programmes.set_defaults(func=cmd_programmes)
    backup = sub.add_parser("backup", help="write a backup of the database to FILE")
    backup.add_argument("file", metavar="FILE")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="replace the database's contents with a backup")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument(
        "--force", action="store_true", help="restore even though the database is not empty"
    )
    restore.set_defaults(func=cmd_restore)
    retention = sub.add_parser("retention", help="delete trajectories past their retention time")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_sub.add_parser("run", help="delete what is due (or list it with --dry-run)")
    run.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    run.set_defaults(func=cmd_retention)
    reminders = sub.add_parser(
        "reminders", help="send the reminders that are due, and retry undelivered mail"
    )
    reminders_sub = reminders.add_subparsers(dest="reminders_command", required=True)
    run = reminders_sub.add_parser(
        "run", help="send every due reminder once, and retry undelivered mail (for cron)"
    )
    run.add_argument("--now", default="", help="pretend it is this moment (UTC), for testing")
    run.set_defaults(func=cmd_reminders)
    synth = sub.add_parser(
        "synthetic", help="add synthetic organisations (load tests, benchmarks, demos)"
    )
    synth.add_argument("--professionals", type=int, default=10_000)
    synth.add_argument("--organisations", type=int, default=1)
    synth.add_argument("--slug", default="synthetic", help="organisation slug (prefix)")
    synth.add_argument("--seed", type=int, default=1, help="the same seed gives the same data")
    synth.add_argument("--password", default="synthetic-demo-2026", help="for every login")
    synth.set_defaults(func=cmd_synthetic)
    i18n = sub.add_parser("i18n", help="extract messages and update the nl/en catalogues")
    i18n.add_argument("--check", action="store_true", help="only report, change nothing")
    i18n.set_defaults(func=cmd_i18n)
    audit_parser = sub.add_parser("audit", help="verify or purge the audit trail")
    audit_sub = audit_parser.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the hash chain; report the first broken row"
    )
    verify.add_argument("--organisation", type=int, default=None, help="only this organisation id")
    purge = audit_sub.add_parser("purge", help="remove events older than the retention period")
    purge.add_argument(
        "--years", type=int, default=None, help="retention (default DYADE_AUDIT_RETENTION_YEARS)"
    )
    audit_parser.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one admin command."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
