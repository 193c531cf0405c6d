"""Teams: the admin's pages (list, add, rename, remove), one team per professional, audit."""

from __future__ import annotations

import html

import pytest
from sqlmodel import Session, select

from app import i18n
from app.models import AuditEvent, Team, TeamMembership, User
from tests.conftest import Cast, Client


def say(message: str, **variables: object) -> str:
    with i18n.using_locale("nl"):
        return i18n.gettext(message, **variables)


def fresh(db: Session) -> Session:
    db.commit()
    db.expire_all()
    return db


def team_of(db: Session, user: User) -> int | None:
    row = fresh(db).get(TeamMembership, user.id)
    return row.team_id if row else None


def actions(db: Session) -> list[str]:
    return [e.action for e in fresh(db).exec(select(AuditEvent).order_by(AuditEvent.id)).all()]  # type: ignore[arg-type]


def add_team(db: Session, cast: Cast, name: str, location: str = "", org: object = None) -> Team:
    team = Team(organisation_id=(org or cast.org).id, name=name, location=location)  # type: ignore[attr-defined]
    db.add(team)
    db.commit()
    return team


@pytest.fixture
def admin(client: Client, cast: Cast) -> Client:
    return client.login_as(cast.admin)


def test_an_admin_adds_a_team_with_a_location_and_sees_it_listed(
    admin: Client, db: Session
) -> None:
    response = admin.post_form("/admin/teams", {"name": " Groep  3-4 ", "location": "Noord"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/teams"
    team = fresh(db).exec(select(Team)).one()
    assert (team.name, team.location) == ("Groep 3-4", "Noord")
    page = admin.get("/admin/teams")
    assert "Groep 3-4" in page.text and "Noord" in page.text
    assert say("Team %(team)s has been added.", team="Groep 3-4") in html.unescape(page.text)
    assert "team.create" in actions(db)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": "  ", "location": "Noord"}, "name", "Fill in the team's name."),
        ({"name": "x" * 121, "location": ""}, "name",
         "A name can be at most %(limit)s characters."),
        ({"name": "Groep 5", "location": "y" * 121}, "location",
         "A location can be at most %(limit)s characters."),
        ({"name": "groep 7-8", "location": "zuid"}, "name",
         "There is already a team with this name at this location."),
    ],
)  # fmt: skip
def test_the_team_form_explains_what_is_wrong_and_keeps_what_was_typed(
    admin: Client, cast: Cast, db: Session, values: dict[str, str], field: str, message: str
) -> None:
    add_team(db, cast, "Groep 7-8", "Zuid")
    response = admin.post_form("/admin/teams", values)
    assert response.status_code == 422
    assert f'<a href="#field-{field}">' in response.text
    assert say(message, limit=120) in html.unescape(response.text)
    for typed in values.values():
        if typed.strip():
            assert f'value="{html.escape(typed)}"' in response.text
    assert len(fresh(db).exec(select(Team)).all()) == 1


def test_the_same_name_at_another_location_is_another_team(
    admin: Client, cast: Cast, db: Session
) -> None:
    add_team(db, cast, "Groep 7-8", "Zuid")
    assert (
        admin.post_form("/admin/teams", {"name": "Groep 7-8", "location": "Noord"}).status_code
        == 303
    )
    assert len(fresh(db).exec(select(Team)).all()) == 2


def test_an_admin_renames_a_team_and_moves_it(admin: Client, cast: Cast, db: Session) -> None:
    team = add_team(db, cast, "Groep 3", "Noord")
    response = admin.post_form(f"/admin/teams/{team.id}", {"name": "Groep 3-4", "location": "Zuid"})
    assert response.status_code == 303
    fresh(db).refresh(team)
    assert (team.name, team.location) == ("Groep 3-4", "Zuid")
    bad = admin.post_form(f"/admin/teams/{team.id}", {"name": "", "location": "Oost"})
    assert bad.status_code == 422 and 'value="Oost"' in bad.text
    assert "team.update" in actions(db)


def test_a_professional_is_in_at_most_one_team(admin: Client, cast: Cast, db: Session) -> None:
    noord, zuid = add_team(db, cast, "Groep 3", "Noord"), add_team(db, cast, "Groep 8", "Zuid")
    url = f"/admin/users/{cast.professional.id}/team"
    page = admin.get(f"/admin/users/{cast.professional.id}")
    assert say("Not in a team.") in html.unescape(page.text)
    assert admin.post_form(url, {"team_id": str(noord.id)}).status_code == 303
    assert team_of(db, cast.professional) == noord.id
    page = admin.get(f"/admin/users/{cast.professional.id}")
    assert say("In team %(team)s, location %(location)s.", team="Groep 3", location="Noord") in (
        html.unescape(page.text)
    )
    assert admin.post_form(url, {"team_id": str(zuid.id)}).status_code == 303
    assert team_of(db, cast.professional) == zuid.id  # moved, not in two teams
    assert admin.post_form(url, {"team_id": ""}).status_code == 303
    assert team_of(db, cast.professional) is None
    events = fresh(db).exec(select(AuditEvent).where(AuditEvent.action == "user.team")).all()
    assert [e.subject_user_id for e in events] == [cast.professional.id] * 3


def test_only_professionals_are_put_in_a_team(admin: Client, cast: Cast, db: Session) -> None:
    team = add_team(db, cast, "Groep 3")
    response = admin.post_form(f"/admin/users/{cast.coach.id}/team", {"team_id": str(team.id)})
    assert response.status_code == 422
    assert say("Only professionals are in a team.") in html.unescape(response.text)
    bad = admin.post_form(f"/admin/users/{cast.professional.id}/team", {"team_id": "abc"})
    assert bad.status_code == 422
    assert team_of(db, cast.coach) is None and team_of(db, cast.professional) is None


def test_another_organisations_team_is_not_found_and_not_offered(
    admin: Client, cast: Cast, db: Session
) -> None:
    theirs = add_team(db, cast, "Hun team", "Elders", org=cast.other_org)
    url = f"/admin/users/{cast.professional.id}/team"
    assert admin.post_form(url, {"team_id": str(theirs.id)}).status_code == 404
    assert team_of(db, cast.professional) is None
    assert admin.get(f"/admin/teams/{theirs.id}").status_code == 404
    assert admin.post_form(f"/admin/teams/{theirs.id}/delete").status_code == 404
    assert "Hun team" not in admin.get("/admin/teams").text
    add_team(db, cast, "Ons team")
    assert "Hun team" not in admin.get(f"/admin/users/{cast.professional.id}").text


def test_a_team_with_people_in_it_is_removed_only_after_they_left(
    admin: Client, cast: Cast, db: Session
) -> None:
    team = add_team(db, cast, "Groep 3", "Noord")
    team_id = team.id
    admin.post_form(f"/admin/users/{cast.professional.id}/team", {"team_id": str(team_id)})
    refused = admin.post_form(f"/admin/teams/{team_id}/delete")
    assert refused.status_code == 422
    assert say(
        "Someone is still in this team. Take them out of it first, on their own page."
    ) in html.unescape(refused.text)
    assert cast.professional.display_name in refused.text  # who is still in it
    assert fresh(db).get(Team, team_id) is not None
    admin.post_form(f"/admin/users/{cast.professional.id}/team", {"team_id": ""})
    assert admin.post_form(f"/admin/teams/{team_id}/delete").status_code == 303
    db.expunge_all()
    assert fresh(db).get(Team, team_id) is None
    assert "team.delete" in actions(db)


def test_losing_the_professional_role_or_being_erased_takes_someone_out_of_their_team(
    admin: Client, cast: Cast, db: Session
) -> None:
    team = add_team(db, cast, "Groep 3")
    for person in (cast.professional, cast.unassigned_professional):
        admin.post_form(f"/admin/users/{person.id}/team", {"team_id": str(team.id)})
    admin.post_form(f"/admin/users/{cast.professional.id}/roles", {"roles": ["coach"]})
    assert team_of(db, cast.professional) is None
    confirmation = {"confirmation": cast.unassigned_professional.email}
    erased = admin.post_form(f"/admin/users/{cast.unassigned_professional.id}/erase", confirmation)
    assert erased.status_code == 303
    assert team_of(db, cast.unassigned_professional) is None


@pytest.mark.parametrize("role", ["professional", "coach", "supervisor"])
def test_only_admins_manage_teams(client: Client, cast: Cast, db: Session, role: str) -> None:
    team = add_team(db, cast, "Groep 3")
    client.login_as(cast.by_role(role))
    assert client.get("/admin/teams").status_code == 403
    assert client.post_form("/admin/teams", {"name": "Nieuw"}).status_code == 403
    assert client.post_form(f"/admin/teams/{team.id}/delete").status_code == 403
    assert len(fresh(db).exec(select(Team)).all()) == 1


def test_changing_a_team_needs_the_csrf_token(admin: Client, cast: Cast, db: Session) -> None:
    response = admin.post("/admin/teams", data={"name": "Groep 3"}, follow_redirects=False)
    assert response.status_code in (400, 403)
    assert fresh(db).exec(select(Team)).all() == []
