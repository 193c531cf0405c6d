"""Fuzz every route of the app with schemathesis, logged in, and report every 5xx.

In process (FastAPI's TestClient, no server): a fresh SQLite database (or
--database-url) built by the migrations with the demo organisations and a trajectory
for one professional; then, for each role (professional, coach, supervisor, admin), a
login session of a demo person and, for every operation of the app's OpenAPI schema,
schemathesis-generated requests (valid and invalid data) carrying that session's cookie
and CSRF token, so that they get past the login and the CSRF check.

The app reads its forms by hand (app/forms.py), so its OpenAPI schema has no request
bodies. This script adds one to every POST operation: a form whose fields are the names
the app's code and templates use for that part of the app (the route's package), plus the
questionnaire items and a few known value sets, so schemathesis fills in real fields with
good and bad values.

    .venv/bin/python scripts/fuzz_openapi.py                    # 30 examples per operation
    .venv/bin/python scripts/fuzz_openapi.py --examples 100 --roles coach

Exit status 1 when any request answered 5xx (each one is printed with its traceback).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's app, not another installed one
APP_DIR = REPO / "app"
ROLES = ("professional", "coach", "supervisor", "admin")
# Demo people per role (app/seed.py); the admin goes last: it can deactivate people.
DEMO_EMAILS = {
    "professional": "leerkracht1@regenboog.example",
    "coach": "coach1@regenboog.example",
    "supervisor": "directie@regenboog.example",
    "admin": "admin@regenboog.example",
}
# Operations that would end the fuzzer's own login; they are tested in tests/test_auth.py.
SKIP = {("POST", "/logout"), ("POST", "/account/sessions/end-others")}
SKIP_PREFIXES = (("POST", "/account/sessions/"),)
FIELD_PATTERNS = (
    re.compile(r"\.(?:get|get_list|require|check_length|pop)\(\s*\"([a-z][\w-]*)\""),
    re.compile(r"\[\"([a-z][\w-]*)\"\]"),
    re.compile(r"name=\"([a-z][\w-]*)\""),
    re.compile(r"forms\.\w+\(\s*\"([a-z][\w-]*)\""),
)
MAX_FIELDS = 60
# Values that broke parsers before (str.isdigit() says yes to "²", int() refuses it; huge
# numbers overflow a database column); mixed into every free-text field.
EDGE_VALUES = [
    "²",
    "٣",
    "1_0",
    "-1",
    "0",
    "9" * 30,
    "9" * 5000,
    "session-²",
    "session-" + "9" * 30,
    "diary-" + "9" * 30,
    "2026-02-30",
    "99999-01-01",
    "\x00",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    " ",
]


@dataclass
class Failure:
    role: str
    method: str
    path: str
    status: int
    request: dict[str, Any]
    error: str


@dataclass
class Report:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    operations: int = 0


# ---------------------------------------------------------------- schema with form bodies


def _package_fields(package: str) -> list[str]:
    """Field names used in a package's code and its templates, most used first."""
    counts: Counter[str] = Counter()
    sources: list[Path] = list((APP_DIR / package).glob("*.py"))
    templates = APP_DIR / "templates" / package
    if templates.is_dir():
        sources += list(templates.glob("*.html"))
    for source in sources:
        text = source.read_text(encoding="utf-8")
        for pattern in FIELD_PATTERNS:
            counts.update(pattern.findall(text))
    counts.pop("csrf_token", None)
    return [name for name, _count in counts.most_common(MAX_FIELDS)]


def _value_sets() -> dict[str, list[str]]:
    from app.models import AgeBand, Role, Sector

    return {
        "action": ["next", "back", "later", "finish", "save"],
        "locale": ["nl", "en"],
        "sector": [s.value for s in Sector],
        "age_band": [a.value for a in AgeBand],
        "role": [r.value for r in Role],
        "roles": [r.value for r in Role],
        "version": ["0", "1", "2"],
    }


def _item_fields() -> list[str]:
    from app.instruments.loader import builtin_definition

    return [f"item-{item.key}" for item in builtin_definition("relationship").items]


def _free_text() -> dict[str, Any]:
    return {"anyOf": [{"type": "string", "maxLength": 300}, {"enum": EDGE_VALUES}]}


def _routes(routes: Iterable[Any]) -> Iterable[Any]:
    # Newer FastAPI keeps an included router as one entry that expands to route contexts.
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()
        else:
            yield route


def _route_package(app: Any, route_path: str, method: str) -> str | None:
    for route in _routes(app.routes):
        endpoint = getattr(route, "endpoint", None)
        if route.path == route_path and method in (getattr(route, "methods", None) or ()):
            return str(endpoint.__module__.split(".")[1]) if endpoint else None
    return None


def _query_names(package: str) -> list[str]:
    """Query parameters a package reads by hand (request.query_params.get("x"))."""
    names: list[str] = []
    for source in (APP_DIR / package).glob("*.py"):
        text = source.read_text(encoding="utf-8")
        if "query_params" in text:
            names += re.findall(r"params\.get\(\s*\"([a-z][\w-]*)\"", text)
    return sorted(set(names))


def form_body_schema(app: Any, route_path: str, method: str) -> dict[str, Any] | None:
    """A form body for a POST operation, from the fields its package uses."""
    package = _route_package(app, route_path, method)
    if package is None:
        return None
    names = _package_fields(package)
    if package == "reflection":
        names += _item_fields()
    values = _value_sets()
    properties: dict[str, Any] = {}
    for name in names:
        if name in values:
            properties[name] = {"type": "string", "enum": values[name]}
        elif name.startswith("item-"):
            properties[name] = {"type": "string", "enum": ["1", "2", "3", "4", "5", "9", ""]}
        else:
            properties[name] = _free_text()
    return {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": properties}
            }
        }
    }


def enriched_schema(app: Any) -> dict[str, Any]:
    """The app's OpenAPI schema with a form body on every POST operation."""
    schema = copy.deepcopy(app.openapi())
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            package = _route_package(app, path, method.upper())
            declared = {p["name"] for p in operation.get("parameters", [])}
            if method == "get" and package:
                for name in _query_names(package):
                    if name not in declared:
                        operation.setdefault("parameters", []).append(
                            {"name": name, "in": "query", "required": False, "schema": _free_text()}
                        )
            if method == "post" and "requestBody" not in operation:
                body = form_body_schema(app, path, "POST")
                if body:
                    operation["requestBody"] = body
    return schema


# ---------------------------------------------------------------- data and logins


def prepare_database(url: str, data_dir: Path) -> None:
    """Point the app at a fresh database with the demo data and one trajectory."""
    os.environ.update(
        DYADE_DATABASE_URL=url,
        DYADE_DATA_DIR=str(data_dir),
        DYADE_ENVIRONMENT="test",
        DYADE_SECRET_KEY="fuzz-secret-key-0123456789abcdef-0123456789",  # noqa: S106 # nosec B106
    )
    from sqlmodel import Session, select

    from app.cli import migrate
    from app.db import get_engine
    from app.deps import load_actor
    from app.models import User
    from app.reflection import service
    from app.seed import seed_demo

    migrate()
    with Session(get_engine(), expire_on_commit=False) as session:
        if session.exec(select(User)).first() is None:
            seed_demo(session)
            session.flush()
            tokens = login_tokens(session, ["professional"])
            actor = load_actor(session, tokens["professional"])
            assert actor is not None
            relationship = service.save_relationship(
                session,
                actor=actor,
                values={"pseudonym": "Kiki", "sector": "education", "age_band": "8-11"},
            )
            assert relationship.id is not None
            service.start_trajectory(session, actor=actor, relationship_id=relationship.id)
        session.commit()


def login_tokens(session: Any, roles: Iterable[str]) -> dict[str, str]:
    """A new login session per role, for the demo person of that role."""
    from sqlmodel import select

    from app.auth.service import start_session
    from app.models import User

    tokens = {}
    for role in roles:
        user = session.exec(select(User).where(User.email == DEMO_EMAILS[role])).one()
        tokens[role] = start_session(session, user=user, address="127.0.0.1", user_agent="fuzz")
    return tokens


# ---------------------------------------------------------------- the fuzzing


def _skipped(method: str, path: str) -> bool:
    if (method, path) in SKIP:
        return True
    return any(method == m and path.startswith(p) for m, p in SKIP_PREFIXES)


def _form_items(body: Any) -> Any:
    """The generated body as form fields; anything not a flat form goes as it is."""
    if not isinstance(body, dict):
        return None
    items: list[tuple[str, str]] = []
    for key, value in body.items():
        for one in value if isinstance(value, list) else [value]:
            items.append((str(key), "" if one is None else str(one)))
    return items


def fuzz(
    app: Any,
    tokens: dict[str, str],
    *,
    examples: int,
    operations: str = "",
    report: Report | None = None,
    log: Any = sys.stdout,
) -> Report:
    """Send schemathesis cases for every operation and role; collect every 5xx."""
    import hypothesis
    import hypothesis.errors
    import schemathesis
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, Phase

    from app.security import csrf_token_for, token_digest

    report = report or Report()
    schema = schemathesis.openapi.from_dict(enriched_schema(app))
    client = TestClient(app, raise_server_exceptions=True)
    for role, token in tokens.items():
        headers = {
            "Cookie": f"dyade_session={token}",
            "X-CSRF-Token": csrf_token_for("s:" + token_digest(token)),
        }
        for result in schema.get_all_operations():
            operation = result.ok()
            method, path = operation.method.upper(), operation.path
            if _skipped(method, path) or (operations and not re.search(operations, path)):
                continue
            report.operations += 1

            def send(
                case: Any,
                role: str = role,
                headers: dict[str, str] = headers,
                method: str = method,
                path: str = path,
            ) -> None:
                request: dict[str, Any] = {
                    "method": case.method.upper(),
                    "url": case.formatted_path,
                    "params": case.query or None,
                    "headers": dict(headers),
                }
                form = _form_items(case.body) if case.body is not None else None
                if form is not None:
                    request["content"] = urlencode(form).encode()
                    request["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
                elif case.body is not None:
                    # Not a flat form (negative mode): send it as a malformed form body.
                    request["content"] = str(case.body).encode("utf-8", "replace")
                    request["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
                error, status = "", 0
                try:
                    response = client.request(follow_redirects=False, **request)
                    status = response.status_code
                except Exception:  # the app's own 500 handler re-raises in the TestClient
                    status, error = 500, traceback.format_exc()
                report.requests += 1
                report.statuses[status] += 1
                if status >= 500:
                    report.failures.append(
                        Failure(role, method, path, status, request, error or "(no exception)")
                    )

            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):
                strategy = operation.as_strategy(generation_mode=mode)

                @hypothesis.settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @hypothesis.given(case=strategy)
                def run(case: Any) -> None:
                    send(case)

                try:
                    run()
                except hypothesis.errors.Unsatisfiable:
                    pass  # no invalid request exists (no parameters, no body)
                except Exception as exc:  # a case hypothesis cannot build is not an app error
                    print(f"  {role} {method} {path} ({mode.value}): {exc!r}"[:300], file=log)
    client.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=30, help="per operation and mode")
    parser.add_argument("--roles", nargs="*", default=list(ROLES), choices=ROLES)
    parser.add_argument("--operations", default="", help="only paths matching this regex")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="dyade-fuzz-"))
    url = args.database_url or f"sqlite:///{data_dir / 'fuzz.db'}"
    prepare_database(url, data_dir)

    import schemathesis
    from sqlmodel import Session

    from app.db import get_engine
    from app.main import app

    with Session(get_engine()) as session:
        tokens = login_tokens(session, [r for r in ROLES if r in args.roles])
        session.commit()
    started = time.monotonic()
    report = fuzz(app, tokens, examples=args.examples, operations=args.operations)
    seconds = time.monotonic() - started
    print(
        f"schemathesis {schemathesis.__version__}: {report.requests} requests, "
        f"{report.operations} operation×role pairs, {args.examples} examples per operation "
        f"and mode (positive, negative), {seconds:.0f} s"
    )
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(report.statuses.items())))
    seen: set[tuple[str, str, str]] = set()
    for failure in report.failures:
        last_line = failure.error.strip().splitlines()[-1] if failure.error else ""
        key = (failure.method, failure.path, last_line)
        if key in seen:
            continue
        seen.add(key)
        print(f"\n5xx {failure.status} as {failure.role}: {failure.method} {failure.path}")
        print(f"request: {failure.request}")
        print(failure.error)
    print(f"5xx responses: {len(report.failures)} ({len(seen)} distinct)")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
