"""A small schemathesis pass over every route: no request may answer 5xx.

The full run (every role, more examples) is scripts/fuzz_openapi.py; see docs/security.md.
"""

from __future__ import annotations

import io

from sqlmodel import Session

from app.auth.service import start_session
from app.db import get_engine
from app.main import app
from scripts.fuzz_openapi import enriched_schema, fuzz
from tests.conftest import Cast
from tests.test_reflection import make_relationship


def test_the_schema_gets_form_bodies_and_hand_read_query_parameters() -> None:
    schema = enriched_schema(app)

    draft = schema["paths"]["/sessions/{session_id}/steps/{step_key}/draft"]["post"]
    fields = draft["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"text", "version"} <= set(fields["properties"])
    dashboard = schema["paths"]["/dashboard"]["get"]
    assert {"coach", "sector", "from", "to"} <= {p["name"] for p in dashboard["parameters"]}


def test_no_route_answers_5xx_to_generated_requests(cast: Cast, client) -> None:  # type: ignore[no-untyped-def]
    client.login_as(cast.professional)
    make_relationship(client)  # so that some generated ids find a real object
    tokens = {}
    with Session(get_engine()) as session:
        # One role keeps this under half a minute; the script covers all four.
        tokens["professional"] = start_session(
            session, user=cast.professional, address="fuzz", user_agent="fuzz"
        )
        session.commit()

    report = fuzz(app, tokens, examples=2, log=io.StringIO())

    assert report.requests > 150
    assert not report.failures, [
        (f.role, f.method, f.path, f.error[-300:]) for f in report.failures
    ]
