"""The trajectory report: who may see it, what it shows, its language, the PDF."""

from __future__ import annotations

import re
import zlib
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from app.coaching.report_pdf import pdf_text
from app.models import AuditEvent, Coding, InstrumentResponse, Trajectory, User, utcnow
from tests.conftest import Cast, Client
from tests.test_reflection import do_intake, make_relationship

PSEUDONYM = "Kiki 🌟 小明"
WORDS = ["warm 😊", "安心", "taai—ja"]
NARRATIVE = "In de kring zat Kiki stil"


def build(client: Client, db: Session, cast: Cast) -> Trajectory:
    """A trajectory with an intake, a later measurement, three words and a coach summary."""
    client.login_as(cast.professional)
    relationship_id = make_relationship(client, pseudonym=PSEUDONYM)
    response = client.post_form(f"/relationships/{relationship_id}/trajectories")
    assert response.status_code == 303
    trajectory = db.get(Trajectory, int(response.headers["location"].rsplit("/", 1)[1]))
    assert trajectory is not None
    sessions = {s.template_key: s for s in _sessions(db, trajectory)}
    do_intake(client, sessions["intake"].id or 0)
    response = client.post(
        f"/sessions/{sessions['interview'].id}/steps/three_words",
        data={"csrf_token": client.csrf(), "words": WORDS, "text": NARRATIVE, "version": "0"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    # A later measurement of every intake questionnaire, one point higher.
    intake = db.exec(
        select(InstrumentResponse).where(InstrumentResponse.session_id == sessions["intake"].id)
    ).all()
    for row in intake:
        db.add(
            InstrumentResponse(
                organisation_id=row.organisation_id,
                session_id=sessions["post"].id,  # type: ignore[arg-type]
                trajectory_id=row.trajectory_id,
                step_key=row.step_key,
                phase="post",
                instrument_key=row.instrument_key,
                instrument_version=row.instrument_version,
                answers=row.answers,
                scores={k: v + 1 for k, v in row.scores.items() if v is not None},
                completed_at=utcnow() + timedelta(days=42),
            )
        )
    trajectory.coach_summary = "Goed bezig 👍 — 很好, “echt”."
    db.add(trajectory)
    db.commit()
    return trajectory


def _sessions(db: Session, trajectory: Trajectory) -> list:  # type: ignore[type-arg]
    from app.models import ReflectionSession

    return list(
        db.exec(
            select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory.id)
        ).all()
    )


def add_coding(db: Session, cast: Cast, trajectory: Trajectory, *, released: bool) -> None:
    interview = next(s for s in _sessions(db, trajectory) if s.template_key == "interview")
    db.add(
        Coding(
            organisation_id=trajectory.organisation_id,
            session_id=interview.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            coach_id=cast.coach.id,
            ratings={"sensitivity": 5, "anger": 2},
            released_at=utcnow() if released else None,
        )
    )
    db.commit()


def text_of(pdf: bytes) -> str:
    """The text drawn in a PDF made by fpdf2 (its content streams, decompressed)."""
    found = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            found.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            found.append(stream.decode("latin-1"))
    return "\n".join(found)


@pytest.fixture
def trajectory(client: Client, db: Session, cast: Cast) -> Trajectory:
    return build(client, db, cast)


def test_the_owner_gets_the_page_and_the_pdf(
    client: Client, cast: Cast, trajectory: Trajectory
) -> None:
    page = client.get(f"/trajectories/{trajectory.id}/report")
    assert page.status_code == 200
    html = page.text
    assert "Pim Prof" in html and "Kiki 🌟 小明" in html
    assert "Vragenlijsten in de loop van de tijd" in html
    assert "chart--scores" in html
    for word in WORDS:
        assert word in html
    assert "Goed bezig 👍" in html
    assert NARRATIVE not in html  # no narrative texts except the three words
    pdf = client.get(f"/trajectories/{trajectory.id}/report.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"/Type /Page" in pdf.content
    disposition = pdf.headers["content-disposition"]
    assert disposition == f'attachment; filename="dyade-report-{trajectory.id}.pdf"'
    assert "Kiki" not in disposition


def test_the_pdf_survives_emoji_and_cjk(client: Client, trajectory: Trajectory) -> None:
    text = text_of(client.get(f"/trajectories/{trajectory.id}/report.pdf").content)
    assert "Kiki ? ??" in text
    assert "taai-ja" in text
    assert "Goed bezig ? - ??" in text


def test_the_assigned_coach_gets_both(
    client: Client, cast: Cast, db: Session, trajectory: Trajectory
) -> None:
    client.login_as(cast.coach)
    assert client.get(f"/trajectories/{trajectory.id}/report").status_code == 200
    pdf = client.get(f"/trajectories/{trajectory.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_an_admin_needs_a_reason(client: Client, cast: Cast, trajectory: Trajectory) -> None:
    client.login_as(cast.admin)
    for path in ("report", "report.pdf"):
        asked = client.get(f"/trajectories/{trajectory.id}/{path}")
        assert asked.status_code == 200
        assert 'name="reason"' in asked.text
        assert f'action="/trajectories/{trajectory.id}/{path}"' in asked.text
    reason = "?reason=Klacht van de professional"
    page = client.get(f"/trajectories/{trajectory.id}/report{reason}")
    assert page.status_code == 200 and "Relatieprofiel" in page.text
    pdf = client.get(f"/trajectories/{trajectory.id}/report.pdf{reason}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    "who",
    ["other_coach", "supervisor", "unassigned_professional", "outsider_admin", "outsider_coach"],
)
def test_other_people_get_404(client: Client, cast: Cast, trajectory: Trajectory, who: str) -> None:
    client.login_as(getattr(cast, who))
    for path in ("report", "report.pdf", "report?reason=Ik+wil+het+gewoon+zien"):
        assert client.get(f"/trajectories/{trajectory.id}/{path}").status_code == 404


def test_an_unknown_or_malformed_id_is_404(client: Client, cast: Cast) -> None:
    client.login_as(cast.coach)
    for path in ("999/report", "999/report.pdf", "0/report", "abc/report.pdf"):
        assert client.get(f"/trajectories/{path}").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client: Client, trajectory: Trajectory) -> None:
    client.cookies.clear()
    response = client.get(f"/trajectories/{trajectory.id}/report", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_every_view_and_download_is_audited(
    client: Client, cast: Cast, db: Session, trajectory: Trajectory
) -> None:
    client.get(f"/trajectories/{trajectory.id}/report")
    client.login_as(cast.coach)
    client.get(f"/trajectories/{trajectory.id}/report.pdf")
    client.login_as(cast.admin)
    client.get(f"/trajectories/{trajectory.id}/report.pdf?reason=Verzoek om inzage")
    rows = db.exec(
        select(AuditEvent).where(AuditEvent.action.in_(["report.view", "report.download"]))  # type: ignore[attr-defined]
    ).all()
    seen = {(r.action, r.actor_role, r.actor_id) for r in rows}
    assert seen == {
        ("report.view", "professional", cast.professional.id),
        ("report.download", "coach", cast.coach.id),
        ("report.download", "admin", cast.admin.id),
    }
    assert all(r.subject_user_id == cast.professional.id for r in rows)
    admin_row = next(r for r in rows if r.actor_role == "admin")
    assert admin_row.reason == "Verzoek om inzage"
    assert all(r.relationship_pseudonym for r in rows if r.actor_role != "professional")


def test_the_report_is_in_the_professionals_language(
    client: Client, cast: Cast, db: Session, trajectory: Trajectory
) -> None:
    coach = db.get(User, cast.coach.id)
    assert coach is not None
    coach.locale = "en"
    db.add(coach)
    db.commit()
    client.login_as(coach)
    html = client.get(f"/trajectories/{trajectory.id}/report").text
    assert '<html lang="nl">' in html
    assert "Vragenlijsten in de loop van de tijd" in html
    assert "Questionnaires over time" not in html
    text = text_of(client.get(f"/trajectories/{trajectory.id}/report.pdf").content)
    assert "Vragenlijsten in de loop van de tijd" in text
    assert "Questionnaires over time" not in text
    # The coach's own pages stay in English.
    assert "Questionnaires over time" in client.get(f"/coach/trajectories/{trajectory.id}").text


def test_an_english_speaking_professional_gets_english(
    client: Client, cast: Cast, db: Session, trajectory: Trajectory
) -> None:
    professional = db.get(User, cast.professional.id)
    assert professional is not None
    professional.locale = "en"
    db.add(professional)
    db.commit()
    client.login_as(cast.coach)
    assert "Questionnaires over time" in client.get(f"/trajectories/{trajectory.id}/report").text
    text = text_of(client.get(f"/trajectories/{trajectory.id}/report.pdf").content)
    assert "Questionnaires over time" in text


def test_only_a_released_profile_is_shown(
    client: Client, cast: Cast, db: Session, trajectory: Trajectory
) -> None:
    add_coding(db, cast, trajectory, released=False)
    assert "chart--profile" not in client.get(f"/trajectories/{trajectory.id}/report").text
    client.login_as(cast.coach)
    assert "chart--profile" not in client.get(f"/trajectories/{trajectory.id}/report").text
    coding = db.exec(select(Coding)).one()
    coding.released_at = utcnow()
    db.add(coding)
    db.commit()
    assert "chart--profile" in client.get(f"/trajectories/{trajectory.id}/report").text
    text = text_of(client.get(f"/trajectories/{trajectory.id}/report.pdf").content)
    assert "Relatieprofiel" in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("plain ASCII", "plain ASCII"),
        ("één café", "één café"),
        ("−3 to +3 – “so” ‘it’ …", "-3 to +3 - \"so\" 'it' ..."),
        ("▲ better ▼ worse", "^ better v worse"),
        ("👩\u200d🏫 ok", "?? ok"),
        ("小明", "??"),
        ("ő ł", "o ?"),
        ("a\x00b", "ab"),
    ],
)
def test_pdf_text_keeps_to_latin_1(given: str, expected: str) -> None:
    assert pdf_text(given) == expected
    pdf_text(given).encode("latin-1")


def test_a_chart_that_cannot_be_drawn_leaves_its_table(
    client: Client, cast: Cast, db: Session, trajectory: Trajectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from markupsafe import Markup

    from app.coaching import report_routes

    add_coding(db, cast, trajectory, released=True)
    monkeypatch.setattr(report_routes, "_series_chart", lambda *_args: Markup("<svg><broken"))
    monkeypatch.setattr(report_routes, "profile_svg", lambda *_args: Markup("<nonsense/>"))
    pdf = client.get(f"/trajectories/{trajectory.id}/report.pdf")
    assert pdf.status_code == 200
    text = text_of(pdf.content)
    assert "Nabijheid" in text and "Meting" in text
    assert "Sensitiviteit en afstemming" in text
