"""The admin pages: inviting people, roles, coach assignments, the outbox and the audit trail."""

from __future__ import annotations

import html

import httpx
import pytest
from sqlmodel import Session, col, select

from app import i18n
from app.config import get_settings
from app.models import AuditEvent, CoachAssignment, OutboxMessage, Role, User, UserRole
from tests.conftest import Cast, Client

HTMX = {"HX-Request": "true"}


def say(message: str, locale: str = "nl", **variables: object) -> str:
    """A message as the app shows it in this language."""
    with i18n.using_locale(locale):
        return i18n.gettext(message, **variables)


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def fresh(db: Session) -> Session:
    """The test's session, ready to see what the app has committed since."""
    db.commit()
    db.expire_all()
    return db


def roles_of(db: Session, user: User) -> set[str]:
    statement = select(UserRole.role).where(UserRole.user_id == user.id)
    return set(fresh(db).exec(statement).all())


def assignments(db: Session) -> set[tuple[int, int]]:
    rows = fresh(db).exec(select(CoachAssignment.coach_id, CoachAssignment.professional_id))
    return set(rows.all())


def count_users(db: Session) -> int:
    return len(fresh(db).exec(select(User.id)).all())


@pytest.fixture
def admin(client: Client, cast: Cast) -> Client:
    return client.login_as(cast.admin)


# Inviting people


GOOD_INVITE = {
    "display_name": "Nina Nieuw",
    "email": "nina@anker.example",
    "roles": "professional",
    "locale": "nl",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"display_name": "   "}, "display_name", "Fill in the person's name."),
        (
            {"email": "nina-at-anker"},
            "email",
            "This is not a valid email address, for example name@school.nl.",
        ),
        (
            {"email": "prof@anker.example"},
            "email",
            "There is already an account with this email address.",
        ),
        (
            {"email": "PROF@Anker.Example"},
            "email",
            "There is already an account with this email address.",
        ),
        ({"roles": []}, "roles", "Choose at least one role."),
    ],
)
def test_the_invite_form_explains_what_is_wrong_and_keeps_what_was_typed(
    admin: Client, db: Session, change: dict[str, object], field: str, message: str
) -> None:
    before = count_users(db)
    data = {**GOOD_INVITE, **change}

    response = admin.post_form("/admin/users", data)

    assert response.status_code == 422
    assert 'class="error-summary"' in response.text
    assert f'<a href="#field-{field}">{html.escape(say(message))}</a>' in response.text
    assert f'id="field-{field}"' in response.text
    for typed in ("display_name", "email"):
        if str(data[typed]).strip():
            assert f'value="{html.escape(str(data[typed]))}"' in response.text
    assert count_users(db) == before
    assert fresh(db).exec(select(OutboxMessage)).all() == []


def test_an_invitation_creates_an_account_with_the_chosen_roles(
    admin: Client, cast: Cast, db: Session
) -> None:
    data = {**GOOD_INVITE, "email": " Nina@Anker.Example ", "roles": ["coach", "professional"]}

    response = admin.post_form("/admin/users", data)

    assert response.status_code == 303
    nina = fresh(db).exec(select(User).where(User.email == "nina@anker.example")).one()
    assert response.headers["location"] == f"/admin/users/{nina.id}"
    assert nina.organisation_id == cast.org.id
    assert nina.password_hash is None
    assert roles_of(db, nina) == {"coach", "professional"}


# Roles and account status


def test_an_admin_can_change_someones_roles(admin: Client, cast: Cast, db: Session) -> None:
    response = admin.post_form(
        f"/admin/users/{cast.professional.id}/roles", {"roles": ["professional", "supervisor"]}
    )

    assert response.status_code == 303
    assert roles_of(db, cast.professional) == {"professional", "supervisor"}


def test_an_admin_cannot_take_away_their_own_admin_role(
    admin: Client, cast: Cast, db: Session
) -> None:
    response = admin.post_form(f"/admin/users/{cast.admin.id}/roles", {"roles": ["coach"]})

    assert response.status_code == 422
    assert say("You cannot take away your own admin role.") in text(response)
    assert roles_of(db, cast.admin) == {"admin"}


def test_an_admin_cannot_deactivate_themselves(admin: Client, cast: Cast, db: Session) -> None:
    response = admin.post_form(f"/admin/users/{cast.admin.id}/deactivate")

    assert response.status_code == 422
    assert say("You cannot deactivate your own account.") in text(response)
    assert fresh(db).get(User, cast.admin.id).is_active  # type: ignore[union-attr]
    assert admin.get("/home", follow_redirects=False).status_code == 200


def test_a_deactivated_account_can_be_reactivated(
    admin: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    assert admin.post_form(f"/admin/users/{cast.coach.id}/deactivate").status_code == 303
    assert fresh(db).get(User, cast.coach.id).is_active is False  # type: ignore[union-attr]

    response = admin.post_form(f"/admin/users/{cast.coach.id}/reactivate")

    assert response.status_code == 303
    coach = fresh(db).get(User, cast.coach.id)
    assert coach is not None
    assert coach.is_active
    assert coach.deactivated_at is None
    assert make_client().login_as(cast.coach).get("/coach").status_code == 200


# Coach assignments


def test_a_coach_can_be_assigned_to_a_professional(admin: Client, cast: Cast, db: Session) -> None:
    pia, carla = cast.unassigned_professional, cast.coach

    response = admin.post_form(f"/admin/users/{pia.id}/coaches", {"coach_id": str(carla.id)})

    assert response.status_code == 303
    assert (carla.id, pia.id) in assignments(db)
    assert "Carla Coach" in admin.get(f"/admin/users/{pia.id}").text


def test_assigning_the_same_coach_twice_is_harmless(admin: Client, cast: Cast, db: Session) -> None:
    before = assignments(db)

    response = admin.post_form(
        f"/admin/users/{cast.professional.id}/coaches", {"coach_id": str(cast.coach.id)}
    )

    assert response.status_code == 303
    assert assignments(db) == before


@pytest.mark.parametrize("who", ["supervisor", "unassigned_professional", "admin"])
def test_only_coaches_can_be_assigned(admin: Client, cast: Cast, db: Session, who: str) -> None:
    not_a_coach: User = getattr(cast, who)
    before = assignments(db)

    response = admin.post_form(
        f"/admin/users/{cast.professional.id}/coaches", {"coach_id": str(not_a_coach.id)}
    )

    assert response.status_code == 422
    assert say("This person is not a coach.") in text(response)
    assert assignments(db) == before


def test_an_assignment_can_be_removed(admin: Client, cast: Cast, db: Session) -> None:
    assignment = (
        fresh(db)
        .exec(
            select(CoachAssignment).where(CoachAssignment.professional_id == cast.professional.id)
        )
        .one()
    )

    response = admin.post_form(f"/admin/assignments/{assignment.id}/delete")

    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/users/{cast.professional.id}"
    assert (cast.coach.id, cast.professional.id) not in assignments(db)


def test_taking_away_the_coach_role_ends_their_assignments(
    admin: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    response = admin.post_form(f"/admin/users/{cast.coach.id}/roles", {"roles": ["supervisor"]})

    assert response.status_code == 303
    assert all(coach_id != cast.coach.id for coach_id, _ in assignments(db))
    assert make_client().login_as(cast.coach).get("/coach").status_code == 403


# The list of people


def test_the_people_list_filters_by_role(admin: Client) -> None:
    page = admin.get("/admin/users", params={"role": "coach"})

    assert page.status_code == 200
    for coach in ("Carla Coach", "Kees Coach", "Max Multi"):
        assert coach in page.text
    for other in ("Pim Prof", "Pia Prof", "Sien Sup", "Olga Coach"):
        assert other not in page.text


def test_the_people_list_searches_names_and_email_addresses(admin: Client) -> None:
    by_name = admin.get("/admin/users", params={"q": "pia"})
    by_email = admin.get("/admin/users", params={"q": "SUP@anker"})
    outsider = admin.get("/admin/users", params={"q": "elders"})

    assert "Pia Prof" in by_name.text
    assert "Pim Prof" not in by_name.text
    assert "Sien Sup" in by_email.text
    assert "Carla Coach" not in by_email.text
    assert "Olaf Outsider" not in outsider.text
    assert say("Nobody matches this search.") in text(outsider)


def test_an_htmx_search_returns_only_the_table(admin: Client) -> None:
    response = admin.get("/admin/users", params={"q": "pia"}, headers=HTMX)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="user-table">')
    assert "<html" not in response.text
    assert "Pia Prof" in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_an_htmx_search_without_matches_returns_only_the_table(admin: Client) -> None:
    response = admin.get("/admin/users", params={"q": "niemand"}, headers=HTMX)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="user-table">')
    assert "<html" not in response.text


# Another organisation's objects and other roles


def outsider_routes(cast: Cast, db: Session) -> list[tuple[str, str, dict[str, str]]]:
    """Every admin route that names an object, aimed at the other organisation's objects."""
    their_assignment = db.exec(
        select(CoachAssignment.id).where(CoachAssignment.organisation_id == cast.other_org.id)
    ).one()
    their_message = OutboxMessage(
        organisation_id=cast.other_org.id,
        to_address=cast.outsider.email,
        subject="Uitnodiging voor Elders",
        body_text="Geheim",
    )
    db.add(their_message)
    db.commit()
    them, ours = cast.outsider.id, cast.professional.id
    return [
        ("GET", f"/admin/users/{them}", {}),
        ("POST", f"/admin/users/{them}/roles", {"roles": "admin"}),
        ("POST", f"/admin/users/{them}/deactivate", {}),
        ("POST", f"/admin/users/{them}/reactivate", {}),
        ("POST", f"/admin/users/{them}/invitation", {}),
        ("POST", f"/admin/users/{them}/coaches", {"coach_id": str(cast.coach.id)}),
        ("POST", f"/admin/users/{ours}/coaches", {"coach_id": str(cast.outsider_coach.id)}),
        ("POST", f"/admin/assignments/{their_assignment}/delete", {}),
        ("GET", f"/admin/outbox/{their_message.id}", {}),
    ]


def test_another_organisations_objects_are_not_found(
    admin: Client, cast: Cast, db: Session
) -> None:
    before = (roles_of(db, cast.outsider), assignments(db))

    for method, url, data in outsider_routes(cast, db):
        response = admin.get(url) if method == "GET" else admin.post_form(url, data)
        assert response.status_code == 404, (method, url)
        assert "Olaf Outsider" not in response.text
        assert "Geheim" not in response.text

    outsider = fresh(db).get(User, cast.outsider.id)
    assert outsider is not None
    assert outsider.is_active
    assert (roles_of(db, cast.outsider), assignments(db)) == before
    assert fresh(db).exec(select(OutboxMessage)).all()[0].subject == "Uitnodiging voor Elders"


@pytest.mark.parametrize("role", ["professional", "coach", "supervisor"])
def test_other_roles_have_no_access_to_admin_pages(
    client: Client, cast: Cast, db: Session, role: str
) -> None:
    client.login_as(cast.by_role(role))
    before = count_users(db)

    for url in ("/admin/users", "/admin/users/new", f"/admin/users/{cast.other_coach.id}"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Kees Coach" not in response.text
    assert client.get("/admin/outbox").status_code == 403
    posted = client.post_form("/admin/users", GOOD_INVITE)
    assert posted.status_code == 403
    demoted = client.post_form(f"/admin/users/{cast.admin.id}/roles", {"roles": "coach"})
    assert demoted.status_code == 403
    assert count_users(db) == before
    assert roles_of(db, cast.admin) == {"admin"}


# The outbox


def test_the_outbox_shows_only_this_organisations_email(
    admin: Client, cast: Cast, db: Session
) -> None:
    db.add(
        OutboxMessage(
            organisation_id=cast.org.id, to_address="a@x.example", subject="Voor ons", body_text="."
        )
    )
    db.add(
        OutboxMessage(
            organisation_id=cast.other_org.id,
            to_address="b@x.example",
            subject="Voor hen",
            body_text=".",
        )
    )
    db.commit()

    page = admin.get("/admin/outbox")

    assert page.status_code == 200
    assert "Voor ons" in page.text
    assert "Voor hen" not in page.text


def test_the_outbox_does_not_exist_in_production(
    admin: Client, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = OutboxMessage(
        organisation_id=cast.org.id, to_address="a@x.example", subject="Voor ons", body_text="."
    )
    db.add(message)
    db.commit()
    assert admin.get(f"/admin/outbox/{message.id}").status_code == 200
    monkeypatch.setattr(get_settings(), "environment", "production")

    assert admin.get("/admin/outbox").status_code == 404
    assert admin.get(f"/admin/outbox/{message.id}").status_code == 404


# The audit trail


def test_viewing_and_changing_someone_is_recorded(admin: Client, cast: Cast, db: Session) -> None:
    assert admin.get(f"/admin/users/{cast.professional.id}").status_code == 200
    admin.post_form(
        f"/admin/users/{cast.professional.id}/roles", {"roles": ["professional", "coach"]}
    )

    events = fresh(db).exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()

    recorded = [(e.action, e.actor_id, e.subject_user_id, e.organisation_id) for e in events]
    assert recorded == [
        ("user.view", cast.admin.id, cast.professional.id, cast.org.id),
        ("user.roles", cast.admin.id, cast.professional.id, cast.org.id),
    ]
    assert all(e.actor_role == str(Role.admin) for e in events)
    assert "coach" in events[1].detail
