"""Demo data: a Dutch primary school and a youth-care organisation, only into an empty database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from app.dashboards import summary
from app.models import CoachAssignment, Organisation, Role, Team, TeamMembership, User, UserRole
from app.security import hash_password

DEMO_PASSWORD = "reflectie-demo-2026"  # noqa: S105 - printed for the demo on purpose # nosec B105


@dataclass(frozen=True)
class DemoPerson:
    key: str
    name: str
    roles: tuple[Role, ...]
    locale: str = "nl"


@dataclass(frozen=True)
class DemoOrganisation:
    slug: str
    name: str
    domain: str
    people: tuple[DemoPerson, ...]
    # professional key → coach key
    coaching: tuple[tuple[str, str], ...]
    # (team name, location, professional keys in it)
    teams: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


P, C, S, A = Role.professional, Role.coach, Role.supervisor, Role.admin

DEMO = (
    DemoOrganisation(
        slug="de-regenboog",
        name="Basisschool De Regenboog",
        domain="regenboog.example",
        people=(
            DemoPerson("admin", "Anouk de Vries", (A,)),
            DemoPerson("coach1", "Marieke Jansen", (C,)),
            DemoPerson("coach2", "Peter Bakker", (C,), "en"),
            DemoPerson("leerkracht1", "Sanne Visser", (P,)),
            DemoPerson("leerkracht2", "Daan Smit", (P,)),
            DemoPerson("leerkracht3", "Fatima El Amrani", (P,)),
            DemoPerson("leerkracht4", "Joris Mulder", (P,), "en"),
            DemoPerson("pm1", "Lotte de Boer", (P,)),
            DemoPerson("ib1", "Ruben Dekker", (P,)),
            # Part-way through the programme (app/seed_progress.py); no browser test uses them.
            DemoPerson("leerkracht5", "Eva Janssen", (P,)),
            DemoPerson("leerkracht6", "Thomas de Wit", (P,)),
            DemoPerson("directie", "Ingrid Meijer", (S,)),
        ),
        coaching=(
            ("leerkracht1", "coach1"),
            ("leerkracht2", "coach1"),
            ("leerkracht3", "coach1"),
            ("leerkracht5", "coach1"),
            ("leerkracht6", "coach1"),
            ("leerkracht4", "coach2"),
            ("pm1", "coach2"),
            ("ib1", "coach2"),
        ),
        teams=(
            ("Groep 3-4", "Noord", ("leerkracht1", "leerkracht2", "pm1", "leerkracht6")),
            ("Groep 5-6", "Noord", ("leerkracht5",)),
            ("Groep 7-8", "Zuid", ("leerkracht3", "leerkracht4")),
            ("Intern begeleiders", "", ("ib1",)),
        ),
    ),
    DemoOrganisation(
        slug="jeugdzorg-de-brug",
        name="Jeugdzorg De Brug",
        domain="debrug.example",
        people=(
            DemoPerson("admin", "Kees van Dijk", (A,)),
            DemoPerson("coach1", "Esther Willems", (C,)),
            DemoPerson("coach2", "Mohamed Yilmaz", (C,)),
            DemoPerson("jeugdzorg1", "Noor Hendriks", (P,)),
            DemoPerson("jeugdzorg2", "Bram Peters", (P,)),
            DemoPerson("gezinshuis1", "Marloes en Tom Kok", (P,)),
            DemoPerson("begeleider1", "Iris van Leeuwen", (P,)),
            DemoPerson("begeleider2", "Sem de Graaf", (P,), "en"),
            DemoPerson("kdv1", "Yara Bos", (P,)),
            DemoPerson("manager", "Wim Vos", (S,)),
        ),
        coaching=(
            ("jeugdzorg1", "coach1"),
            ("jeugdzorg2", "coach1"),
            ("gezinshuis1", "coach1"),
            ("begeleider1", "coach2"),
            ("begeleider2", "coach2"),
            ("kdv1", "coach2"),
        ),
        teams=(
            ("Ambulant team", "Centrum", ("jeugdzorg1", "jeugdzorg2")),
            ("Gezinshuizen", "", ("gezinshuis1",)),
            ("Woongroep De Linde", "Oost", ("begeleider1", "begeleider2", "kdv1")),
        ),
    ),
)


def database_is_empty(session: Session) -> bool:
    """True when no organisation exists yet."""
    return session.exec(select(func.count()).select_from(Organisation)).one() == 0


def seed_demo(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo organisations; returns (organisation, email, roles) per login."""
    password_hash = hash_password(DEMO_PASSWORD)
    logins: list[tuple[str, str, str]] = []
    for org in DEMO:
        organisation = Organisation(name=org.name, slug=org.slug)
        session.add(organisation)
        session.flush()
        assert organisation.id is not None
        users: dict[str, User] = {}
        for person in org.people:
            user = User(
                organisation_id=organisation.id,
                email=f"{person.key}@{org.domain}",
                display_name=person.name,
                password_hash=password_hash,
                locale=person.locale,
            )
            session.add(user)
            session.flush()
            users[person.key] = user
            assert user.id is not None
            for role in person.roles:
                session.add(
                    UserRole(organisation_id=organisation.id, user_id=user.id, role=str(role))
                )
            logins.append((org.name, user.email, ", ".join(str(r) for r in person.roles)))
        for professional, coach in org.coaching:
            session.add(
                CoachAssignment(
                    organisation_id=organisation.id,
                    coach_id=users[coach].id,  # type: ignore[arg-type]
                    professional_id=users[professional].id,  # type: ignore[arg-type]
                )
            )
        for name, location, keys in org.teams:
            team = Team(organisation_id=organisation.id, name=name, location=location)
            session.add(team)
            session.flush()
            for key in keys:
                session.add(
                    TeamMembership(
                        organisation_id=organisation.id,
                        user_id=users[key].id,  # type: ignore[arg-type]
                        team_id=team.id,  # type: ignore[arg-type]
                    )
                )
        session.flush()
        summary.recount_accounts(session, organisation_id=organisation.id)
        if org.slug == "de-regenboog":
            from app.seed_progress import add_demo_progress

            add_demo_progress(session, organisation.id, users)
    return logins


def demo_logins() -> list[tuple[str, str, str]]:
    """The demo logins, without touching the database (for printing at every start)."""
    return [
        (org.name, f"{p.key}@{org.domain}", ", ".join(str(r) for r in p.roles))
        for org in DEMO
        for p in org.people
    ]
