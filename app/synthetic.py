"""Synthetic organisations for load tests and benchmarks: `python -m app synthetic`.

Realistic in shape, not in content: professionals with one trajectory each (a few with
two) through the shipped programme, sessions that stop at every step of the funnel,
questionnaire answers drawn around a person's own level with a modest improvement after
the reflection, and the summary rows the dashboard reads. No narrative text is made.

Everything is written with bulk INSERTs of prepared rows (explicit ids, executemany in
chunks), never one ORM object per row: 10,000 professionals and about a million item
answers take well under a minute on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.engine import Engine

from app.dashboards.summary import (
    ScoredResponse,
    account_rows,
    add_to_totals,
    breakdown_rows,
    change_rows,
    change_sums,
    funnel_sums,
    merge_sums,
    participation_rows,
)
from app.instruments.loader import builtin_definition
from app.instruments.schema import InstrumentDefinition
from app.instruments.scoring import score_response
from app.models import (
    CoachAssignment,
    DashboardTotal,
    FocusRelationship,
    InstrumentResponse,
    Organisation,
    ReflectionSession,
    Role,
    SubscaleChange,
    Team,
    TeamMembership,
    Trajectory,
    User,
    UserRole,
)
from app.models.reflection import AgeBand, Sector
from app.programmes.loader import builtin_programme

DEFAULT_PASSWORD: Final = "synthetic-demo-2026"  # noqa: S105 - printed for test logins
#: How far trajectories got: completed sessions (0 = the intake is in progress) → weight.
PROGRESS: Final = {0: 3, 1: 7, 2: 6, 3: 5, 4: 6, 5: 14, 6: 59}
SECTOR_WEIGHTS: Final = {
    Sector.education: 40,
    Sector.childcare: 20,
    Sector.youth_care: 20,
    Sector.disability: 15,
    Sector.family_home: 5,
}
PROFESSIONALS_PER_COACH: Final = 40
PROFESSIONALS_PER_TEAM: Final = 50
LOCATIONS: Final = ("Noord", "Zuid", "Oost", "West", "Centrum")
#: Share of professionals in no team (new, between teams, or the team is not entered).
WITHOUT_TEAM: Final = 0.05
CHUNK: Final = 5000


@dataclass
class Counts:
    organisations: int = 0
    professionals: int = 0
    coaches: int = 0
    teams: int = 0
    trajectories: int = 0
    sessions: int = 0
    responses: int = 0
    item_answers: int = 0
    summary_rows: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)  # (email, role)


def _next_ids(connection: Connection, tables: Iterable[Table]) -> dict[str, int]:
    return {
        t.name: int(connection.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()) + 1
        for t in tables
    }


def _insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        connection.execute(table.insert(), rows[start : start + CHUNK])


def _answers(
    definition: InstrumentDefinition, levels: dict[str, float], rng: random.Random, share: float
) -> dict[str, int]:
    """Item answers around the person's keyed level per subscale; `share` of the items."""
    scale = definition.scale
    assert scale is not None
    answers: dict[str, int] = {}
    for item in definition.items:
        if share < 1 and rng.random() > share:
            continue
        keyed = round(levels[item.subscale] + rng.gauss(0, 0.6))
        keyed = min(scale.max, max(scale.min, keyed))
        answers[item.key] = scale.min + scale.max - keyed if item.keying == "negative" else keyed
    return answers


def generate(
    engine: Engine,
    *,
    professionals: int,
    organisations: int = 1,
    slug: str = "synthetic",
    seed: int = 1,
    password_hash: str = "",
    now: datetime | None = None,
) -> Counts:
    """Add `organisations` organisations sharing `professionals` professionals between them."""
    rng = random.Random(seed)  # nosec B311 - synthetic data, reproducible by seed
    # Teams draw from their own generator, so the rest of the data is as it was before.
    team_rng = random.Random(seed + 1)  # nosec B311
    now = now or datetime.now(UTC)
    programme = builtin_programme("llinc")
    offsets = programme.suggested_offsets()
    templates = list(programme.sessions)
    instruments = {
        step.instrument: builtin_definition(step.instrument)
        for s in templates
        for step in s.steps
        if step.instrument
    }
    models: tuple[Any, ...] = (
        Organisation,
        User,
        UserRole,
        CoachAssignment,
        Team,
        TeamMembership,
        FocusRelationship,
        Trajectory,
        ReflectionSession,
        InstrumentResponse,
        SubscaleChange,
        DashboardTotal,
    )
    tables: dict[str, Table] = {m.__table__.name: m.__table__ for m in models}
    counts = Counts()
    with engine.begin() as connection:
        ids = _next_ids(connection, [t for t in tables.values() if "id" in t.c])
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}

        def new_id(table: str) -> int:
            value = ids[table]
            ids[table] += 1
            return value

        sectors, sector_weights = zip(*SECTOR_WEIGHTS.items(), strict=True)
        progress_values, progress_weights = zip(*PROGRESS.items(), strict=True)
        bands = [b.value for b in AgeBand]
        per_org = [professionals // organisations] * organisations
        per_org[0] += professionals - sum(per_org)
        for number, size in enumerate(per_org, start=1):
            org_slug = slug if organisations == 1 else f"{slug}-{number}"
            domain = f"{org_slug}.example"
            org_id = new_id("organisation")
            rows["organisation"].append(
                {"id": org_id, "name": f"Synthetic organisation {number}", "slug": org_slug}
            )
            counts.organisations += 1

            def person(
                key: str, name: str, role: Role, org_id: int = org_id, domain: str = domain
            ) -> int:
                user_id = new_id("app_user")
                rows["app_user"].append(
                    {
                        "id": user_id,
                        "organisation_id": org_id,
                        "email": f"{key}@{domain}",
                        "display_name": name,
                        "password_hash": password_hash or None,
                        "locale": "nl",
                    }
                )
                rows["user_role"].append(
                    {"id": new_id("user_role"), "organisation_id": org_id, "user_id": user_id,
                     "role": role.value}
                )  # fmt: skip
                return user_id

            for key, role in (("admin", Role.admin), ("supervisor", Role.supervisor)):
                person(key, key.title(), role)
                counts.logins.append((f"{key}@{domain}", role.value))
            coach_ids = [
                person(f"coach{c}", f"Coach {c}", Role.coach)
                for c in range(1, max(2, size // PROFESSIONALS_PER_COACH) + 1)
            ]
            counts.coaches += len(coach_ids)
            counts.logins.append((f"coach1@{domain}", Role.coach.value))
            team_ids = []
            for t in range(1, max(2, size // PROFESSIONALS_PER_TEAM) + 1):
                team_ids.append(new_id("team"))
                rows["team"].append(
                    {"id": team_ids[-1], "organisation_id": org_id, "name": f"Team {t}",
                     "location": LOCATIONS[(t - 1) % len(LOCATIONS)], "created_at": now}
                )  # fmt: skip
            counts.teams += len(team_ids)
            scored: list[ScoredResponse] = []
            owner: dict[int, int] = {}
            for p in range(1, size + 1):
                professional_id = person(f"p{p}", f"Professional {p}", Role.professional)
                counts.professionals += 1
                coach_id = coach_ids[(p - 1) % len(coach_ids)]
                if team_rng.random() >= WITHOUT_TEAM:
                    rows["team_membership"].append(
                        {"user_id": professional_id, "organisation_id": org_id,
                         "team_id": team_rng.choice(team_ids), "created_at": now}
                    )  # fmt: skip
                rows["coach_assignment"].append(
                    {"id": new_id("coach_assignment"), "organisation_id": org_id,
                     "coach_id": coach_id, "professional_id": professional_id}
                )  # fmt: skip
                for _ in range(2 if rng.random() < 0.05 else 1):
                    trajectory_id = _trajectory(
                        rows,
                        new_id,
                        rng,
                        now=now,
                        org_id=org_id,
                        professional_id=professional_id,
                        coach_id=coach_id,
                        sector=rng.choices(sectors, sector_weights)[0].value,
                        age_band=rng.choice(bands),
                        progress=rng.choices(progress_values, progress_weights)[0],
                        templates=templates,
                        offsets=offsets,
                        instruments=instruments,
                        scored=scored,
                        counts=counts,
                    )
                    owner[trajectory_id] = professional_id
            rows["subscale_change"] += [
                {"id": new_id("subscale_change"), **row}
                for row in change_rows(scored, owner, org_id)
            ]
        counts.summary_rows = len(rows["subscale_change"])
        for name, table in tables.items():
            _insert(connection, table, rows[name])
        # The running totals of the new organisations (sessions counted in SQL).
        added = {row["id"] for row in rows["organisation"]}
        funnel = {k: v for k, v in funnel_sums(connection).items() if k[0] in added}
        add_to_totals(connection, merge_sums(change_sums(rows["subscale_change"]), funnel))
        counted = participation_rows(connection) + breakdown_rows(connection)
        counted += account_rows(connection)
        participation = [r for r in counted if r["organisation_id"] in added]
        _insert(connection, tables["dashboard_total"], participation)
        if connection.dialect.name == "postgresql":
            for name, table in tables.items():
                if "id" not in table.c:
                    continue
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 - our table names # nosec B608
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
    return counts


def _trajectory(
    rows: dict[str, list[dict[str, Any]]],
    new_id: Any,
    rng: random.Random,
    *,
    now: datetime,
    org_id: int,
    professional_id: int,
    coach_id: int,
    sector: str,
    age_band: str,
    progress: int,
    templates: list[Any],
    offsets: dict[str, int],
    instruments: dict[str, InstrumentDefinition],
    scored: list[ScoredResponse],
    counts: Counts,
) -> int:
    """One focus relationship and trajectory with its sessions and questionnaire answers."""
    started = now - timedelta(days=rng.randint(30, 3 * 365), minutes=rng.randint(0, 1440))
    focus_id = new_id("focus_relationship")
    rows["focus_relationship"].append(
        {"id": focus_id, "organisation_id": org_id, "professional_id": professional_id,
         "pseudonym": f"Kind {focus_id}", "sector": sector, "age_band": age_band,
         "created_at": started, "updated_at": started}
    )  # fmt: skip
    trajectory_id = new_id("trajectory")
    skip_optional = rng.random() < 0.3
    # Each session's day: the suggested one plus a little delay that adds up.
    delay = 0
    days: list[int] = []
    for template in templates:
        delay += rng.randint(0, 6)
        days.append(offsets[template.key] + delay)
    elapsed = (now - started).days
    done = 0
    for index, day in enumerate(days):
        if index >= progress or day > elapsed:
            break
        done = index + 1
    # People level per subscale (on the keyed answer scale) and their change.
    levels: dict[str, dict[str, float]] = {}
    change: dict[str, dict[str, float]] = {}
    for key, definition in instruments.items():
        assert definition.scale is not None
        middle = (definition.scale.min + definition.scale.max) / 2
        levels[key] = {s.key: middle + rng.gauss(0, 0.7) for s in definition.subscales}
        change[key] = {
            s.key: (0.35 if s.higher_is_better else -0.35) + rng.gauss(0, 0.5)
            for s in definition.subscales
        }
    completed_all = done == len(templates)
    last_day = days[done - 1] if done else 0
    rows["trajectory"].append(
        {"id": trajectory_id, "organisation_id": org_id, "professional_id": professional_id,
         "focus_relationship_id": focus_id, "coach_id": coach_id, "programme_key": "llinc",
         "programme_version": 1, "status": "completed" if completed_all else "active",
         "consent_at": started, "research_consent": rng.random() < 0.6, "created_at": started,
         "completed_at": started + timedelta(days=last_day) if completed_all else None,
         "last_activity_at": started + timedelta(days=last_day)}
    )  # fmt: skip
    counts.trajectories += 1
    for index, (template, day) in enumerate(zip(templates, days, strict=True)):
        position = index  # numbered from 0, as start_trajectory does
        at = started + timedelta(days=day, hours=rng.randint(0, 8))
        if index < done:
            status = "skipped" if template.optional and skip_optional else "completed"
            if status == "completed" and rng.random() < 0.5:
                status = "reviewed"
        elif index == done:
            status = "in_progress" if rng.random() < 0.5 else "open"
        else:
            status = "locked"
        session_id = new_id("reflection_session")
        finished = status in ("completed", "reviewed")
        rows["reflection_session"].append(
            {"id": session_id, "organisation_id": org_id, "trajectory_id": trajectory_id,
             "position": position, "template_key": template.key, "phase": template.phase,
             "status": status, "started_at": at if finished or status == "in_progress" else None,
             "completed_at": at + timedelta(minutes=40) if finished else None,
             "last_activity_at": at if finished or status == "in_progress" else None}
        )  # fmt: skip
        counts.sessions += 1
        if not (finished or status == "in_progress"):
            continue
        factor = {"post": 1.0, "follow_up": 0.8}.get(template.phase, 0.0)
        for step in template.steps:
            if not step.instrument:
                continue
            definition = instruments[step.instrument]
            key = definition.key
            at_level = {s: level + factor * change[key][s] for s, level in levels[key].items()}
            answers = _answers(definition, at_level, rng, 1.0 if finished else 0.5)
            if not answers:
                continue
            scores = {k: s.value for k, s in score_response(definition, answers).items()}
            response_id = new_id("instrument_response")
            completed_at = at + timedelta(minutes=20) if finished else None
            rows["instrument_response"].append(
                {"id": response_id, "organisation_id": org_id, "session_id": session_id,
                 "trajectory_id": trajectory_id, "step_key": step.key, "phase": template.phase,
                 "instrument_key": key, "instrument_version": definition.version,
                 "answers": answers, "scores": scores, "completed_at": completed_at,
                 "updated_at": completed_at or at}
            )  # fmt: skip
            counts.responses += 1
            counts.item_answers += len(answers)
            if completed_at is not None:
                scored.append(
                    ScoredResponse(
                        trajectory_id, key, template.phase, scores, completed_at, response_id
                    )
                )
            if not finished:
                break  # an intake in progress: the first questionnaire half done
    return trajectory_id
