"""Role × route: every route of the app, what each kind of visitor gets.

A new route fails `test_every_route_is_in_the_matrix` until it is added here, so nothing
becomes reachable by accident. "outsider" is an admin of another organisation: on another
tenant's objects they must get 404, never the object.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.routing import Mount

from app.auth.service import issue_token, start_session
from app.deps import Actor
from app.main import app
from app.models import (
    CoachAssignment,
    Coding,
    CodingEvidence,
    DiaryEntry,
    Organisation,
    OutboxMessage,
    ReflectionSession,
    SessionStatus,
    Team,
    TokenPurpose,
    UserSession,
)
from app.reflection.service import save_relationship, start_trajectory
from app.reminders.service import unsubscribe_token
from tests.conftest import Cast, Client

ROLES = ("anon", "professional", "coach", "supervisor", "admin", "outsider")
LOGIN = 303  # anonymous visitors are sent to the login page


def expect(
    anon: int, professional: int, coach: int, supervisor: int, admin: int, outsider: int
) -> dict[str, int]:
    return dict(zip(ROLES, (anon, professional, coach, supervisor, admin, outsider), strict=True))


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def logged_in(status: int) -> dict[str, int]:
    return {**everyone(status), "anon": LOGIN}


MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/"): everyone(303),
    ("GET", "/login"): expect(200, 303, 303, 303, 303, 303),
    ("POST", "/login"): everyone(422),  # empty form: a clear message
    ("POST", "/logout"): everyone(303),
    ("GET", "/password/forgot"): everyone(200),
    ("POST", "/password/forgot"): everyone(422),
    ("GET", "/password/reset/{token}"): everyone(200),
    ("POST", "/password/reset/{token}"): everyone(422),
    ("GET", "/invitation/{token}"): everyone(200),
    ("POST", "/invitation/{token}"): everyone(422),
    ("POST", "/language"): everyone(303),
    ("GET", "/healthz"): everyone(200),
    # The code step after the password: without a pending login it sends you to /login.
    ("GET", "/login/code"): everyone(303),
    ("POST", "/login/code"): everyone(303),
    ("GET", "/account"): logged_in(200),
    ("POST", "/account/reminders"): logged_in(422),  # empty form: choose per kind
    # The signed unsubscribe link works without logging in (the signature is the key).
    ("GET", "/unsubscribe/{token}"): everyone(200),
    ("POST", "/unsubscribe/{token}"): everyone(200),
    ("GET", "/admin/reminders"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("POST", "/admin/reminders"): expect(LOGIN, 403, 403, 403, 422, 422),
    ("POST", "/coach/trajectories/{trajectory_id}/schedule"): expect(
        LOGIN, 403, 422, 403, 403, 403
    ),
    ("GET", "/account/two-factor"): logged_in(200),
    ("POST", "/account/two-factor/setup"): logged_in(303),
    ("POST", "/account/two-factor/confirm"): logged_in(303),  # nothing to confirm yet
    ("POST", "/account/two-factor/recovery-codes"): logged_in(303),  # not switched on
    ("POST", "/account/two-factor/disable"): logged_in(303),  # not switched on
    ("POST", "/account/password"): logged_in(422),
    ("POST", "/account/sessions/{session_id}/end"): expect(LOGIN, 303, 404, 404, 404, 404),
    ("POST", "/account/sessions/end-others"): logged_in(303),
    # Data-subject rights: everyone downloads their own data; consent is the professional's.
    ("GET", "/account/data"): logged_in(200),
    ("GET", "/account/data.json"): logged_in(200),
    ("GET", "/account/data.pdf"): logged_in(200),
    ("GET", "/account/consent"): expect(LOGIN, 200, 403, 403, 403, 403),
    ("POST", "/trajectories/{trajectory_id}/consent"): expect(LOGIN, 422, 403, 403, 403, 403),
    ("GET", "/home"): logged_in(200),
    ("GET", "/coach"): expect(LOGIN, 403, 200, 403, 403, 403),
    # The coach's workspace: only the assigned coach; an admin first states a reason
    # (the reason form is a 200 page); everyone else 404.
    ("GET", "/coach/trajectories/{trajectory_id}"): expect(LOGIN, 404, 200, 404, 200, 404),
    ("GET", "/coach/sessions/{session_id}/coding"): expect(LOGIN, 403, 200, 403, 403, 403),
    ("POST", "/coach/sessions/{session_id}/coding"): expect(LOGIN, 403, 303, 403, 403, 403),
    ("POST", "/coach/sessions/{session_id}/evidence"): expect(LOGIN, 403, 422, 403, 403, 403),
    ("POST", "/coach/evidence/{evidence_id}/delete"): expect(LOGIN, 403, 303, 403, 403, 403),
    ("POST", "/coach/sessions/{session_id}/release"): expect(LOGIN, 403, 303, 403, 403, 403),
    ("POST", "/coach/sessions/{session_id}/reviewed"): expect(LOGIN, 403, 303, 403, 403, 403),
    ("POST", "/coach/trajectories/{trajectory_id}/feedback"): expect(
        LOGIN, 403, 422, 403, 403, 403
    ),
    ("POST", "/coach/trajectories/{trajectory_id}/summary"): expect(LOGIN, 403, 303, 403, 403, 403),
    ("GET", "/trajectories/{trajectory_id}/profile"): expect(LOGIN, 200, 200, 404, 404, 404),
    ("GET", "/trajectories/{trajectory_id}/report"): expect(LOGIN, 200, 200, 404, 200, 404),
    ("GET", "/trajectories/{trajectory_id}/report.pdf"): expect(LOGIN, 200, 200, 404, 200, 404),
    ("GET", "/notifications"): logged_in(200),
    ("POST", "/notifications/read"): logged_in(303),
    ("GET", "/dashboard"): expect(LOGIN, 403, 403, 200, 403, 403),
    ("GET", "/dashboard/export.csv"): expect(LOGIN, 403, 403, 200, 403, 403),
    ("GET", "/dashboard/export.xlsx"): expect(LOGIN, 403, 403, 200, 403, 403),
    ("GET", "/admin/users"): expect(LOGIN, 403, 403, 403, 200, 200),
    # The research export: the admin's own organisation only (the outsider gets theirs).
    ("GET", "/admin/research"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("GET", "/admin/research/export.csv"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("GET", "/admin/research/export.sav"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("GET", "/admin/users/new"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("POST", "/admin/users"): expect(LOGIN, 403, 403, 403, 422, 422),
    ("GET", "/admin/users/{user_id}"): expect(LOGIN, 403, 403, 403, 200, 404),
    ("POST", "/admin/users/{user_id}/roles"): expect(LOGIN, 403, 403, 403, 422, 404),
    ("POST", "/admin/users/{user_id}/deactivate"): expect(LOGIN, 403, 403, 403, 303, 404),
    ("POST", "/admin/users/{user_id}/reactivate"): expect(LOGIN, 403, 403, 403, 303, 404),
    ("POST", "/admin/users/{user_id}/invitation"): expect(LOGIN, 403, 403, 403, 422, 404),
    ("POST", "/admin/users/{user_id}/coaches"): expect(LOGIN, 403, 403, 403, 422, 404),
    ("POST", "/admin/assignments/{assignment_id}/delete"): expect(LOGIN, 403, 403, 403, 303, 404),
    # Erasure: the confirmation page, then the typed confirmation (empty here: 422).
    ("GET", "/admin/users/{user_id}/erase"): expect(LOGIN, 403, 403, 403, 200, 404),
    ("POST", "/admin/users/{user_id}/erase"): expect(LOGIN, 403, 403, 403, 422, 404),
    # A data request answered by an admin: first the reason form (200), then the file.
    ("GET", "/admin/users/{user_id}/data.json"): expect(LOGIN, 403, 403, 403, 200, 404),
    ("POST", "/admin/users/{user_id}/two-factor/reset"): expect(LOGIN, 403, 403, 403, 422, 404),
    # Teams: the admin's own organisation; another organisation's team or person is a 404.
    # An empty form: no name (422); for a person, "no team" (303).
    ("GET", "/admin/teams"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("POST", "/admin/teams"): expect(LOGIN, 403, 403, 403, 422, 422),
    ("GET", "/admin/teams/{team_id}"): expect(LOGIN, 403, 403, 403, 200, 404),
    ("POST", "/admin/teams/{team_id}"): expect(LOGIN, 403, 403, 403, 422, 404),
    ("POST", "/admin/teams/{team_id}/delete"): expect(LOGIN, 403, 403, 403, 303, 404),
    ("POST", "/admin/users/{user_id}/team"): expect(LOGIN, 403, 403, 403, 303, 404),
    # The audit trail: admins of the organisation, only after a two-factor login (below).
    ("GET", "/admin/audit"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("GET", "/admin/audit/export.csv"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("GET", "/admin/settings"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("POST", "/admin/settings"): expect(LOGIN, 403, 403, 403, 303, 303),
    ("GET", "/admin/outbox"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("GET", "/admin/outbox/{message_id}"): expect(LOGIN, 403, 403, 403, 200, 404),
    ("GET", "/instruments"): expect(LOGIN, 403, 200, 403, 200, 200),
    ("GET", "/instruments/preview"): expect(LOGIN, 403, 200, 403, 200, 200),
    ("POST", "/instruments/preview"): expect(LOGIN, 403, 422, 403, 422, 422),  # no answers
    ("GET", "/admin/instruments/upload"): expect(LOGIN, 403, 403, 403, 200, 200),
    ("POST", "/admin/instruments"): expect(LOGIN, 403, 403, 403, 422, 422),  # no file
    # The professional's own relationships: only professionals, only their own.
    ("GET", "/relationships"): expect(LOGIN, 200, 403, 403, 403, 403),
    ("GET", "/relationships/new"): expect(LOGIN, 200, 403, 403, 403, 403),
    ("POST", "/relationships"): expect(LOGIN, 422, 403, 403, 403, 403),
    ("GET", "/relationships/{relationship_id}/edit"): expect(LOGIN, 200, 403, 403, 403, 403),
    ("POST", "/relationships/{relationship_id}"): expect(LOGIN, 422, 403, 403, 403, 403),
    ("POST", "/relationships/{relationship_id}/archive"): expect(LOGIN, 303, 403, 403, 403, 403),
    ("POST", "/relationships/{relationship_id}/restore"): expect(LOGIN, 303, 403, 403, 403, 403),
    ("POST", "/relationships/{relationship_id}/trajectories"): expect(
        LOGIN, 303, 403, 403, 403, 403
    ),
    # A trajectory: its professional and their assigned coach; everyone else 404.
    ("GET", "/trajectories/{trajectory_id}"): expect(LOGIN, 200, 200, 404, 404, 404),
    ("POST", "/sessions/{session_id}/open"): expect(LOGIN, 404, 303, 404, 404, 404),
    ("GET", "/sessions/{session_id}"): expect(LOGIN, 303, 303, 404, 404, 404),
    ("GET", "/sessions/{session_id}/steps/{step_key}"): expect(LOGIN, 200, 200, 404, 404, 404),
    ("POST", "/sessions/{session_id}/steps/{step_key}"): expect(LOGIN, 422, 422, 404, 404, 404),
    ("POST", "/sessions/{session_id}/steps/{step_key}/draft"): expect(
        LOGIN, 200, 200, 404, 404, 404
    ),
    ("POST", "/sessions/{session_id}/steps/{step_key}/answers"): expect(
        LOGIN, 422, 404, 404, 404, 404
    ),
    ("GET", "/sessions/{session_id}/summary"): expect(LOGIN, 200, 200, 404, 404, 404),
    # Between sessions: the owner writes; the assigned coach may read the lists.
    ("GET", "/trajectories/{trajectory_id}/diary"): expect(LOGIN, 200, 200, 404, 404, 404),
    ("GET", "/trajectories/{trajectory_id}/diary/new"): expect(LOGIN, 200, 404, 404, 404, 404),
    ("POST", "/trajectories/{trajectory_id}/diary"): expect(LOGIN, 422, 404, 404, 404, 404),
    ("GET", "/diary/{entry_id}/edit"): expect(LOGIN, 200, 404, 404, 404, 404),
    ("POST", "/diary/{entry_id}"): expect(LOGIN, 422, 404, 404, 404, 404),
    ("GET", "/diary/{entry_id}/delete"): expect(LOGIN, 200, 404, 404, 404, 404),
    ("POST", "/diary/{entry_id}/delete"): expect(LOGIN, 303, 404, 404, 404, 404),
    ("GET", "/trajectories/{trajectory_id}/pulse"): expect(LOGIN, 200, 200, 404, 404, 404),
    ("POST", "/trajectories/{trajectory_id}/pulse"): expect(LOGIN, 422, 404, 404, 404, 404),
    ("GET", "/trajectories/{trajectory_id}/experiments"): expect(LOGIN, 200, 200, 404, 404, 404),
    ("POST", "/trajectories/{trajectory_id}/experiments"): expect(LOGIN, 422, 404, 404, 404, 404),
}


# Two-factor states that change the answer. The matrix above logs everyone in as if the
# code step passed; here an admin logged in with the password only, and a coach whose
# organisation requires two-factor login but who has not set it up yet.
NEEDS_TWO_FACTOR_LOGIN = {("GET", "/admin/audit"), ("GET", "/admin/audit/export.csv")}
# Open while enrolment is pending: the public routes and the set-up itself; every other
# route sends the coach to /account/two-factor.
OPEN_DURING_ENROLMENT = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/code"),
    ("POST", "/login/code"),
    ("POST", "/logout"),
    ("GET", "/password/forgot"),
    ("POST", "/password/forgot"),
    ("GET", "/password/reset/{token}"),
    ("POST", "/password/reset/{token}"),
    ("GET", "/invitation/{token}"),
    ("POST", "/invitation/{token}"),
    ("POST", "/language"),
    ("GET", "/healthz"),
    # The signed unsubscribe link works without logging in, so also before enrolment.
    ("GET", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}"),
    ("GET", "/account/two-factor"),
    ("POST", "/account/two-factor/setup"),
    ("POST", "/account/two-factor/confirm"),
}


def _flatten(routes: list[Any]) -> Iterator[Any]:
    # Newer FastAPI keeps included routers as one entry that expands to route contexts.
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()
        else:
            yield route


def app_routes() -> set[tuple[str, str]]:
    found = set()
    for route in _flatten(list(app.routes)):
        if isinstance(route, Mount) or not getattr(route, "methods", None):
            continue
        for method in route.methods:
            if method != "HEAD":
                found.add((method, route.path))
    return found


def test_every_route_is_in_the_matrix() -> None:
    routes = app_routes()
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes missing from the access matrix: {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def _path_values(db: Session, cast: Cast, path: str) -> dict[str, str]:
    """Real objects of the first organisation for every path parameter."""
    values: dict[str, str] = {"user_id": str(cast.professional.id)}
    if path.startswith("/unsubscribe/"):
        values["token"] = unsubscribe_token(cast.professional.id or 0)
    elif "{token}" in path:
        purpose = (
            TokenPurpose.invitation
            if path.startswith("/invitation")
            else TokenPurpose.password_reset
        )
        values["token"] = issue_token(db, user=cast.professional, purpose=purpose)
    if path.startswith(("/relationships/", "/trajectories/", "/sessions/", "/diary/", "/coach/")):
        values.update(_trajectory_values(db, cast, path))
        db.commit()
        return values
    if "{session_id}" in path:
        start_session(db, user=cast.professional, address="elsewhere", user_agent="other device")
        db.flush()
        own = db.exec(
            select(UserSession).where(UserSession.user_id == cast.professional.id)
        ).first()
        assert own is not None
        values["session_id"] = str(own.id)
    if "{assignment_id}" in path:
        assignment = db.exec(
            select(CoachAssignment).where(CoachAssignment.organisation_id == cast.org.id)
        ).first()
        assert assignment is not None
        values["assignment_id"] = str(assignment.id)
    if "{team_id}" in path:
        team = Team(organisation_id=cast.org.id, name="Groep 5", location="Noord")  # type: ignore[arg-type]
        db.add(team)
        db.flush()
        values["team_id"] = str(team.id)
    if "{message_id}" in path:
        message = OutboxMessage(
            organisation_id=cast.org.id, to_address="x@anker.example", subject="s", body_text="t"
        )
        db.add(message)
        db.flush()
        values["message_id"] = str(message.id)
    db.commit()
    return values


def _trajectory_values(db: Session, cast: Cast, path: str) -> dict[str, str]:
    """A trajectory of cast.professional with the intake and the interview open."""
    professional = Actor.for_user(
        cast.professional,
        roles=frozenset({"professional"}),
        session_id=0,
        session_token_hash="",
    )
    relationship = save_relationship(
        db,
        actor=professional,
        values={"pseudonym": "Kiki", "sector": "education", "age_band": "8-11"},
    )
    trajectory = start_trajectory(db, actor=professional, relationship_id=relationship.id or 0)
    db.flush()
    sessions = {
        s.template_key: s
        for s in db.exec(
            select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory.id)
        ).all()
    }
    sessions["interview"].status = SessionStatus.open
    db.add(sessions["interview"])
    if path.endswith("/answers"):
        chosen, step = sessions["intake"], "relationship"
    elif path.endswith(("/open", "/reviewed")):
        chosen, step = sessions["reflection"], ""
    else:
        chosen, step = sessions["interview"], "connected"
    entry = DiaryEntry(
        organisation_id=cast.org.id,  # type: ignore[arg-type]
        trajectory_id=trajectory.id,  # type: ignore[arg-type]
        occurred_on=date.today(),
        phase="baseline",
        instrument_version=1,
        values={"valence": 1},
    )
    db.add(entry)
    coding = Coding(
        organisation_id=cast.org.id,  # type: ignore[arg-type]
        session_id=sessions["interview"].id,  # type: ignore[arg-type]
        trajectory_id=trajectory.id,  # type: ignore[arg-type]
        coach_id=cast.coach.id,
        ratings={"sensitivity": 5},
    )
    db.add(coding)
    db.flush()
    evidence = CodingEvidence(
        organisation_id=cast.org.id,  # type: ignore[arg-type]
        coding_id=coding.id,  # type: ignore[arg-type]
        step_key="connected",
        quote="…",
    )
    db.add(evidence)
    db.flush()
    return {
        "evidence_id": str(evidence.id),
        "entry_id": str(entry.id),
        "relationship_id": str(relationship.id),
        "trajectory_id": str(trajectory.id),
        "session_id": str(chosen.id),
        "step_key": step,
    }


def _actor(cast: Cast, role: str):  # type: ignore[no-untyped-def]
    return None if role == "anon" else cast.by_role(role)


CASES = [(method, path, role) for (method, path) in sorted(MATRIX) for role in ROLES]


@pytest.mark.parametrize(("method", "path", "role"), CASES)
def test_access(client: Client, cast: Cast, db: Session, method: str, path: str, role: str) -> None:
    url = path.format(**_path_values(db, cast, path))
    actor = _actor(cast, role)
    if actor is not None:
        client.login_as(actor)
    if method == "GET":
        response = client.get(url, follow_redirects=False)
    else:
        response = client.post_form(url, {})
    expected = MATRIX[(method, path)][role]
    assert response.status_code == expected, (
        f"{method} {path} as {role}: got {response.status_code}, expected {expected}"
    )
    if expected == LOGIN and role == "anon" and path not in ("/", "/logout", "/language"):
        assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_access_of_an_admin_without_a_two_factor_login(
    client: Client, cast: Cast, db: Session, method: str, path: str
) -> None:
    url = path.format(**_path_values(db, cast, path))
    client.login_as(cast.admin, two_factor=False)
    response = client.get(url, follow_redirects=False) if method == "GET" else client.post_form(url)
    expected = 403 if (method, path) in NEEDS_TWO_FACTOR_LOGIN else MATRIX[(method, path)]["admin"]
    assert response.status_code == expected, f"{method} {path}: got {response.status_code}"


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_access_while_two_factor_enrolment_is_required(
    client: Client, cast: Cast, db: Session, method: str, path: str
) -> None:
    url = path.format(**_path_values(db, cast, path))
    organisation = db.get(Organisation, cast.org.id)
    assert organisation is not None
    organisation.two_factor_required = True
    db.add(organisation)
    db.commit()
    client.login_as(cast.coach, two_factor=False)
    response = client.get(url, follow_redirects=False) if method == "GET" else client.post_form(url)
    if (method, path) in OPEN_DURING_ENROLMENT:
        assert response.status_code == MATRIX[(method, path)]["coach"], f"{method} {path}"
        if not path.startswith("/account/two-factor"):
            assert response.headers.get("location") != "/account/two-factor"
    else:
        assert response.status_code == 303, f"{method} {path}: got {response.status_code}"
        assert response.headers["location"] == "/account/two-factor"
