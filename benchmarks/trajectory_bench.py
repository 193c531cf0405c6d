"""Benchmark of the coach's trajectory page, GET /coach/trajectories/{id} (issue target:
at most 20 ms server time for a 12-session trajectory with 60 diary entries).

In process, no server: a fresh database built by the real migrations, one coach and two
professionals, and two trajectories:

  small  the intake done (four questionnaires), the interview in progress, no diary;
  full   all six sessions of the programme completed with every step answered, and as
         many again: each session also holds a second set of questionnaire responses and
         narrative answers (under step keys "<step>-repeat"), so every questionnaire chart
         has twice the measurement points and the page twice the text of the programme's
         six sessions (the schema allows one session per template key, so "12 sessions"
         cannot exist literally); plus 60 diary entries, 10 experiment log entries, a
         coding with evidence and 5 feedback messages.

The organisation has --colleagues (300) more professionals, not the coach's, each with a
finished intake: the baseline sample from which the pages work out the organisation's
own SD and reliability (until 2026-12-02 the benchmark had none, and did not show that
a page read and scored that whole sample every time).

Each page is requested through httpx's ASGI transport, the app running on this process's
event loop as under uvicorn (routing, middleware, login, audit record, queries, charts,
Jinja rendering, i.e. everything but the socket), `--runs` times after a warm-up and with
the app's start-up and shut-down run around them; reported are the median and p95 of the
server time (inside the app), of the wall time and CPU time per request, and the SQL
statements per request (a before_cursor_execute listener). GET /healthz, timed the same
way, shows the fixed cost of the middleware and the client.

Until 2026-12-02 this used Starlette's TestClient. Since Starlette 1.x it hands the
response body to its client thread through a stream without a buffer, so the app's last
`send` waited for that thread, and the "server time" held the client's own work (in the
same process and minutes: the full page 19.4-21.9 ms that way, 14.6-18.9 ms this way).

    .venv/bin/python benchmarks/trajectory_bench.py --runs 200

PostgreSQL as well when DYADE_BENCH_POSTGRES_URL is set (its database is wiped: the name
must contain "bench"). --profile prints a pyinstrument profile of the full page.

    .venv/bin/python benchmarks/trajectory_bench.py --against ../other-checkout

compares this checkout's full page with another checkout's: one process each, on its own
database, taking turns in bursts of --burst requests for --rounds rounds, so that both
see the same phases of a shared machine, whose speed wanders by a third within minutes
(two runs of the whole benchmark one after the other do not tell a 20 % change from
that). PostgreSQL too when DYADE_BENCH_POSTGRES_URL and DYADE_BENCH_POSTGRES_URL_B (the
other process's database) are set. Nothing is written to the docs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere: the app is importable
if os.environ.get("DYADE_BENCH_APP_ROOT"):
    # --against: this process measures another checkout's app.
    sys.path.insert(0, os.environ["DYADE_BENCH_APP_ROOT"])
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Coach trajectory page"
from benchmarks.bench_database import start_programme, use_database, wipe_postgres  # noqa: E402 - needs the path above

SECRET_KEY = "trajectory-benchmark-secret-key-0123456789abcdef"  # noqa: S105 - a throwaway key
TARGET_MS = 20.0
DIARY_ENTRIES = 60
# Other professionals of the organisation who did their intake: its baseline sample.
COLLEAGUES = 300


@dataclass
class Fixture:
    coach_token: str
    small_id: int
    full_id: int


@dataclass
class Timing:
    label: str
    median_ms: float
    p95_ms: float
    queries: int
    size_kb: float
    #: CPU time of this process per request (app and client): depends less on what else
    #: runs on the machine than the wall time.
    cpu_median_ms: float = 0.0
    cpu_p95_ms: float = 0.0
    #: From the app receiving the request to its last byte of response, measured inside
    #: the ASGI app: the server time, without the client's own cost.
    server_median_ms: float = 0.0
    server_p95_ms: float = 0.0


def _use_database(url: str, data_dir: Path) -> None:
    use_database(url, data_dir, secret_key=SECRET_KEY)


def _fill_session(
    session: Any,
    *,
    trajectory: Any,
    reflection_session: Any,
    programme: Any,
    repeat: bool,
    variant: int = 0,
) -> None:
    """Answer every step of one session (and, with `repeat`, every step a second time)."""
    from app.instruments.scoring import score_response
    from app.models import InstrumentResponse, NarrativeAnswer
    from app.reflection import service

    template = programme.session(reflection_session.template_key)
    done_at = datetime.combine(reflection_session.suggested_date, datetime.min.time(), tzinfo=UTC)
    for copy in ("",) + (("-repeat",) if repeat else ()):
        for index, step in enumerate(template.steps):
            if step.type == "consent":
                continue
            if step.type == "instrument":
                definition = service.instrument_for(step, None)
                shift = (reflection_session.position + len(copy) + variant) % 3
                answers = {
                    item.key: min(definition.scale.max, definition.scale.min + 1 + (k + shift) % 4)
                    for k, item in enumerate(definition.items)
                }
                scores = score_response(definition, answers)
                session.add(
                    InstrumentResponse(
                        organisation_id=trajectory.organisation_id,
                        session_id=reflection_session.id,
                        trajectory_id=trajectory.id,
                        step_key=step.key + copy,
                        phase=reflection_session.phase,
                        instrument_key=definition.key,
                        instrument_version=definition.version,
                        answers=answers,
                        scores={key: score.value for key, score in scores.items()},
                        completed_at=done_at,
                    )
                )
                continue
            words = ["geduldig", "zoekend", "warm"] if step.type == "three_words" else []
            session.add(
                NarrativeAnswer(
                    organisation_id=trajectory.organisation_id,
                    session_id=reflection_session.id,
                    step_key=step.key + copy,
                    text=(
                        f"Bij {step.key}: vorige week in de kring keek Kiki me aan en ik "
                        f"knikte terug; daarna vertelde ze over haar weekend ({index}). "
                    )
                    * 6,
                    words=words,
                    version=1,
                    submitted_at=done_at,
                )
            )
    reflection_session.status = "completed"
    reflection_session.started_at = done_at
    reflection_session.completed_at = done_at + timedelta(minutes=40)
    session.add(reflection_session)


def _diary_values(number: int) -> dict[str, Any]:
    return {
        "valence": (number % 7) - 3,
        "anger": number % 5,
        "helplessness": (number + 1) % 5,
        "anxiety": (number + 2) % 5,
        "joy": (number + 3) % 5,
        "guilt": number % 3,
        "pride": (number + 1) % 4,
        "genuine": 3,
        "hidden": number % 4,
        "faked": (number + 2) % 4,
        "reappraised": 1,
        "what_happened": f"Moment {number}: Kiki kwam te laat binnen en ik zei er niets van.",
        "child_felt": "Misschien opgelucht.",
    }


def prepare_database(url: str, data_dir: Path, colleagues: int = 0) -> Fixture:
    """A fresh, migrated database with a coach, a small and a full trajectory, and
    `colleagues` more professionals (not the coach's) who have done their intake."""
    _use_database(url, data_dir)
    if url.startswith("postgresql"):
        wipe_postgres(url)
    from sqlmodel import Session

    from app.auth.service import start_session
    from app.cli import migrate
    from app.db import get_engine
    from app.models import (
        CoachAssignment,
        Coding,
        CodingEvidence,
        DiaryEntry,
        ExperimentLogEntry,
        Feedback,
        Organisation,
        Role,
        User,
        UserRole,
    )
    from app.reflection import service
    from app.security import hash_password

    migrate()
    with Session(get_engine(), expire_on_commit=False) as session:
        organisation = Organisation(name="Benchmark school", slug="benchmark")
        session.add(organisation)
        session.flush()
        assert organisation.id is not None
        password_hash = hash_password("benchmark password that nobody uses")

        def person(key: str, role: Role) -> User:
            user = User(
                organisation_id=organisation.id,  # type: ignore[arg-type]
                email=f"{key}@bench.example",
                display_name=key.title(),
                password_hash=password_hash,
            )
            session.add(user)
            session.flush()
            session.add(UserRole(organisation_id=organisation.id, user_id=user.id, role=role))  # type: ignore[arg-type]
            return user

        coach = person("coach", Role.coach)
        trajectory_ids: list[int] = []
        for key, full in (("small", False), ("full", True)):
            professional = person(key, Role.professional)
            session.add(
                CoachAssignment(
                    organisation_id=organisation.id,
                    coach_id=coach.id,  # type: ignore[arg-type]
                    professional_id=professional.id,  # type: ignore[arg-type]
                )
            )
            _token, _actor, trajectory = start_programme(session, professional, pseudonym="Kiki")
            programme = service.programme_of(trajectory)
            sessions = service.trajectory_sessions(session, trajectory)
            start = date.today() - timedelta(days=120)
            for s in sessions:
                s.suggested_date = s.suggested_date or start + timedelta(days=14 * s.position)
            chosen = sessions if full else sessions[:1]
            for s in chosen:
                _fill_session(
                    session,
                    trajectory=trajectory,
                    reflection_session=s,
                    programme=programme,
                    repeat=full,
                )
            if not full:
                sessions[1].status = "in_progress"
                session.add(sessions[1])
                trajectory_ids.append(trajectory.id)  # type: ignore[arg-type]
                continue
            phases = [s.phase for s in sessions]
            for number in range(DIARY_ENTRIES):
                session.add(
                    DiaryEntry(
                        organisation_id=organisation.id,  # type: ignore[arg-type]
                        trajectory_id=trajectory.id,  # type: ignore[arg-type]
                        occurred_on=start + timedelta(days=number * 2),
                        phase=phases[min(number * len(phases) // DIARY_ENTRIES, len(phases) - 1)],
                        instrument_version=1,
                        values=_diary_values(number),
                    )
                )
            for number in range(10):
                session.add(
                    ExperimentLogEntry(
                        organisation_id=organisation.id,  # type: ignore[arg-type]
                        trajectory_id=trajectory.id,  # type: ignore[arg-type]
                        occurred_on=start + timedelta(days=40 + number * 3),
                        what_i_did="Ik begroette Kiki elke ochtend bij de deur.",
                        how_it_went=1 + number % 5,
                    )
                )
            coding = Coding(
                organisation_id=organisation.id,  # type: ignore[arg-type]
                session_id=sessions[1].id,  # type: ignore[arg-type]
                trajectory_id=trajectory.id,  # type: ignore[arg-type]
                coach_id=coach.id,  # type: ignore[arg-type]
                scheme_version=1,
                ratings={},
            )
            session.add(coding)
            session.flush()
            session.add(
                CodingEvidence(
                    organisation_id=organisation.id,  # type: ignore[arg-type]
                    coding_id=coding.id,  # type: ignore[arg-type]
                    step_key="connected",
                    quote="keek Kiki me aan",
                )
            )
            for number in range(5):
                session.add(
                    Feedback(
                        organisation_id=organisation.id,  # type: ignore[arg-type]
                        trajectory_id=trajectory.id,  # type: ignore[arg-type]
                        coach_id=coach.id,  # type: ignore[arg-type]
                        text=f"Feedback {number}: wat deed dat met jou?",
                    )
                )
            trajectory_ids.append(trajectory.id)  # type: ignore[arg-type]
        # The organisation's other professionals: their intakes are its baseline sample,
        # from which every page judges change (app/reflection/baselines.py).
        for number in range(colleagues):
            professional = person(f"colleague{number}", Role.professional)
            _token, _actor, trajectory = start_programme(
                session, professional, pseudonym="Sam", age_band="4-7"
            )
            intake = service.trajectory_sessions(session, trajectory)[0]
            intake.suggested_date = intake.suggested_date or date.today() - timedelta(days=150)
            _fill_session(
                session,
                trajectory=trajectory,
                reflection_session=intake,
                programme=service.programme_of(trajectory),
                repeat=False,
                variant=number,
            )
        coach_token = start_session(session, user=coach, address="bench", user_agent="bench")
        session.commit()
    return Fixture(coach_token=coach_token, small_id=trajectory_ids[0], full_id=trajectory_ids[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _timed(app: Any, served: list[float]) -> Any:
    """The app, noting each request's server time (ms, to its last byte) in `served`."""

    async def timed_app(scope: Any, receive: Any, send: Any) -> None:
        began = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                served.append((time.perf_counter() - began) * 1000)

    return timed_app


def measure(fixture: Fixture, runs: int, warmup: int = 20) -> list[Timing]:
    """Median and p95 wall time and SQL statements per request for each page."""
    import asyncio

    import httpx
    from sqlalchemy import event

    from app.db import get_engine
    from app.main import app

    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    timings: list[Timing] = []
    served: list[float] = []
    timed_app = _timed(app, served)

    async def run() -> None:
        nonlocal statements
        # httpx's ASGI transport runs the app on this event loop, as uvicorn does, and
        # keeps the body it is sent: the app's last `send` returns at once. (Starlette's
        # TestClient hands the body over to its client thread through a stream with no
        # buffer, so the server time included that thread's own work; see the docs.)
        transport = httpx.ASGITransport(app=timed_app)
        cookies = {"dyade_session": fixture.coach_token}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", cookies=cookies
            ) as client,
        ):
            pages = (
                ("GET /healthz (fixed cost)", "/healthz"),
                ("small trajectory (intake only)", f"/coach/trajectories/{fixture.small_id}"),
                (
                    "full trajectory (6 + 6 sessions' data, 60 diary entries)",
                    f"/coach/trajectories/{fixture.full_id}",
                ),
            )
            for label, path in pages:
                for _ in range(warmup):
                    assert (await client.get(path)).status_code == 200
                samples: list[float] = []
                served.clear()
                cpu: list[float] = []
                counts: list[int] = []
                size = 0
                for _ in range(runs):
                    statements = 0
                    began, cpu_began = time.perf_counter(), time.process_time()
                    response = await client.get(path)
                    samples.append((time.perf_counter() - began) * 1000)
                    cpu.append((time.process_time() - cpu_began) * 1000)
                    counts.append(statements)
                    assert response.status_code == 200, response.text[:500]
                    size = len(response.content)
                assert len(set(counts)) == 1, f"{label}: query count varies: {set(counts)}"
                timings.append(
                    Timing(
                        label=label,
                        median_ms=statistics.median(samples),
                        p95_ms=_percentile(samples, 0.95),
                        queries=counts[0],
                        size_kb=size / 1024,
                        cpu_median_ms=statistics.median(cpu),
                        cpu_p95_ms=_percentile(cpu, 0.95),
                        server_median_ms=statistics.median(served),
                        server_p95_ms=_percentile(served, 0.95),
                    )
                )

    try:
        asyncio.run(run())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return timings


def profile(fixture: Fixture, runs: int) -> str:
    """A pyinstrument profile of `runs` requests of the full trajectory page.

    The requests run on this thread (httpx's ASGI transport in asyncio.run, and FastAPI's
    thread pool replaced by a direct call) so that the profiler sees the endpoint's work.
    """
    import asyncio

    import fastapi.dependencies.utils
    import fastapi.routing
    import httpx
    from pyinstrument import Profiler

    from app.main import app

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = inline  # type: ignore[assignment]
    path = f"/coach/trajectories/{fixture.full_id}"
    profiler = Profiler(interval=0.0005, async_mode="disabled")

    async def requests() -> None:
        transport = httpx.ASGITransport(app=app)
        cookies = {"dyade_session": fixture.coach_token}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as client:
            for _ in range(10):
                assert (await client.get(path)).status_code == 200
            profiler.start()
            for _ in range(runs):
                await client.get(path)
            profiler.stop()

    asyncio.run(requests())
    return str(profiler.output_text(unicode=False, color=False, show_all=False))


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def _table(database: str, timings: list[Timing]) -> list[str]:
    lines = [
        f"**{database}**",
        "",
        "| Page | Server median ms | Server p95 ms | Client median ms | Client p95 ms "
        "| CPU median ms | SQL statements | HTML kB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.label} | {t.server_median_ms:.1f} | {t.server_p95_ms:.1f} "
        f"| {t.median_ms:.1f} | {t.p95_ms:.1f} | {t.cpu_median_ms:.1f} "
        f"| {t.queries} | {t.size_kb:.0f} |"
        for t in timings
    ]
    return [*lines, ""]


def write_docs(results: dict[str, list[Timing]], runs: int, colleagues: int) -> None:
    """Append (or replace) this benchmark's section of docs/benchmarks.md."""
    full = [t for ts in results.values() for t in ts if t.label.startswith("full")]
    verdict = (
        "met" if all(t.server_median_ms <= TARGET_MS for t in full) else "missed"
    )  # the target is on the typical (median) request's server time
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {_machine()} (load average "
        f"{os.getloadavg()[0]:.1f} when written: a shared machine), with",
        "`.venv/bin/python benchmarks/trajectory_bench.py "
        f"--runs {runs}` (in process, httpx's ASGI transport; see the script's docstring for",
        'what "small" and "full" hold), in an organisation where '
        f"{colleagues} other professionals have done their intake (the baseline sample by "
        "which every page judges change). Target: at most "
        f"{TARGET_MS:.0f} ms server time for a 12-session trajectory with "
        f"{DIARY_ENTRIES} diary entries: **{verdict}** (median server time of the full "
        "trajectory). Server time is measured inside the ASGI app, from receiving the request "
        "to sending its last byte (middleware, routing, login check, queries, rendering, "
        "commit); the client columns add the client's own cost (httpx, in the same "
        "process and thread).",
        "",
    ]
    for database, timings in results.items():
        lines += _table(database, timings)
    lines += [
        "The programme has six sessions and the schema one session per template key, so the",
        '"full" trajectory is the whole programme answered twice over (twelve measurement',
        "points per questionnaire subscale, twice the narrative text) rather than twelve",
        "session rows. The SQL statements stay flat (the same 13 for both: the login check",
        "with the header's unread count, the access check with the relationship and the",
        "professional, six for the page's rows, two for the organisation's change parameters",
        "(the fingerprints of its baseline sample, and the sample of a questionnaire whose",
        "fingerprint changed), and three for the audit record's chain and event); the time",
        "that grows is rendering (charts, the narrative text, the diary list) and loading",
        "the rows.",
        "",
        "Where the full page's time goes (SQLite, 2026-12-02 morning, in process, the page's",
        "parts timed over 100 requests in a fast phase of the machine, 12.6 ms of CPU per",
        "page): loading the rows, the organisation's baselines and the change index 3.7 ms,",
        "the page's view model 3.6 ms (of which the eleven SVG charts 1.8 ms), Jinja",
        "rendering 2.1 ms, the access check 0.6 ms, and the rest (middleware, login check,",
        "the audit record, commit) 2.6 ms. On PostgreSQL each statement",
        "costs about 0.25 ms more than on SQLite (a round trip; `SELECT 1` takes 0.04 ms on",
        "SQLite and 0.25 ms on the local PostgreSQL), and the audit record's commit waits",
        "for the disk (fsync on): together about 5 ms of the difference between the two.",
        "",
        "What the 2026-12-01 changes did (CPU ms per request, SQLite, `--runs 100`, the commit",
        "before them and after them run alternately three times each on the shared machine,",
        "load average 2.3-3.5): full trajectory 57.9, 44.8, 44.2 before and 37.4, 29.4, 30.6",
        "after; small trajectory 30.7, 25.1, 23.9 before and 19.2, 20.3, 18.1 after. The score",
        "charts are written with f-strings and cached fixed parts (the same SVG, about six",
        "times cheaper); the tables look up phase, change and status names instead of calling",
        "a label macro per row; repeated words are translated once per page; dates are",
        "formatted once per (date, pattern, locale) in a process-wide cache of pure results;",
        "the timeline, the diary list and the feedback form's choices are put together in",
        "Python; the page's statements (the baseline window query above all) are built once",
        "with bound parameters, and three are merged into others. In the evening: the",
        "chart tables too are written in Python, the access check, the sessions with their",
        "answers and the header's unread count are merged into other statements (15 -> 12),",
        "the audit chain takes its numbers with one upsert, and the page runs on the event",
        "loop on SQLite (`DYADE_DB_ROUTES_INLINE`). On 2026-12-02 the sessions, answers,",
        "questionnaires and diary are read as plain rows instead of ORM objects (loading",
        "6.9-8.7 ms -> 3.7-5.4 ms), and the diary table and experiment log are written in",
        "Python.",
        "",
        "On a busy shared machine both columns grow (the CPU time too: the cores are shared",
        "with other jobs' threads); the GET /healthz row shows by how much, and",
        '"Performance work" below compares versions measured in the same conditions.',
        "",
    ]
    section = "\n".join(lines)
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if SECTION in text:
        before, _, after = text.partition(SECTION)
        rest = after.split("\n## ", 1)
        tail = "\n## " + rest[1] if len(rest) > 1 else ""
        text = before + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


def _run_in_child(url: str, runs: int, colleagues: int) -> list[Timing]:
    """Each database in its own process: settings and engine are cached per process."""
    import json

    output = subprocess.run(  # noqa: S603 - our own script
        [
            sys.executable,
            __file__,
            "--child",
            url,
            "--runs",
            str(runs),
            "--colleagues",
            str(colleagues),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [Timing(**row) for row in json.loads(output.strip().splitlines()[-1])]


def _serve_bursts(url: str, colleagues: int) -> None:
    """--against's child: the full page, a burst at a time, as its parent asks."""
    import asyncio
    import json

    import httpx

    from app.main import app

    with tempfile.TemporaryDirectory() as tmp:
        fixture = prepare_database(url.replace("{tmp}", tmp), Path(tmp), colleagues)
        served: list[float] = []
        timed_app = _timed(app, served)

        async def run() -> None:
            path = f"/coach/trajectories/{fixture.full_id}"
            cookies = {"dyade_session": fixture.coach_token}
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=timed_app),
                    base_url="http://testserver",
                    cookies=cookies,
                ) as client,
            ):
                for _ in range(20):
                    assert (await client.get(path)).status_code == 200
                print("ready", flush=True)
                for line in sys.stdin:
                    served.clear()
                    began = time.process_time()
                    for _ in range(int(line)):
                        assert (await client.get(path)).status_code == 200
                    cpu = (time.process_time() - began) * 1000 / int(line)
                    print(json.dumps({"served": served, "cpu": cpu}), flush=True)

        asyncio.run(run())


def _compare(other: Path, rounds: int, burst: int, colleagues: int) -> None:
    """--against: this checkout's full page and another's, taking turns."""
    import json

    urls = {"SQLite": ("sqlite:///{tmp}/bench.db", "sqlite:///{tmp}/bench.db")}
    if os.environ.get("DYADE_BENCH_POSTGRES_URL") and os.environ.get("DYADE_BENCH_POSTGRES_URL_B"):
        urls["PostgreSQL"] = (
            os.environ["DYADE_BENCH_POSTGRES_URL"],
            os.environ["DYADE_BENCH_POSTGRES_URL_B"],
        )
    roots = (REPO, other.resolve())
    for database, pair in urls.items():
        children = [
            subprocess.Popen(  # noqa: S603 - our own script
                [sys.executable, __file__, "--serve-bursts", url, "--colleagues", str(colleagues)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "DYADE_BENCH_APP_ROOT": str(root)},
            )
            for root, url in zip(roots, pair, strict=True)
        ]
        served: list[list[float]] = [[], []]
        cpu: list[list[float]] = [[], []]
        try:
            for child in children:
                assert child.stdout is not None and child.stdin is not None
                while child.stdout.readline().strip() != "ready":
                    pass
            for turn in range(rounds):
                # Alternate who goes first, so that neither always follows the other.
                for index in (0, 1) if turn % 2 == 0 else (1, 0):
                    child = children[index]
                    assert child.stdout is not None and child.stdin is not None
                    child.stdin.write(f"{burst}\n")
                    child.stdin.flush()
                    result = json.loads(child.stdout.readline())
                    served[index] += result["served"]
                    cpu[index].append(result["cpu"])
        finally:
            for child in children:
                if child.stdin is not None:
                    child.stdin.close()
                child.wait()
        print(f"**{database}**, full trajectory, {rounds} rounds of {burst} requests each")
        for root, times, cpus in zip(roots, served, cpu, strict=True):
            print(
                f"  {root}: server median {statistics.median(times):.1f} ms, "
                f"p95 {_percentile(times, 0.95):.1f} ms; CPU per request "
                f"{statistics.median(cpus):.1f} ms (median of the rounds)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--against", type=Path, help="compare the full page with this other checkout's"
    )
    parser.add_argument("--rounds", type=int, default=20, help="--against: turns each")
    parser.add_argument("--burst", type=int, default=20, help="--against: requests a turn")
    parser.add_argument("--serve-bursts", help=argparse.SUPPRESS)
    parser.add_argument(
        "--colleagues",
        type=int,
        default=COLLEAGUES,
        help="other professionals of the organisation with a finished intake",
    )
    args = parser.parse_args()

    if args.serve_bursts:
        _serve_bursts(args.serve_bursts, args.colleagues)
        return
    if args.against:
        _compare(args.against, args.rounds, args.burst, args.colleagues)
        return

    if args.child:
        import json
        from dataclasses import asdict

        with tempfile.TemporaryDirectory() as tmp:
            url = args.child.replace("{tmp}", tmp)
            timings = measure(prepare_database(url, Path(tmp), args.colleagues), args.runs)
        print(json.dumps([asdict(t) for t in timings]))
        return

    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            fixture = prepare_database(f"sqlite:///{tmp}/bench.db", Path(tmp), args.colleagues)
            print(profile(fixture, args.runs))
        return

    databases = {"SQLite": "sqlite:///{tmp}/bench.db"}
    if os.environ.get("DYADE_BENCH_POSTGRES_URL"):
        databases["PostgreSQL"] = os.environ["DYADE_BENCH_POSTGRES_URL"]
    results: dict[str, list[Timing]] = {}
    for name, url in databases.items():
        results[name] = _run_in_child(url, args.runs, args.colleagues)
        print("\n".join(_table(name, results[name])))
    if not args.no_docs:
        write_docs(results, args.runs, args.colleagues)
        print(f"Written to {DOCS.relative_to(REPO)}, section {SECTION!r}.")


if __name__ == "__main__":
    main()
