"""Test set-up: a database built by the real migrations, a cast of users, a CSRF-aware client.

The suite runs on SQLite by default and on PostgreSQL when DYADE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="dyade-test-"))
os.environ["DYADE_ENVIRONMENT"] = "test"
os.environ["DYADE_SECRET_KEY"] = "test-secret-key-that-is-long-enough-0123456789"
os.environ["DYADE_DATA_DIR"] = str(_TMP)
os.environ["DYADE_DATABASE_URL"] = os.environ.get(
    "DYADE_TEST_DATABASE_URL", f"sqlite:///{_TMP / 'test.db'}"
)
os.environ.pop("DYADE_SMTP_HOST", None)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Connection, text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from app.auth.service import start_session  # noqa: E402
from app.cli import migrate  # noqa: E402
from app.dashboards.summary import recount_accounts  # noqa: E402
from app.db import get_engine  # noqa: E402
from app.main import app  # noqa: E402
from app.models import CoachAssignment, Organisation, Role, User, UserRole  # noqa: E402
from app.reflection import baselines  # noqa: E402
from app.security import csrf_token_for, hash_password, token_digest  # noqa: E402

PASSWORD = "een lange zin als wachtwoord"


def require_flag(name: str) -> bool:
    """CI sets these so that browser and PostgreSQL tests fail instead of skipping."""
    return os.environ.get(name, "") in ("1", "true", "yes")


@pytest.fixture(scope="session", autouse=True)
def _database() -> Iterator[None]:
    migrate()
    yield
    get_engine().dispose()


@contextmanager
def audit_guard_disabled(connection: Connection) -> Iterator[None]:
    """Switch off the triggers that keep the audit trail append-only, as a DBA could."""
    if connection.dialect.name == "postgresql":
        guards = (("audit_event", "audit_event_guard"), ("audit_chain", "audit_chain_guard"))
        for table, trigger in guards:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
        try:
            yield
        finally:
            for table, trigger in guards:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
        return
    triggers = connection.execute(
        text(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type = 'trigger' AND tbl_name IN ('audit_event', 'audit_chain')"
        )
    ).all()
    for name, _sql in triggers:
        connection.execute(text(f"DROP TRIGGER {name}"))
    try:
        yield
    finally:
        for _name, sql in triggers:
            connection.execute(text(sql))


def _clear_postgres(connection: Connection, tables: list[str]) -> None:
    # TRUNCATE of every table took about 0.2 s per test, most of the PostgreSQL run: only
    # the tables a test wrote to are truncated (with rows, or with a used id sequence, so
    # that ids start at 1 again everywhere). TRUNCATE fires no row triggers: the audit
    # guard does not stand in the way.
    probe = " UNION ALL ".join(
        f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})"  # noqa: S608 - our own table names
        for t in tables
    )
    written = {row[0] for row in connection.execute(text(probe))}
    used = {
        row[0]
        for row in connection.execute(
            text(
                "SELECT sequencename FROM pg_sequences"
                " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
            )
        )
    }
    written |= {t for t in tables if f"{t}_id_seq" in used}
    if written:
        names = ", ".join(t for t in tables if t in written)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    for sequence in sorted(used - {f"{t}_id_seq" for t in written}):
        connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


def _clear_tables() -> None:
    engine = get_engine()
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            _clear_postgres(connection, tables)
        else:
            with audit_guard_disabled(connection):
                for table in tables:
                    connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names


@pytest.fixture(autouse=True)
def _clean_database() -> Iterator[None]:
    yield
    _clear_tables()
    # The next test's ids start again at 1: a fingerprint of its baseline answers could
    # equal one of this test's.
    baselines.forget()


@pytest.fixture
def db() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def password_hash() -> str:
    # One argon2 hash for the whole cast keeps the suite fast.
    return hash_password(PASSWORD)


@dataclass
class Cast:
    org: Organisation
    other_org: Organisation
    admin: User
    coach: User
    other_coach: User
    professional: User
    unassigned_professional: User
    supervisor: User
    outsider: User  # a professional of the other organisation
    outsider_admin: User
    outsider_coach: User
    multi: User  # coach and professional at once

    def by_role(self, role: str) -> User:
        return {
            "admin": self.admin,
            "coach": self.coach,
            "professional": self.professional,
            "supervisor": self.supervisor,
            "outsider": self.outsider_admin,
        }[role]


def make_user(
    session: Session,
    org: Organisation,
    email: str,
    name: str,
    roles: list[Role],
    password_hash: str,
    locale: str = "nl",
) -> User:
    user = User(
        organisation_id=org.id,  # type: ignore[arg-type]
        email=email,
        display_name=name,
        password_hash=password_hash,
        locale=locale,
    )
    session.add(user)
    session.flush()
    for role in roles:
        session.add(UserRole(organisation_id=org.id, user_id=user.id, role=str(role)))  # type: ignore[arg-type]
    return user


@pytest.fixture
def cast(db: Session, password_hash: str) -> Cast:
    org = Organisation(name="Basisschool Het Anker", slug="het-anker")
    other = Organisation(name="Zorggroep Elders", slug="elders")
    db.add(org)
    db.add(other)
    db.flush()
    h = password_hash
    people = Cast(
        org=org,
        other_org=other,
        admin=make_user(db, org, "admin@anker.example", "Ada Admin", [Role.admin], h),
        coach=make_user(db, org, "coach@anker.example", "Carla Coach", [Role.coach], h),
        other_coach=make_user(db, org, "coach2@anker.example", "Kees Coach", [Role.coach], h),
        professional=make_user(db, org, "prof@anker.example", "Pim Prof", [Role.professional], h),
        unassigned_professional=make_user(
            db, org, "prof2@anker.example", "Pia Prof", [Role.professional], h, "en"
        ),
        supervisor=make_user(db, org, "sup@anker.example", "Sien Sup", [Role.supervisor], h),
        outsider=make_user(
            db, other, "prof@elders.example", "Olaf Outsider", [Role.professional], h
        ),
        outsider_admin=make_user(db, other, "admin@elders.example", "Otto Admin", [Role.admin], h),
        outsider_coach=make_user(db, other, "coach@elders.example", "Olga Coach", [Role.coach], h),
        multi=make_user(
            db, org, "multi@anker.example", "Max Multi", [Role.coach, Role.professional], h
        ),
    )
    db.add(
        CoachAssignment(
            organisation_id=org.id, coach_id=people.coach.id, professional_id=people.professional.id
        )
    )  # type: ignore[arg-type]
    db.add(
        CoachAssignment(
            organisation_id=other.id,
            coach_id=people.outsider_coach.id,
            professional_id=people.outsider.id,
        )
    )  # type: ignore[arg-type]
    # The accounts were made past the admin service: count them as it would have.
    for organisation in (org, other):
        recount_accounts(db, organisation_id=organisation.id)  # type: ignore[arg-type]
    db.commit()
    return people


class Client(TestClient):
    """A test client that knows its CSRF token and logs in without the password round trip."""

    session_token: str | None = None

    def csrf(self) -> str:
        if self.session_token:
            return csrf_token_for("s:" + token_digest(self.session_token))
        anon = self.cookies.get("dyade_anon")
        if not anon:
            self.get("/login")
            anon = self.cookies.get("dyade_anon")
        return csrf_token_for("a:" + str(anon))

    def post_form(self, url: str, data: dict[str, object] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.csrf())
        return self.post(url, data=payload, follow_redirects=False, **kwargs)  # type: ignore[arg-type]

    def login_as(self, user: User, *, two_factor: bool = True) -> Client:
        """Log in without the password round trip; by default as if the code step passed."""
        with Session(get_engine()) as session:
            token = start_session(
                session,
                user=user,
                address="testclient",
                user_agent="pytest",
                two_factor=two_factor,
            )
            session.commit()
        self.session_token = token
        self.cookies.set("dyade_session", token)
        return self


# Over HTTPS, as outside development: the cookies are Secure there.
BASE_URL = "https://testserver"


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(app, base_url=BASE_URL, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Iterator[type[Client]]:
    clients: list[Client] = []

    def factory() -> Client:
        c = Client(app, base_url=BASE_URL, raise_server_exceptions=False)
        clients.append(c)
        return c

    yield factory  # type: ignore[misc]
    for c in clients:
        c.close()


def form_csrf(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)
