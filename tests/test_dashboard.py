"""The supervisor's dashboard: figures from crafted data, suppression, filters, CSV, access."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from app import i18n
from app.dashboards.summary import rebuild_totals, refresh_changes
from app.models import (
    FocusRelationship,
    InstrumentResponse,
    Organisation,
    ReflectionSession,
    Role,
    Team,
    TeamMembership,
    Trajectory,
    User,
    utcnow,
)
from tests.conftest import Cast, Client, make_user

SESSIONS = ("intake", "interview", "reflection", "consolidation", "post", "follow_up")
PHASES = {"intake": "baseline", "post": "post", "follow_up": "follow_up"}


def say(message: str, **variables: object) -> str:
    with i18n.using_locale("nl"):
        return i18n.gettext(message, **variables)


def page_text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def add_trajectory(
    db: Session,
    org: Organisation,
    professional: User,
    *,
    sector: str = "education",
    coach: User | None = None,
    started: datetime | None = None,
    closeness: tuple[float, float] | None = (3.0, 3.0),
    done: int = 6,
) -> Trajectory:
    """A trajectory with `done` finished sessions and closeness at intake and post."""
    focus = FocusRelationship(
        organisation_id=org.id,  # type: ignore[arg-type]
        professional_id=professional.id,  # type: ignore[arg-type]
        pseudonym="Geheimpje",
        sector=sector,
        age_band="8-11",
    )
    db.add(focus)
    db.flush()
    trajectory = Trajectory(
        organisation_id=org.id,  # type: ignore[arg-type]
        professional_id=professional.id,  # type: ignore[arg-type]
        focus_relationship_id=focus.id,  # type: ignore[arg-type]
        coach_id=coach.id if coach else None,
        programme_key="llinc",
        programme_version=1,
        status="completed" if done == len(SESSIONS) else "active",
        created_at=started or utcnow(),
    )
    db.add(trajectory)
    db.flush()
    for position, key in enumerate(SESSIONS, start=1):
        session = ReflectionSession(
            organisation_id=org.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            position=position,
            template_key=key,
            phase=PHASES.get(key, key),
            status="completed" if position <= done else "locked",
        )
        db.add(session)
        db.flush()
        if closeness is not None and key in ("intake", "post") and position <= done:
            db.add(
                InstrumentResponse(
                    organisation_id=org.id,  # type: ignore[arg-type]
                    session_id=session.id,  # type: ignore[arg-type]
                    trajectory_id=trajectory.id,  # type: ignore[arg-type]
                    step_key="relationship",
                    phase=PHASES[key],
                    instrument_key="relationship",
                    instrument_version=1,
                    answers={},
                    scores={"closeness": closeness[0 if key == "intake" else 1]},
                    completed_at=utcnow() + timedelta(seconds=position),
                )
            )
    db.flush()
    # Inserted past the service, so the summary rows and totals are rebuilt here.
    refresh_changes(db, trajectory_ids=[trajectory.id])  # type: ignore[list-item]
    rebuild_totals(db, organisation_id=org.id)  # type: ignore[arg-type]
    return trajectory


def professionals(db: Session, org: Organisation, n: int, prefix: str) -> list[User]:
    return [
        make_user(
            db, org, f"{prefix}{i}@{org.slug}.example", f"{prefix} {i}", [Role.professional], ""
        )
        for i in range(n)
    ]


CHANGES = (0.5, 1.0, 0.0, 1.5, 0.5, 1.5)  # mean +0.83, 95% CI 0.20 to 1.47, d_z 1.38


def six_with_known_change(db: Session, cast: Cast, coach: User | None = None) -> None:
    for person, change in zip(professionals(db, cast.org, 6, "edu"), CHANGES, strict=True):
        add_trajectory(db, cast.org, person, coach=coach, closeness=(3.0, 3.0 + change))
    db.commit()


def closeness_post(response: httpx.Response) -> str:
    match = re.search(
        r'data-cell="relationship-closeness-post">(.*?)</tr>', response.text, flags=re.S
    )
    assert match, "no closeness row"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def test_the_figures_match_crafted_data(client: Client, cast: Cast, db: Session) -> None:
    six_with_known_change(db, cast)
    page = client.login_as(cast.supervisor).get("/dashboard")
    assert page.status_code == 200
    row = closeness_post(page)
    # The effect chart has one bar: closeness after six weeks (d_z 1.38, to the right).
    effect = re.search(r'<svg[^>]*id="dashboard-effect-post".*?</svg>', page.text, re.S)
    assert effect and effect.group(0).count("<rect") == 1
    assert re.search(r"\b6\b", row)
    for figure in ("+0,83", "0,20", "1,47", "1,38"):
        assert figure in row, (figure, row)
    # 3 improved, 3 unchanged, 0 deteriorated: every class is small, so no share is shown.
    assert row.count(say("fewer than %(n)s", n=5)) == 2
    assert re.search(r'id="figure-professionals">\s*6\s*<', page.text)
    assert re.search(r'id="figure-completed">\s*6\s*<', page.text)
    # Follow-up was not measured: too few pairs, so hidden.
    assert "Geheimpje" not in page.text


def test_a_small_sector_is_hidden_and_the_totals_do_not_give_it_away(
    client: Client, cast: Cast, db: Session
) -> None:
    six_with_known_change(db, cast)
    for person in professionals(db, cast.org, 3, "care"):
        add_trajectory(db, cast.org, person, sector="childcare", done=2)
    db.commit()
    page = client.login_as(cast.supervisor).get("/dashboard")
    table = re.search(r'id="table-sectors">(.*?)</table>', page.text, flags=re.S)
    assert table
    # childcare (3) is hidden, and so is education (6): otherwise 9 − 6 = 3.
    assert re.findall(r"<td>\s*(\d+)\s*</td>", table.group(1)) == []
    assert say("fewer than %(n)s", n=5) in html.unescape(table.group(1))
    assert re.search(r'id="figure-professionals">\s*9\s*<', page.text)


def test_a_filter_that_leaves_out_a_small_group_is_withheld(
    client: Client, cast: Cast, db: Session
) -> None:
    six_with_known_change(db, cast)
    for person in professionals(db, cast.org, 3, "care"):
        add_trajectory(db, cast.org, person, sector="childcare")
    db.commit()
    client.login_as(cast.supervisor)
    education = client.get("/dashboard?sector=education")
    assert 'id="figure-professionals"' not in education.text
    assert "+0,83" not in education.text
    assert say(
        "Not shown: this selection differs from a wider one by fewer than %(n)s people.", n=5
    ) in page_text(education)


def test_filters_by_sector_coach_and_period(client: Client, cast: Cast, db: Session) -> None:
    six_with_known_change(db, cast, coach=cast.coach)
    long_ago = datetime(2024, 1, 15, tzinfo=UTC)
    for person in professionals(db, cast.org, 5, "care"):
        add_trajectory(
            db, cast.org, person, sector="childcare", coach=cast.other_coach, started=long_ago,
            closeness=(3.0, 2.0),
        )  # fmt: skip
    db.commit()
    client.login_as(cast.supervisor)

    def professionals_shown(query: str) -> str:
        match = re.search(r'id="figure-professionals">\s*(\d+)\s*<', client.get(query).text)
        return match.group(1) if match else ""

    assert professionals_shown("/dashboard") == "11"
    assert professionals_shown("/dashboard?sector=education") == "6"
    assert professionals_shown("/dashboard?sector=childcare") == "5"
    assert professionals_shown(f"/dashboard?coach={cast.other_coach.id}") == "5"
    assert professionals_shown("/dashboard?from=2024-01-01&to=2024-12-31") == "5"
    assert professionals_shown("/dashboard?from=2025-01-01") == "6"
    assert "+0,83" in closeness_post(client.get(f"/dashboard?coach={cast.coach.id}"))
    assert "\u22121,00" in closeness_post(client.get("/dashboard?sector=childcare"))
    # Unknown values are ignored, a bad date is explained.
    assert professionals_shown("/dashboard?sector=circus&coach=999999") == "11"
    bad = client.get("/dashboard?from=gisteren")
    assert bad.status_code == 200
    assert say("Enter the start date as YYYY-MM-DD, e.g. 2025-09-01.") in page_text(bad)
    fragment = client.get("/dashboard?sector=education", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="dashboard-results"' in fragment.text


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


def test_the_csv_matches_the_screen_and_neutralises_formulas(
    client: Client, cast: Cast, db: Session
) -> None:
    cast.coach.display_name = '=HYPERLINK("http://evil.example","klik")'
    db.add(cast.coach)
    six_with_known_change(db, cast, coach=cast.coach)
    client.login_as(cast.supervisor)
    rows = csv_rows(client.get(f"/dashboard/export.csv?coach={cast.coach.id}"))
    cohort = next(r for r in rows if r[1] == say("Coach cohort"))
    assert cohort[2].startswith("'=HYPERLINK")
    taking_part = next(r for r in rows if r[2] == say("Professionals taking part"))
    assert taking_part[4] == "6"
    closeness = next(
        r for r in rows if r[2].endswith(": Nabijheid") and r[3] == say("After six weeks")
    )
    n, mean, low, high, d_z, improved, deteriorated = closeness[4:11]
    assert (n, mean, low, high, d_z) == ("6", "0.833", "0.198", "1.469", "1.376")
    assert improved == deteriorated == say("fewer than %(n)s", n=5)
    # The same figures on the screen, rounded to two decimals.
    row = closeness_post(client.get(f"/dashboard?coach={cast.coach.id}"))
    for value in (mean, low, high, d_z):
        assert f"{float(value):.2f}".replace(".", ",") in row
    assert "Geheimpje" not in "\n".join(",".join(r) for r in rows)
    # A negative mean change is a number, not text: it is not given an apostrophe.
    page = client.get("/dashboard/export.csv")
    assert "'-" not in page.text


def xlsx_rows(response: httpx.Response) -> list[list[object]]:
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_the_xlsx_holds_the_same_figures_as_the_csv_and_runs_no_formula(
    client: Client, cast: Cast, db: Session
) -> None:
    cast.coach.display_name = '=HYPERLINK("http://evil.example","klik")'
    db.add(cast.coach)
    six_with_known_change(db, cast, coach=cast.coach)
    client.login_as(cast.supervisor)
    query = f"?coach={cast.coach.id}"
    response = client.get("/dashboard/export.xlsx" + query)
    assert response.status_code == 200
    rows = xlsx_rows(response)
    as_text = [["" if v is None else str(v) for v in row] for row in rows]
    trimmed = [
        row[: max(i + 1 for i, v in enumerate(row) if v) if any(row) else 0] for row in as_text
    ]
    expected = csv_rows(client.get("/dashboard/export.csv" + query))
    # The CSV marks a formula-like text with an apostrophe; the XLSX stores it as text.
    assert [[c.removeprefix("'") for c in row] for row in expected] == trimmed
    cohort = next(r for r in rows if r[1] == say("Coach cohort"))
    assert cohort[2] == '=HYPERLINK("http://evil.example","klik")'
    closeness = next(
        r for r in rows if str(r[2]).endswith(": Nabijheid") and r[3] == say("After six weeks")
    )
    assert closeness[4:9] == [6, 0.833, 0.198, 1.469, 1.376]  # numbers, not text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        xml = "".join(archive.read(n).decode() for n in sheets)
    assert "<f>" not in xml and "<f " not in xml  # no formula anywhere
    workbook = load_workbook(io.BytesIO(response.content))
    cell = next(c for row in workbook.active.iter_rows() for c in row if c.value == cohort[2])  # type: ignore[union-attr]
    assert cell.data_type == "s" and cell.quotePrefix


def test_a_small_organisation_sees_only_fewer_than_five(
    client: Client, cast: Cast, db: Session
) -> None:
    for person in professionals(db, cast.org, 3, "few"):
        add_trajectory(db, cast.org, person, closeness=(3.0, 4.0))
    db.commit()
    client.login_as(cast.supervisor)
    page = client.get("/dashboard")
    assert re.findall(r"<td>\s*(\d+)\s*</td>", page.text) == []
    # Only the organisation-wide number of accounts (6 in the cast) is big enough.
    assert re.findall(r'id="figure-[a-z]+">\s*\d', page.text) == ['id="figure-accounts">6']
    rows = csv_rows(client.get("/dashboard/export.csv"))
    numbers = [
        cell
        for row in rows[1:]
        if row[1] != say("Whole organisation")
        for cell in row[4:]
        if re.fullmatch(r"-?[\d.]+", cell)
    ]
    assert numbers == []
    sheet = xlsx_rows(client.get("/dashboard/export.xlsx"))
    shown = [
        v for row in sheet[1:] if row[1] != say("Whole organisation") for v in row[4:]
        if isinstance(v, int | float)
    ]  # fmt: skip
    assert shown == []


@pytest.mark.parametrize("role", ["professional", "coach", "admin", "outsider"])
@pytest.mark.parametrize("url", ["/dashboard", "/dashboard/export.csv", "/dashboard/export.xlsx"])
def test_only_supervisors_get_in(client: Client, cast: Cast, role: str, url: str) -> None:
    client.login_as(cast.by_role(role))
    assert client.get(url).status_code == 403


def test_a_supervisor_sees_only_their_own_organisation(
    client: Client, cast: Cast, db: Session
) -> None:
    six_with_known_change(db, cast)
    elsewhere = make_user(db, cast.other_org, "sup@elders.example", "S", [Role.supervisor], "")
    for person in professionals(db, cast.other_org, 2, "else"):
        add_trajectory(db, cast.other_org, person)
    db.commit()
    page = client.login_as(elsewhere).get("/dashboard")
    assert page.status_code == 200
    assert "+0,83" not in page.text
    assert not re.search(r'id="figure-professionals">\s*\d', page.text)
    assert cast.coach.display_name not in page_text(page)
    # Our coach as a filter from the other organisation is ignored, not a way in.
    other = client.get(f"/dashboard/export.csv?coach={cast.coach.id}").text
    assert "Carla" not in other


def test_the_running_totals_give_the_same_figures_as_a_selection_of_everyone(
    client: Client, cast: Cast, db: Session
) -> None:
    # The whole organisation is read from the running totals, a selection from the rows;
    # a period that holds everyone must show exactly the same figures.
    six_with_known_change(db, cast)
    for person, change in zip(professionals(db, cast.org, 7, "care"), range(7), strict=True):
        add_trajectory(db, cast.org, person, sector="childcare", closeness=(4.0, 4.0 - change / 4))
    db.commit()
    client.login_as(cast.supervisor)

    def figures(query: str) -> list[str]:
        text = client.get(query).text
        tables = re.findall(r'<table class="change-table".*?</table>', text, flags=re.S)
        funnel = re.search(r'id="table-funnel">(.*?)</table>', text, flags=re.S)
        assert tables and funnel
        return [re.sub(r"\s+", " ", t) for t in [*tables, funnel.group(1)]]

    everyone = figures("/dashboard")
    row = closeness_post(client.get("/dashboard"))
    assert re.search(r"\b13\b", row) and re.search(r"\d,\d\d", row)
    assert figures("/dashboard?from=2000-01-01") == everyone


def test_five_trajectories_of_one_person_are_one_person(
    client: Client, cast: Cast, db: Session
) -> None:
    # Six people stopped after the interview; one person did the whole programme five
    # times. The later sessions and the change are that one person's: hidden.
    for person in professionals(db, cast.org, 6, "stop"):
        add_trajectory(db, cast.org, person, done=2)
    keen = professionals(db, cast.org, 1, "keen")[0]
    for change in (0.5, 1.0, 1.5, 0.0, 2.0):
        add_trajectory(db, cast.org, keen, closeness=(3.0, 3.0 + change))
    db.commit()
    client.login_as(cast.supervisor)
    hidden = say("fewer than %(n)s", n=5)
    for query in ("/dashboard", "/dashboard?from=2000-01-01"):
        page = client.get(query)
        funnel = re.search(r'id="table-funnel">(.*?)</table>', page.text, flags=re.S)
        assert funnel, query
        shown = re.findall(r"<td>\s*(\d+)\s*</td>", funnel.group(1))
        assert shown == ["11", "11"], (query, shown)  # intake and interview: 7 people
        assert html.unescape(funnel.group(1)).count(hidden) == 4
        assert closeness_post(page).count(hidden) == 1, query
        assert re.search(r'id="figure-professionals">\s*7\s*<', page.text)
        # The charts show the same: bars for the two big steps, words for the rest.
        chart = re.search(r'<svg[^>]*id="dashboard-funnel".*?</svg>', page.text, flags=re.S)
        assert chart, query
        assert chart.group(0).count("<rect") == 2 and chart.group(0).count(hidden) == 4
        effect = re.search(r'<svg[^>]*id="dashboard-effect-post".*?</svg>', page.text, re.S)
        assert effect and "<rect" not in effect.group(0)  # every change row is hidden


# Teams and locations


def in_team(
    db: Session, org: Organisation, people: list[User], name: str, location: str = ""
) -> Team:
    team = Team(organisation_id=org.id, name=name, location=location)  # type: ignore[arg-type]
    db.add(team)
    db.flush()
    for person in people:
        db.add(TeamMembership(organisation_id=org.id, user_id=person.id, team_id=team.id))  # type: ignore[arg-type]
    db.flush()
    rebuild_totals(db, organisation_id=org.id)  # type: ignore[arg-type]
    db.commit()
    return team


def shown_professionals(client: Client, query: str) -> str:
    match = re.search(r'id="figure-professionals">\s*(\d+)\s*<', client.get(query).text)
    return match.group(1) if match else ""


def withheld(client: Client, query: str) -> bool:
    page = client.get(query)
    assert page.status_code == 200
    notice = say(
        "Not shown: this selection differs from a wider one by fewer than %(n)s people.", n=5
    )
    return notice in page_text(page) and 'id="figure-professionals"' not in page.text


def test_filters_by_team_and_location(client: Client, cast: Cast, db: Session) -> None:
    edu = professionals(db, cast.org, 6, "edu")
    for person, change in zip(edu, CHANGES, strict=True):
        add_trajectory(db, cast.org, person, closeness=(3.0, 3.0 + change))
    care = professionals(db, cast.org, 5, "care")
    for person in care:
        add_trajectory(db, cast.org, person, sector="childcare", closeness=(3.0, 2.0))
    groep = in_team(db, cast.org, edu, "Groep 3-4", "Noord")
    linde = in_team(db, cast.org, care, "De Linde", "Zuid")
    client.login_as(cast.supervisor)
    page = client.get("/dashboard")
    assert f'<option value="{groep.id}">Groep 3-4, locatie Noord</option>' in page_text(page)
    assert '<option value="Zuid">Zuid</option>' in page.text
    assert shown_professionals(client, f"/dashboard?team={groep.id}") == "6"
    assert "+0,83" in closeness_post(client.get(f"/dashboard?team={groep.id}"))
    assert shown_professionals(client, f"/dashboard?team={linde.id}") == "5"
    assert shown_professionals(client, "/dashboard?location=Zuid") == "5"
    assert "\u22121,00" in closeness_post(client.get("/dashboard?location=Zuid"))
    # Team and location together: the same five, compared with either filter alone.
    assert shown_professionals(client, f"/dashboard?team={linde.id}&location=Zuid") == "5"
    # A location that no team has, or another organisation's team, is ignored.
    assert shown_professionals(client, "/dashboard?location=Atlantis") == "11"
    theirs = in_team(db, cast.other_org, [], "Hun team", "Elders")
    assert shown_professionals(client, f"/dashboard?team={theirs.id}") == "11"
    assert "Hun team" not in client.get("/dashboard").text
    # The export names the selection and has the same figures.
    rows = csv_rows(client.get(f"/dashboard/export.csv?team={groep.id}"))
    assert [say("Selection"), say("Team"), "Groep 3-4, locatie Noord"] == rows[1][:3]
    taking_part = next(r for r in rows if r[2] == say("Professionals taking part"))
    assert taking_part[4] == "6"
    closeness = next(
        r for r in rows if r[2].endswith(": Nabijheid") and r[3] == say("After six weeks")
    )
    assert closeness[4:9] == ["6", "0.833", "0.198", "1.469", "1.376"]
    sheet = xlsx_rows(client.get("/dashboard/export.xlsx?location=Zuid"))
    assert [say("Selection"), say("Location"), "Zuid"] == sheet[1][:3]


def test_a_small_team_and_a_team_that_would_give_it_away_are_withheld(
    client: Client, cast: Cast, db: Session
) -> None:
    # Teams of 6, 3 and 6 people: the small team is hidden; showing both big teams would
    # give it away (15 − 6 − 6 = 3), so one of them is hidden too, as in a table.
    teams = []
    for name, n in (("A", 6), ("B", 3), ("C", 6)):
        people = professionals(db, cast.org, n, f"t{name}")
        for person in people:
            add_trajectory(db, cast.org, person)
        teams.append(in_team(db, cast.org, people, f"Team {name}"))
    client.login_as(cast.supervisor)
    assert shown_professionals(client, "/dashboard") == "15"
    a, b, c = (withheld(client, f"/dashboard?team={t.id}") for t in teams)
    assert b, "a team of three is shown"
    assert a != c, "both big teams shown (or both hidden without need)"
    # Without B the other two are safe: nothing is left over to recover.
    b_members = db.exec(select(TeamMembership).where(TeamMembership.team_id == teams[1].id)).all()
    for membership in b_members:
        db.delete(membership)
    db.flush()
    rebuild_totals(db, organisation_id=cast.org.id)  # type: ignore[arg-type]
    db.commit()
    # 3 people in no team now: "no team" is a small group of its own, so still one hidden.
    a, c = (withheld(client, f"/dashboard?team={t.id}") for t in (teams[0], teams[2]))
    assert a != c


def test_sectors_shown_one_by_one_do_not_give_a_small_sector_away(
    client: Client, cast: Cast, db: Session
) -> None:
    # 6 in education, 6 in youth care, 3 in childcare: the sector table hides childcare and
    # one big sector; the sector filter must not show both big ones either.
    for sector, n in (("education", 6), ("youth_care", 6), ("childcare", 3)):
        for person in professionals(db, cast.org, n, sector):
            add_trajectory(db, cast.org, person, sector=sector)
    db.commit()
    client.login_as(cast.supervisor)
    table = re.search(r'id="table-sectors">(.*?)</table>', client.get("/dashboard").text, re.S)
    assert table
    shown = [
        row for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S) if "<td>6</td>" in row
    ]
    assert len(shown) == 1  # one big sector in the table, the other hidden with childcare
    education = withheld(client, "/dashboard?sector=education")
    youth = withheld(client, "/dashboard?sector=youth_care")
    assert withheld(client, "/dashboard?sector=childcare")
    assert education != youth
    # The filter shows the same sector as the table, not the one the table hides.
    assert (say("Education (school)") in html.unescape(shown[0])) == (not education)
    # The same rule with another filter on: the breakdown is counted in that selection.
    assert withheld(client, "/dashboard?sector=childcare&from=2000-01-01")
    assert withheld(client, "/dashboard?sector=education&from=2000-01-01") == education


def test_the_team_filter_counts_people_not_trajectories(
    client: Client, cast: Cast, db: Session
) -> None:
    # One keen person with five trajectories is still one person: the team is hidden.
    keen = professionals(db, cast.org, 1, "keen")
    for _ in range(5):
        add_trajectory(db, cast.org, keen[0])
    others = professionals(db, cast.org, 8, "rest")
    for person in others:
        add_trajectory(db, cast.org, person)
    team = in_team(db, cast.org, keen, "Solo")
    client.login_as(cast.supervisor)
    assert withheld(client, f"/dashboard?team={team.id}")
    rows = csv_rows(client.get(f"/dashboard/export.csv?team={team.id}"))
    assert not any(r[2] == say("Professionals taking part") for r in rows)
