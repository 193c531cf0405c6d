"""A person's own data: everything about and by them, as JSON, a readable page and a PDF."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from app.models import AuditEvent
from app.privacy.export import load_personal_data
from tests.conftest import Cast, Client
from tests.privacy_data import DIARY, DRAFT, EXPERIMENT, FEEDBACK, NOTE, QUOTE, rich_trajectory
from tests.test_coaching import count_queries
from tests.test_report import NARRATIVE, PSEUDONYM, WORDS, text_of


def test_the_json_download_holds_everything_stored_about_and_by_them(
    client: Client, cast: Cast, db: Session
) -> None:
    rich = rich_trajectory(client, db, cast)
    response = client.get("/account/data.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="dyade-my-data.json"'
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.content)
    assert data["format"] == "dyade-personal-data"
    assert data["account"]["email"] == cast.professional.email
    assert data["account"]["organisation"] == cast.org.name
    assert data["roles"] == ["professional"]
    assert data["coaches"] == [{"id": cast.coach.id, "name": cast.coach.display_name}]
    assert [r["pseudonym"] for r in data["focus_relationships"]] == [PSEUDONYM]
    (trajectory,) = data["trajectories"]
    assert trajectory["id"] == rich.trajectory.id
    answers = [a for s in trajectory["sessions"] for a in s["narrative_answers"]]
    assert {a["text"] for a in answers} >= {NARRATIVE, DRAFT}
    assert next(a for a in answers if a["text"] == DRAFT)["draft"] is True
    assert next(a for a in answers if a["text"] == NARRATIVE)["words"] == WORDS
    responses = [r for s in trajectory["sessions"] for r in s["instrument_responses"]]
    assert {r["phase"] for r in responses} == {"baseline", "post"}
    assert all(r["scores"] and r["answers"] for r in responses)
    (coding,) = [c for s in trajectory["sessions"] for c in s["codings"]]
    assert coding["ratings"] == {"sensitivity": 5, "anger": 2}
    assert coding["coach_name"] == cast.coach.display_name
    assert [(e["quote"], e["note"]) for e in coding["evidence"]] == [(QUOTE, NOTE)]
    assert trajectory["diary"][0]["values"]["what_happened"] == DIARY
    assert trajectory["pulse"][0]["answers"] == {"closeness": 4, "anger": 2}
    assert trajectory["experiment_log"][0]["what_i_did"] == EXPERIMENT
    assert trajectory["feedback"][0]["text"] == FEEDBACK
    consent = trajectory["consent_records"]
    assert [(c["purpose"], c["given"], c["wording_version"]) for c in consent] == [
        ("programme", True, 1)
    ]
    assert data["notifications"][0]["kind"] == "feedback"
    assert data["logins"] and data["logins"][0]["user_agent"] == "pytest"
    # No secrets, not even hashed ones.
    assert "password_hash" not in response.text and "token_hash" not in response.text
    assert cast.professional.password_hash not in response.text
    recorded = db.exec(
        select(AuditEvent.action, AuditEvent.detail).where(
            AuditEvent.subject_user_id == cast.professional.id
        )
    ).all()
    assert ("personal_data.export", "format=json") in recorded


def test_the_page_is_readable_and_the_pdf_has_the_same(
    client: Client, cast: Cast, db: Session
) -> None:
    rich_trajectory(client, db, cast)
    page = client.get("/account/data")
    assert page.status_code == 200
    for text in (NARRATIVE, DRAFT, DIARY, EXPERIMENT, FEEDBACK, QUOTE, cast.professional.email):
        assert text in page.text
    assert "concept" in page.text  # the draft is marked as one (Dutch)
    assert "Nabijheid 3,0" in page.text  # scores named and written the Dutch way
    assert 'href="/account/data.json"' in page.text and "no-print" in page.text
    pdf = client.get("/account/data.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    text = text_of(pdf.content)
    for fragment in ("In de kring zat Kiki stil", "Nog niet af", "Hij gooide zijn beker"):
        assert fragment in text


def test_the_account_page_links_to_the_download_and_consent(client: Client, cast: Cast) -> None:
    client.login_as(cast.professional)
    page = client.get("/account").text
    assert 'href="/account/data"' in page and 'href="/account/consent"' in page
    client.login_as(cast.coach)
    page = client.get("/account").text
    assert 'href="/account/data"' in page and 'href="/account/consent"' not in page


def test_a_download_holds_nobody_elses_data(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    rich_trajectory(make_client(), db, cast)
    client.login_as(cast.unassigned_professional)
    data = client.get("/account/data.json").text
    assert cast.unassigned_professional.email in data
    for text in (NARRATIVE, DRAFT, PSEUDONYM, cast.professional.email):
        assert text not in data
    # The coach's download is their own account, not their coachees' narratives.
    client.login_as(cast.coach)
    data = client.get("/account/data.json").text
    assert NARRATIVE not in data and DRAFT not in data


def test_the_data_loads_in_a_fixed_number_of_queries(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    rich_trajectory(client, db, cast)
    user_id = cast.professional.id or 0
    one = count_queries(lambda: load_personal_data(db, user_id=user_id, locale="nl"))
    # A second trajectory with everything in it, and more audit rows: the same count.
    second = make_client()
    second.login_as(cast.professional)
    from tests.test_reflection import start

    start(second, db)
    for _ in range(3):
        client.get("/account/data")
    db.expire_all()
    two = count_queries(lambda: load_personal_data(db, user_id=user_id, locale="nl"))
    assert one == two
    assert one <= 20


def test_an_admin_answers_a_data_request_with_a_stated_reason(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    rich_trajectory(make_client(), db, cast)
    client.login_as(cast.admin)
    url = f"/admin/users/{cast.professional.id}/data.json"
    assert url in client.get(f"/admin/users/{cast.professional.id}").text
    form = client.get(url)
    assert form.status_code == 200 and 'name="reason"' in form.text
    short = client.get(url, params={"reason": "kort"})
    assert 'href="#field-reason"' in short.text and 'value="kort"' in short.text
    response = client.get(url, params={"reason": "Schriftelijk verzoek van Pim, 1 december"})
    assert response.headers["content-disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["account"]["email"] == cast.professional.email
    assert DRAFT in response.text
    (event,) = db.exec(
        select(AuditEvent).where(
            AuditEvent.actor_id == cast.admin.id, AuditEvent.action == "personal_data.export"
        )
    ).all()
    assert event.subject_user_id == cast.professional.id
    assert event.detail == "format=json; reason: Schriftelijk verzoek van Pim, 1 december"
    client.login_as(cast.outsider_admin)
    assert client.get(url, params={"reason": "Schriftelijk verzoek"}).status_code == 404
