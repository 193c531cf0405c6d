"""Mixed load: professionals typing with autosave, coaches reading trajectories, supervisors
on the dashboard, all at once, against uvicorn on 127.0.0.1 (issue 7, item 6).

A fresh, migrated database (SQLite, or PostgreSQL from DYADE_BENCH_POSTGRES_URL, whose
database is wiped: its name must contain "bench") holds one organisation with the
professionals of benchmarks/reflection_bench.py (each with a focus relationship, the
intake in progress and the interview open with a draft), coaches with ten professionals
each, and supervisors. Every simulated user has a login session of their own and runs,
until the time is up, with pauses like a person's:

  professional  opens the interview step, then types: an autosave every 1.5–4 s with
                the text so far and the version the last save returned (the page's
                autosave waits 1.2 s after a key); now and then the trajectory page or
                the home page;
  coach         the caseload, then one of their professionals' trajectory pages (charts,
                answers side by side; every view writes an audit record), 3–8 s apart;
  supervisor    the organisation dashboard, sometimes filtered by sector, now and then the
                CSV export, 4–10 s apart.

Afterwards the database is checked: every professional's stored text must be the last
one the server acknowledged and its version the start version plus the acknowledged
saves (no lost or doubled writes), and there must be one audit record per trajectory
page a coach was shown. Reported per page: requests, statuses, p50/p95/p99/max; zero 5xx
is required. The load average is recorded before and after. Results go to stdout and to
docs/benchmarks.md, section "Mixed load: 200 users" (other sections are left as they are).

    .venv/bin/python benchmarks/load_bench.py --db sqlite --users 20 --duration 30   # try it
    .venv/bin/python benchmarks/load_bench.py --db both --users 200 --duration 300    # the run

Loopback only; every loop ends when the time is up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere: this checkout's app

from benchmarks.reflection_bench import (  # noqa: E402 - needs the path above
    DOCS,
    HOST,
    SECRET_KEY,
    HttpRequest,
    RawConnection,
    _cpu_seconds,
    _use_database,
    database_version,
    machine,
    prepare_database,
    running_server,
    stored_drafts,
)

SECTION = "## Mixed load: 200 users"
SHARE = {"professional": 0.7, "coach": 0.2, "supervisor": 0.1}
PROFESSIONALS_PER_COACH = 10
TEXT_WINDOW = 3000
REQUEST_TIMEOUT = 60.0
IDLE_RECONNECT = 4.0  # seconds; below uvicorn's keep-alive timeout of 5 s


# ---------------------------------------------------------------- fixtures


@dataclass
class Person:
    role: str
    token: str
    csrf: str
    # professional: interview session, draft version and text, trajectory
    interview_id: int = 0
    trajectory_id: int = 0
    version: int = 0
    text: str = ""
    # coach: the trajectories of their professionals
    trajectories: list[int] = field(default_factory=list)


def split_users(users: int) -> dict[str, int]:
    """How many of each role; at least one coach and one supervisor."""
    coaches = max(1, round(users * SHARE["coach"]))
    supervisors = max(1, round(users * SHARE["supervisor"]))
    return {
        "professional": max(1, users - coaches - supervisors),
        "coach": coaches,
        "supervisor": supervisors,
    }


def prepare(url: str, data_dir: Path, users: int) -> list[Person]:
    """The database and one login session per simulated user."""
    counts = split_users(users)
    typists = prepare_database(url, data_dir, counts["professional"])
    _use_database(url, data_dir)
    from sqlmodel import Session, select

    from app.auth.service import start_session
    from app.db import get_engine
    from app.models import CoachAssignment, Organisation, Role, Trajectory, User, UserRole
    from app.security import csrf_token_for, hash_password, token_digest

    people = [
        Person(
            "professional",
            t.token,
            t.csrf,
            interview_id=t.interview_id,
            version=t.draft_version,
            text=t.draft_text,
        )
        for t in typists
    ]
    with Session(get_engine(), expire_on_commit=False) as session:
        organisation = session.exec(select(Organisation)).one()
        trajectories = session.exec(select(Trajectory).order_by(Trajectory.id)).all()  # type: ignore[arg-type]
        by_professional = {t.professional_id: t.id for t in trajectories}
        professionals = session.exec(
            select(User).where(User.email.like("typist%"))  # type: ignore[attr-defined]
        ).all()
        professional_ids = sorted(u.id for u in professionals if u.id is not None)
        from app.models import ReflectionSession

        interviews = {
            s.id: s.trajectory_id
            for s in session.exec(
                select(ReflectionSession).where(ReflectionSession.template_key == "interview")
            ).all()
        }
        for person in people:
            person.trajectory_id = interviews[person.interview_id]
        password_hash = hash_password("benchmark password that nobody uses")
        accounts = (max(1, -(-len(professional_ids) // PROFESSIONALS_PER_COACH)), 2)
        coach_accounts: list[tuple[User, list[int]]] = []
        for number in range(accounts[0]):
            coach = User(
                organisation_id=organisation.id,  # type: ignore[arg-type]
                email=f"coach{number}@bench.example",
                display_name=f"Coach {number}",
                password_hash=password_hash,
            )
            session.add(coach)
            session.flush()
            session.add(
                UserRole(organisation_id=organisation.id, user_id=coach.id, role=Role.coach)  # type: ignore[arg-type]
            )
            mine = professional_ids[
                number * PROFESSIONALS_PER_COACH : (number + 1) * PROFESSIONALS_PER_COACH
            ]
            for professional_id in mine:
                session.add(
                    CoachAssignment(
                        organisation_id=organisation.id,  # type: ignore[arg-type]
                        coach_id=coach.id,  # type: ignore[arg-type]
                        professional_id=professional_id,
                    )
                )
            coach_accounts.append((coach, [by_professional[p] for p in mine]))  # type: ignore[misc]
        supervisor_accounts = []
        for number in range(accounts[1]):
            supervisor = User(
                organisation_id=organisation.id,  # type: ignore[arg-type]
                email=f"supervisor{number}@bench.example",
                display_name=f"Supervisor {number}",
                password_hash=password_hash,
            )
            session.add(supervisor)
            session.flush()
            session.add(
                UserRole(
                    organisation_id=organisation.id,  # type: ignore[arg-type]
                    user_id=supervisor.id,  # type: ignore[arg-type]
                    role=Role.supervisor,
                )
            )
            supervisor_accounts.append(supervisor)
        # Simulated coaches and supervisors share these accounts, each with a session of its own.
        for number in range(counts["coach"]):
            coach, owned = coach_accounts[number % len(coach_accounts)]
            token = start_session(session, user=coach, address=HOST, user_agent="load-bench")
            people.append(
                Person(
                    "coach",
                    token,
                    csrf_token_for("s:" + token_digest(token)),
                    trajectories=owned,
                )
            )
        for number in range(counts["supervisor"]):
            supervisor = supervisor_accounts[number % len(supervisor_accounts)]
            token = start_session(session, user=supervisor, address=HOST, user_agent="load-bench")
            people.append(Person("supervisor", token, csrf_token_for("s:" + token_digest(token))))
        session.commit()
    get_engine().dispose()
    return people


# ---------------------------------------------------------------- simulated users


@dataclass
class Outcome:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    coach_views: int = 0

    def add(self, page: str, status: str, seconds: float | None) -> None:
        self.statuses.setdefault(page, Counter())[status] += 1
        if seconds is not None:
            self.latencies.setdefault(page, []).append(seconds)


@dataclass
class TypistState:
    person: Person
    start_version: int
    saves: int = 0
    acknowledged: str = ""
    in_doubt: str | None = None  # a save sent whose answer never came
    conflicts: int = 0
    limited: int = 0
    words: int = 0


class SimulatedUser:
    """One simulated person: a connection of their own and a loop until the end time."""

    def __init__(self, person: Person, port: int, seed: int, outcome: Outcome) -> None:
        self.person, self.port, self.outcome = person, port, outcome
        self.random = random.Random(seed)
        self.connection = RawConnection(port)
        self.last_used = time.perf_counter()
        self.cookie = f"dyade_session={person.token}"
        self.typist = (
            TypistState(person, person.version, acknowledged=person.text)
            if person.role == "professional"
            else None
        )

    async def send(self, page: str, request: HttpRequest) -> tuple[int, bytes] | None:
        started = time.perf_counter()
        if started - self.last_used > IDLE_RECONNECT:
            # uvicorn closes a keep-alive connection after 5 s idle; a browser then opens a
            # new one, and so do we (the connecting counts in the latency, as it would).
            await self.connection.close()
            self.connection = RawConnection(self.port)
        try:
            status, body = await asyncio.wait_for(self.connection.send(request), REQUEST_TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
            self.outcome.add(page, type(exc).__name__, None)
            await self.connection.close()
            self.connection = RawConnection(self.port)
            return None
        self.last_used = time.perf_counter()
        self.outcome.add(page, str(status), self.last_used - started)
        return status, body

    def get(self, path: str) -> HttpRequest:
        return HttpRequest("GET", path, {"Cookie": self.cookie})

    async def pause(self, low: float, high: float, until: float) -> bool:
        """Wait like a person; False when the time is up."""
        await asyncio.sleep(
            max(0.0, min(self.random.uniform(low, high), until - time.perf_counter()))
        )
        return time.perf_counter() < until

    async def run(self, until: float) -> None:
        # Arrive spread over the first seconds, as people do.
        await asyncio.sleep(self.random.uniform(0, 10))
        role = self.person.role
        try:
            if role == "professional":
                await self.professional(until)
            elif role == "coach":
                await self.coach(until)
            else:
                await self.supervisor(until)
        finally:
            await self.connection.close()

    async def professional(self, until: float) -> None:
        person, typist = self.person, self.typist
        assert typist is not None
        step = f"/sessions/{person.interview_id}/steps/connected"
        await self.send("step page", self.get(step))
        while await self.pause(1.5, 4.0, until):
            if self.random.random() < 0.05:
                page = self.random.choice(
                    [
                        ("trajectory page", f"/trajectories/{person.trajectory_id}"),
                        ("home", "/home"),
                    ]
                )
                await self.send(page[0], self.get(page[1]))
                continue
            await self.autosave(step + "/draft")

    async def autosave(self, path: str) -> None:
        typist = self.typist
        assert typist is not None
        typist.words += self.random.randint(2, 8)
        text = f"{typist.acknowledged} en toen {typist.words}"
        if len(text) > TEXT_WINDOW:
            text = "…" + text[-TEXT_WINDOW:].split(" ", 1)[-1]
        body = urlencode(
            {"csrf_token": self.person.csrf, "version": self.person.version, "text": text}
        )
        request = HttpRequest(
            "POST",
            path,
            {"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"},
            body.encode(),
        )
        answer = await self.send("autosave", request)
        if answer is None:
            typist.in_doubt = text
            return
        status, payload = answer
        if status == 200:
            version = int(re.search(rb'"version":\s*(\d+)', payload).group(1))  # type: ignore[union-attr]
            typist.in_doubt = None
            typist.saves += 1
            typist.acknowledged = text
            self.person.version = version
        elif status == 409:
            stored = json.loads(payload)
            self.person.version = int(stored.get("version", self.person.version))
            if typist.in_doubt is not None and stored.get("text") == typist.in_doubt:
                # The save whose answer never came did arrive: it is the stored version.
                typist.saves += 1
                typist.acknowledged, typist.in_doubt = typist.in_doubt, None
            else:
                typist.conflicts += 1
        elif status == 429:
            typist.limited += 1

    async def coach(self, until: float) -> None:
        while True:
            await self.send("caseload", self.get("/coach"))
            if not await self.pause(2, 5, until):
                return
            trajectory = self.random.choice(self.person.trajectories)
            answer = await self.send(
                "coach trajectory", self.get(f"/coach/trajectories/{trajectory}")
            )
            if answer and answer[0] == 200:
                self.outcome.coach_views += 1
            if not await self.pause(3, 8, until):
                return

    async def supervisor(self, until: float) -> None:
        while True:
            choice = self.random.random()
            if choice < 0.15:
                await self.send("dashboard CSV", self.get("/dashboard/export.csv"))
            elif choice < 0.45:
                await self.send("dashboard filtered", self.get("/dashboard?sector=education"))
            else:
                await self.send("dashboard", self.get("/dashboard"))
            if not await self.pause(4, 10, until):
                return


async def warm_up(people: list[Person], port: int) -> int:
    """Every kind of page once, not counted: templates compile on their first use."""
    scratch = Outcome()
    first = {p.role: p for p in reversed(people)}
    pages = {
        "professional": lambda p: [
            f"/sessions/{p.interview_id}/steps/connected",
            f"/trajectories/{p.trajectory_id}",
            "/home",
        ],
        "coach": lambda p: ["/coach", f"/coach/trajectories/{p.trajectories[0]}"],
        "supervisor": lambda p: [
            "/dashboard",
            "/dashboard?sector=education",
            "/dashboard/export.csv",
        ],
    }
    for role, person in first.items():
        user = SimulatedUser(person, port, 0, scratch)
        for path in pages[role](person):
            answer = await user.send("warm-up", user.get(path))
            if answer and answer[0] == 200 and path.startswith("/coach/trajectories/"):
                scratch.coach_views += 1  # audited like any other view
        await user.connection.close()
    return scratch.coach_views


async def drive(
    people: list[Person], port: int, seconds: float
) -> tuple[Outcome, list[SimulatedUser]]:
    warm_views = await warm_up(people, port)
    outcome = Outcome(coach_views=warm_views)
    simulated = [SimulatedUser(person, port, seed, outcome) for seed, person in enumerate(people)]
    until = time.perf_counter() + seconds
    await asyncio.gather(*(u.run(until) for u in simulated))
    return outcome, simulated


# ---------------------------------------------------------------- checks and report


def audit_views(url: str, data_dir: Path) -> int:
    _use_database(url, data_dir)
    from sqlalchemy import func
    from sqlmodel import Session, select

    from app.db import get_engine
    from app.models import AuditEvent

    with Session(get_engine()) as session:
        count = session.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "trajectory.view")
        ).one()
    get_engine().dispose()
    return int(count)


def check_writes(
    url: str, data_dir: Path, simulated: list[SimulatedUser], outcome: Outcome
) -> dict[str, Any]:
    typists = [u.typist for u in simulated if u.typist is not None]
    stored = stored_drafts(url, data_dir, [t.person.interview_id for t in typists])
    lost, doubted, saves = [], 0, 0
    for typist in typists:
        text, version = stored.get(typist.person.interview_id, ("", -1))
        saves += typist.saves
        expected_version = typist.start_version + typist.saves
        if typist.in_doubt is not None and text == typist.in_doubt:
            doubted += 1  # the last save did arrive, its answer did not: one more version
            expected_version += 1
        elif text != typist.acknowledged:
            lost.append(typist.person.interview_id)
            continue
        if version != expected_version:
            lost.append(typist.person.interview_id)
    views = audit_views(url, data_dir)
    return {
        "typists": len(typists),
        "saves": saves,
        "lost": lost,
        "in_doubt": doubted,
        "conflicts": sum(t.conflicts for t in typists),
        "limited": sum(t.limited for t in typists),
        "coach_views": outcome.coach_views,
        "audit_views": views,
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Run:
    database: str
    users: int
    counts: dict[str, int]
    seconds: float
    workers: int
    outcome: Outcome
    checks: dict[str, Any]
    load_before: str
    load_after: str
    server_cpu: float
    generator_cpu: float

    def rows(self) -> list[str]:
        lines = []
        for page in sorted(self.outcome.statuses):
            statuses = self.outcome.statuses[page]
            ordered = sorted(self.outcome.latencies.get(page, []))
            total = sum(statuses.values())
            shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
            ms = [
                f"{value * 1000:.0f}"
                for value in (
                    _percentile(ordered, 0.5),
                    _percentile(ordered, 0.95),
                    _percentile(ordered, 0.99),
                    ordered[-1] if ordered else 0.0,
                )
            ]
            lines.append(
                f"| {self.database} | {page} | {total} | {total / self.seconds:.1f} | "
                + " | ".join(ms)
                + f" | {shown} |"
            )
        return lines

    @property
    def server_errors(self) -> int:
        return sum(
            n
            for statuses in self.outcome.statuses.values()
            for s, n in statuses.items()
            if s.isdigit() and int(s) >= 500
        )

    @property
    def transport_errors(self) -> int:
        return sum(
            n
            for statuses in self.outcome.statuses.values()
            for s, n in statuses.items()
            if not s.isdigit()
        )

    def verdict(self) -> list[str]:
        c = self.checks
        audits_ok = c["audit_views"] >= c["coach_views"]
        return [
            f"- {self.database}: {self.server_errors} responses 5xx, {self.transport_errors} "
            "requests without an answer (timeouts, closed connections).",
            f"- {self.database}: {c['typists']} typists, {c['saves']} acknowledged autosaves; "
            f"lost writes: {len(c['lost'])}"
            + (f" (interview sessions {c['lost'][:10]})" if c["lost"] else "")
            + f"; last save arrived without its answer: {c['in_doubt']}; "
            f"version conflicts: {c['conflicts']}; rate-limited: {c['limited']}.",
            f"- {self.database}: coach trajectory pages shown: {c['coach_views']}, audit records "
            f"of those views: {c['audit_views']} "
            f"({'every view recorded' if audits_ok else 'MISSING'}).",
            f"- {self.database}: load average before {self.load_before}, after {self.load_after}; "
            f"server CPU {self.server_cpu / self.seconds * 100:.0f}% of one core, load generator "
            f"{self.generator_cpu / self.seconds * 100:.0f}%.",
        ]

    @property
    def ok(self) -> bool:
        return (
            self.server_errors == 0
            and not self.checks["lost"]
            and self.checks["audit_views"] >= self.checks["coach_views"]
        )


def bench(database: str, url: str, args: argparse.Namespace) -> Run:
    data_dir = Path(tempfile.mkdtemp(prefix="dyade-load-"))
    if database == "SQLite":
        url = f"sqlite:///{data_dir / 'load.db'}"
    print(f"{database}: preparing {args.users} users …", flush=True)
    people = prepare(url, data_dir, args.users)
    counts = Counter(p.role for p in people)
    env = {
        "DYADE_DATABASE_URL": url,
        "DYADE_DATA_DIR": str(data_dir),
        "DYADE_ENVIRONMENT": "test",
        "DYADE_SECRET_KEY": SECRET_KEY,
        "BENCH_CWD": str(REPO),
    }
    with running_server("app.main:app", env=env, workers=args.workers, ready_path="/healthz") as (
        port,
        pid,
    ):
        print(f"{database}: {dict(counts)} for {args.duration:.0f} s on port {port} …", flush=True)
        load_before = load_average()
        cpu_before = _cpu_seconds(pid)
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        outcome, simulated = asyncio.run(drive(people, port, args.duration))
        seconds = time.perf_counter() - started
        server_cpu = _cpu_seconds(pid) - cpu_before
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        load_after = load_average()
    generator_cpu = (own_after.ru_utime + own_after.ru_stime) - (
        own_before.ru_utime + own_before.ru_stime
    )
    checks = check_writes(url, data_dir, simulated, outcome)
    return Run(
        database,
        args.users,
        dict(counts),
        seconds,
        args.workers,
        outcome,
        checks,
        load_before,
        load_after,
        server_cpu,
        generator_cpu,
    )


def report(
    runs: list[Run], args: argparse.Namespace, started: datetime, versions: list[str]
) -> list[str]:
    first = runs[0]
    lines = [
        SECTION,
        "",
        "Written by `benchmarks/load_bench.py`; rerun it to refresh this section.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC.",
        *machine(),
        *[f"- Database: {v}." for v in versions],
        f"- Command: `python benchmarks/load_bench.py {' '.join(args.argv)}`",
        f"- Users: {first.users} at once, each with a login session of their own: "
        f"{first.counts.get('professional', 0)} professionals, {first.counts.get('coach', 0)} "
        f"coaches, {first.counts.get('supervisor', 0)} supervisors; {args.duration:.0f} s per "
        f"database; uvicorn with {args.workers} worker(s) (environment=test, no access log) on "
        "127.0.0.1; the load generator (asyncio, one keep-alive connection per user, "
        "benchmarks/reflection_bench.py's client) in the script's own process, on the same "
        "2 cores as the server.",
        "- What each user does: see the docstring of benchmarks/load_bench.py. Professionals "
        "autosave every 1.5–4 s (text so far, up to 3 kB); coaches open the caseload and a "
        "trajectory page every 5–13 s; supervisors open the dashboard (30 % filtered, 15 % "
        "CSV export) every 4–10 s.",
        "- Data: every trajectory holds an intake in progress (consent, 16 questionnaire items) "
        "and the interview's narrative answer that the professional keeps typing; the coach's "
        "trajectory pages are the small case of benchmarks/trajectory_bench.py, and the "
        "dashboard counts 140 trajectories that have no post measurement yet.",
        "- Latency is from sending a request to having read the whole response. The machine "
        "is shared with other jobs: see the load averages below.",
        "",
        "| database | page | requests | per second | p50 ms | p95 ms | p99 ms | max ms "
        "| statuses |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for run in runs:
        lines += run.rows()
    lines += ["", "### Checks after the run", ""]
    for run in runs:
        lines += run.verdict()
    lines += [
        "",
        "Zero 5xx and zero lost writes on every database: "
        + ("**met**." if all(r.ok for r in runs) else "**not met** (see above)."),
        "",
    ]
    return lines


def write_docs(lines: list[str]) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(SECTION) + r".*?(?=^## |\Z)", re.S | re.M)
    new = "\n".join(lines) + "\n"
    text = (
        pattern.sub(lambda _m: new, text) if pattern.search(text) else text.rstrip() + "\n\n" + new
    )
    DOCS.write_text(text.rstrip() + "\n")
    print(f"Updated {DOCS.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds per database")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if not 1 <= args.users <= 1000 or not 1 <= args.duration <= 3600:
        raise SystemExit("--users 1…1000 and --duration 1…3600 s")
    started = datetime.now(UTC)
    targets: list[tuple[str, str]] = []
    if args.db in ("sqlite", "both"):
        targets.append(("SQLite", ""))
    if args.db in ("postgres", "both"):
        url = os.environ.get("DYADE_BENCH_POSTGRES_URL", "")
        if not url:
            raise SystemExit("Set DYADE_BENCH_POSTGRES_URL for the PostgreSQL run.")
        targets.append(("PostgreSQL", url))
    runs, versions = [], []
    for database, url in targets:
        run = bench(database, url, args)
        runs.append(run)
        data_dir = Path(tempfile.mkdtemp(prefix="dyade-load-v-"))
        versions.append(database_version(url or f"sqlite:///{data_dir / 'v.db'}", data_dir))
        print("\n".join(run.rows() + run.verdict()), flush=True)
    lines = report(runs, args, started, versions)
    print("\n".join(lines))
    if not args.no_docs:
        write_docs(lines)
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
