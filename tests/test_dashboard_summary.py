"""The dashboard's summary rows and running totals: kept up to date by the services, rebuilt
by the migration, made by the synthetic generator, and the same figures either way."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import synthetic
from app.cli import main
from app.dashboards.stats import paired_change, paired_change_from_sums
from app.dashboards.summary import rebuild_totals, refresh_changes
from app.db import get_engine, make_engine
from app.instruments.loader import builtin_definition
from app.models import (
    DashboardTotal,
    FocusRelationship,
    InstrumentResponse,
    Organisation,
    ReflectionSession,
    SessionStatus,
    SubscaleChange,
    Team,
    TeamMembership,
    Trajectory,
    User,
)
from tests.conftest import Cast, Client
from tests.test_reflection import answer_instrument, do_intake, start

ROOT = Path(__file__).resolve().parent.parent


def totals(db: Session, organisation_id: int) -> dict[tuple[str, str], tuple[Any, ...]]:
    db.expire_all()
    rows = db.exec(
        select(DashboardTotal).where(DashboardTotal.organisation_id == organisation_id)
    ).all()
    return {
        (t.kind, t.cell): (t.n, t.people, t.completed, t.completed_people, round(t.total, 9),
                           round(t.squares, 9), t.judged, t.improved, t.deteriorated)
        for t in rows
        if t.n
    }  # fmt: skip


def summary_rows(db: Session, organisation_id: int) -> set[tuple[Any, ...]]:
    rows = db.exec(
        select(SubscaleChange).where(SubscaleChange.organisation_id == organisation_id)
    ).all()
    return {
        (r.trajectory_id, r.professional_id, r.instrument_key, r.subscale_key, r.comparison,
         round(r.change, 9), r.reliable)
        for r in rows
    }  # fmt: skip


def test_finishing_sessions_keeps_the_summary_and_totals_up_to_date(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, sessions = start(client, db)
    assert totals(db, cast.org.id)[("participation", "sector/education")][:2] == (1, 1)  # type: ignore[arg-type]
    do_intake(client, sessions["intake"].id)  # every item 3
    assert totals(db, cast.org.id)[("funnel", "0/intake")][0] == 1  # type: ignore[arg-type]
    assert summary_rows(db, cast.org.id) == set()  # type: ignore[arg-type]
    # Skip ahead to the post measurement and answer it differently.
    post = db.get(ReflectionSession, sessions["post"].id)
    assert post is not None
    post.status = SessionStatus.open
    db.add(post)
    db.commit()
    for step in ("relationship", "efficacy", "strain", "empathy"):
        answer_instrument(client, post.id, step, value=4)  # type: ignore[arg-type]
    # The change counts as soon as the questionnaires are done; the session is finished
    # (and counted in the funnel) after its last step.
    assert ("funnel", "4/post") not in totals(db, cast.org.id)  # type: ignore[arg-type]
    assert summary_rows(db, cast.org.id)  # type: ignore[arg-type]
    response = client.post(
        f"/sessions/{post.id}/steps/three_words",
        data={
            "csrf_token": client.csrf(),
            "words": ["rustig", "warm", "open"],
            "text": "In de kring…",
            "version": "0",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]
    db.expire_all()
    assert db.get(ReflectionSession, post.id).status == SessionStatus.completed  # type: ignore[union-attr]

    rows = summary_rows(db, cast.org.id)  # type: ignore[arg-type]
    instruments = ("relationship", "efficacy", "strain", "empathy")
    subscales = sum(len(builtin_definition(k).subscales) for k in instruments)
    assert len(rows) == subscales
    assert {r[4] for r in rows} == {"post"} and {r[0] for r in rows} == {trajectory.id}
    closeness = next(r for r in rows if r[3] == "closeness")
    scores = {
        r.phase: r.scores["closeness"]
        for r in db.exec(
            select(InstrumentResponse).where(
                InstrumentResponse.trajectory_id == trajectory.id,
                InstrumentResponse.instrument_key == "relationship",
            )
        )
    }
    assert closeness[5] == pytest.approx(scores["post"] - scores["baseline"])
    kept = totals(db, cast.org.id)  # type: ignore[arg-type]
    assert kept[("funnel", "4/post")][0] == 1
    assert kept[("change", "relationship/closeness/post")][0] == 1
    # What the services kept equals a rebuild from the base tables.
    rebuild_totals(db, organisation_id=cast.org.id)  # type: ignore[arg-type]
    db.commit()
    assert totals(db, cast.org.id) == kept  # type: ignore[arg-type]
    # Rebuilding one trajectory's rows again changes nothing.
    refresh_changes(db, trajectory_ids=[trajectory.id])  # type: ignore[list-item]
    db.commit()
    assert totals(db, cast.org.id) == kept and summary_rows(db, cast.org.id) == rows  # type: ignore[arg-type]


def test_the_synthetic_generator_makes_consistent_data_the_dashboard_shows(
    client: Client, cast: Cast, db: Session
) -> None:
    counts = synthetic.generate(
        get_engine(), professionals=40, organisations=2, slug="synth", seed=3,
        now=datetime(2026, 6, 1, tzinfo=UTC),
    )  # fmt: skip
    assert (counts.organisations, counts.professionals) == (2, 40)
    orgs = db.exec(select(Organisation).where(col(Organisation.slug).startswith("synth"))).all()
    assert sorted(o.slug for o in orgs) == ["synth-1", "synth-2"]
    ids = [o.id for o in orgs]

    def count(model: Any) -> int:
        return db.exec(
            select(func.count()).select_from(model).where(col(model.organisation_id).in_(ids))
        ).one()

    assert count(Trajectory) == counts.trajectories >= 40
    assert count(FocusRelationship) == counts.trajectories
    assert count(ReflectionSession) == counts.sessions == 6 * counts.trajectories
    assert count(InstrumentResponse) == counts.responses
    # Teams at locations, and most professionals in one of their own organisation's teams.
    assert count(Team) == counts.teams >= 2
    members = db.exec(
        select(TeamMembership.user_id, Team.organisation_id, User.organisation_id)
        .join(Team, col(Team.id) == col(TeamMembership.team_id))
        .join(User, col(User.id) == col(TeamMembership.user_id))
        .where(col(TeamMembership.organisation_id).in_(ids))
    ).all()
    assert len(members) >= 30 and all(t == u for _, t, u in members)
    assert all(t.location for t in db.exec(select(Team).where(col(Team.organisation_id).in_(ids))))
    answers = db.exec(
        select(InstrumentResponse.answers).where(col(InstrumentResponse.organisation_id).in_(ids))
    ).all()
    assert sum(len(a) for a in answers) == counts.item_answers
    # Every trajectory belongs to a professional of its own organisation.
    mismatched = db.exec(
        select(func.count())
        .select_from(Trajectory)
        .join(User, col(User.id) == col(Trajectory.professional_id))
        .where(
            col(Trajectory.organisation_id).in_(ids),
            col(User.organisation_id) != col(Trajectory.organisation_id),
        )
    ).one()
    assert mismatched == 0
    # The summary rows and totals are what the app itself would compute.
    for org_id in ids:
        made, kept = summary_rows(db, org_id), totals(db, org_id)  # type: ignore[arg-type]
        assert made and len(made) <= counts.summary_rows
        trajectory_ids = db.exec(select(Trajectory.id).where(Trajectory.organisation_id == org_id))
        refresh_changes(db, trajectory_ids=list(trajectory_ids))  # type: ignore[arg-type]
        rebuild_totals(db, organisation_id=org_id)  # type: ignore[arg-type]
        db.commit()
        assert summary_rows(db, org_id) == {r for r in made}  # type: ignore[arg-type]
        assert totals(db, org_id) == kept  # type: ignore[arg-type]

    supervisor = db.exec(select(User).where(User.email == "supervisor@synth-1.example")).one()
    page = client.login_as(supervisor).get("/dashboard")
    assert page.status_code == 200
    assert re.search(r'id="figure-professionals">\s*20\s*<', page.text)
    row = re.search(r'data-cell="relationship-closeness-post">(.*?)</tr>', page.text, re.S)
    assert row and re.search(r"\d,\d\d", row.group(1)), "no change figures shown"
    assert "Kind " not in page.text  # no child's pseudonym


def test_the_synthetic_command_adds_an_organisation_once(
    capsys: pytest.CaptureFixture[str], cast: Cast
) -> None:
    assert main(["synthetic", "--professionals", "6", "--slug", "cli-synth"]) == 0
    out = capsys.readouterr().out
    assert "6 professionals" in out and "supervisor@cli-synth.example" in out
    assert main(["synthetic", "--professionals", "6", "--slug", "cli-synth"]) == 1


def test_the_migration_backfills_summary_rows_and_totals(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'backfill.db'}")
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))

    def alembic(*args: str) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, args[0])(config, *args[1:])

    alembic("upgrade", "head")
    counts = synthetic.generate(engine, professionals=8, slug="oud", seed=5)
    with Session(engine) as session:
        org_id = session.exec(select(Organisation.id).where(Organisation.slug == "oud")).one()
        made, kept = summary_rows(session, org_id), totals(session, org_id)  # type: ignore[arg-type]
    assert made and counts.summary_rows == len(made) and kept
    # Back to before the summary existed (its tables dropped), and up again: the backfill
    # computes the same rows (ids aside) and totals from the responses and sessions.
    # The teams went with the downgrade, so per team and location everyone is now in
    # cell "" (no team); the backfill counts that as a rebuild from the base tables does.
    alembic("downgrade", "0008")
    alembic("upgrade", "head")
    by_team = ("team", "location")
    with Session(engine) as session:
        assert summary_rows(session, org_id) == made  # type: ignore[arg-type]
        backfilled = totals(session, org_id)  # type: ignore[arg-type]
        assert {k: v for k, v in backfilled.items() if k[0] not in by_team} == {
            k: v for k, v in kept.items() if k[0] not in by_team
        }
        assert {k for k in backfilled if k[0] in by_team} == {("team", ""), ("location", "")}
        rebuild_totals(session, organisation_id=org_id)  # type: ignore[arg-type]
        session.commit()
        assert totals(session, org_id) == backfilled  # type: ignore[arg-type]
    engine.dispose()


pair = st.tuples(
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.floats(min_value=0, max_value=100, allow_nan=False),
)


@given(st.lists(pair, min_size=1, max_size=60), st.booleans())
def test_the_figures_from_sums_equal_the_figures_from_pairs(
    pairs: list[tuple[float, float]], know_spread: bool
) -> None:
    changes = [b - a for a, b in pairs]
    direct = paired_change(pairs)
    summed = paired_change_from_sums(
        n=len(changes),
        total=sum(changes),
        total_squares=sum(c * c for c in changes),
        no_spread=(min(changes) == max(changes)) if know_spread else None,
    )
    assert summed.n == direct.n
    assert summed.mean == pytest.approx(direct.mean, abs=1e-9)
    if direct.sd is None:
        assert summed.sd is None and summed.ci_low is None
        return
    assert summed.sd == pytest.approx(direct.sd, rel=1e-6, abs=1e-6)
    assert summed.ci_low == pytest.approx(direct.ci_low, rel=1e-6, abs=1e-5)
    assert summed.ci_high == pytest.approx(direct.ci_high, rel=1e-6, abs=1e-5)
    if direct.sd == 0:
        assert summed.d_z is None  # every change the same: no effect size, not a huge one
    elif direct.d_z is not None and summed.d_z is not None and direct.sd > 1e-3:
        assert summed.d_z == pytest.approx(direct.d_z, rel=1e-5)


def test_the_same_change_for_everyone_has_no_effect_size() -> None:
    changes = [0.1] * 7  # 0.1 has no exact binary form: the sums leave a rounding residue
    summed = paired_change_from_sums(
        n=7, total=sum(changes), total_squares=sum(c * c for c in changes)
    )
    assert summed.sd == 0 and summed.d_z is None


def test_admin_changes_keep_the_accounts_coaches_and_teams_totals_right(
    client: Client, cast: Cast, db: Session, make_client: Any
) -> None:
    from tests.test_dashboard import add_trajectory

    org_id: int = cast.org.id  # type: ignore[assignment]
    add_trajectory(db, cast.org, cast.professional, coach=cast.coach)
    add_trajectory(db, cast.org, cast.unassigned_professional, coach=cast.other_coach)
    db.commit()
    admin = make_client()  # the supervisor keeps `client`
    admin.login_as(cast.admin)
    client.login_as(cast.supervisor)

    def accounts_shown() -> str:
        match = re.search(r'id="figure-accounts">\s*(\d+)\s*<', client.get("/dashboard").text)
        return match.group(1) if match else "hidden"

    def same_as_a_recount() -> dict[tuple[str, str], tuple[Any, ...]]:
        kept = totals(db, org_id)
        rebuild_totals(db, organisation_id=org_id)
        db.commit()
        assert totals(db, org_id) == kept
        return kept

    assert same_as_a_recount()[("accounts", "professional")][0] == 3
    for n in range(3):
        invite = {"display_name": f"Nieuw {n}", "email": f"nieuw{n}@anker.example",
                  "roles": "professional", "locale": "nl"}  # fmt: skip
        assert admin.post_form("/admin/users", invite).status_code == 303
    assert same_as_a_recount()[("accounts", "professional")][0] == 6
    assert accounts_shown() == "6"
    steps = [
        (f"/admin/users/{cast.multi.id}/roles", {"roles": ["coach"]}, 5),
        (f"/admin/users/{cast.multi.id}/roles", {"roles": ["coach", "professional"]}, 6),
        (f"/admin/users/{cast.unassigned_professional.id}/deactivate", {}, 5),
        (f"/admin/users/{cast.unassigned_professional.id}/reactivate", {}, 6),
        (f"/admin/users/{cast.multi.id}/erase", {"confirmation": cast.multi.email}, 5),
    ]
    for url, form, expected in steps:
        assert admin.post_form(url, form).status_code == 303, url
        assert same_as_a_recount()[("accounts", "professional")][0] == expected, url
    assert accounts_shown() == "5"
    # Coaches with trajectories, and teams and locations as the admin changes them.
    kept = same_as_a_recount()
    assert kept[("coach", str(cast.coach.id))][:2] == (1, 1)
    assert kept[("coach", str(cast.other_coach.id))][:2] == (1, 1)
    assert (
        admin.post_form("/admin/teams", {"name": "Groep 3", "location": "Noord"}).status_code == 303
    )
    team = db.exec(select(Team).where(Team.organisation_id == org_id)).one()
    url = f"/admin/users/{cast.professional.id}/team"
    assert admin.post_form(url, {"team_id": str(team.id)}).status_code == 303
    kept = same_as_a_recount()
    assert kept[("team", str(team.id))][:2] == (1, 1) and kept[("team", "")][:2] == (1, 1)
    assert kept[("location", "Noord")][:2] == (1, 1)
    moved = {"name": "Groep 3", "location": "Zuid"}
    assert admin.post_form(f"/admin/teams/{team.id}", moved).status_code == 303
    kept = same_as_a_recount()
    assert ("location", "Noord") not in kept and kept[("location", "Zuid")][:2] == (1, 1)
    assert admin.post_form(url, {"team_id": ""}).status_code == 303
    assert ("team", str(team.id)) not in same_as_a_recount()
