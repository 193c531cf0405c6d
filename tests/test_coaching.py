"""The coach's workspace: caseload, trajectory page, coding, profile release, feedback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlmodel import Session, select

from app.db import get_engine
from app.models import (
    AuditEvent,
    Coding,
    DiaryEntry,
    Feedback,
    Notification,
    OutboxMessage,
    ReflectionSession,
    SessionStatus,
    utcnow,
)
from tests.conftest import Cast, Client
from tests.test_reflection import do_intake, start


def finish_interview(client: Client, session_id: int) -> None:
    client.post(
        f"/sessions/{session_id}/steps/three_words",
        data={
            "csrf_token": client.csrf(),
            "words": ["warm", "onrustig", "taai"],
            "text": "Episodes",
            "version": "0",
        },
        follow_redirects=False,
    )
    for step in (
        "connected",
        "not_connected",
        "upset",
        "angry",
        "helpless",
        "guilty",
        "seen_by",
        "needs",
        "compared",
        "keep",
        "hopes",
    ):
        response = client.post_form(
            f"/sessions/{session_id}/steps/{step}",
            {"text": f"Over {step}: wat er gebeurde", "version": "0"},
        )
        assert response.status_code == 303


def test_the_caseload_lists_assigned_professionals_with_flags(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    _trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    interview = db.get(ReflectionSession, sessions["interview"].id)
    assert interview is not None
    interview.status = SessionStatus.in_progress
    interview.last_activity_at = utcnow() - timedelta(days=30)
    db.add(interview)
    db.commit()
    client.login_as(cast.coach)
    page = client.get("/coach").text
    assert "Pim Prof" in page and "Kiki" in page
    assert "Stilgevallen" in page
    assert "Pia Prof" not in page  # not assigned to this coach
    only_strain = client.get("/coach?flag=high_strain").text
    assert "Kiki" not in only_strain
    fragment = client.get("/coach?sort=name", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and "Kiki" in fragment


def test_another_coach_gets_404_and_an_admin_must_give_a_reason(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _ = start(professional, db)
    client.login_as(cast.other_coach)
    assert client.get(f"/coach/trajectories/{trajectory.id}").status_code == 404
    admin = make_client().login_as(cast.admin)
    form = admin.get(f"/coach/trajectories/{trajectory.id}")
    assert "Waarom heb je toegang nodig?" in form.text
    short = admin.get(f"/coach/trajectories/{trajectory.id}?reason=kort")
    assert "minstens 10 tekens" in short.text
    page = admin.get(f"/coach/trajectories/{trajectory.id}?reason=Verzoek van de professional")
    assert "Pim Prof over Kiki" in page.text
    reasons = db.exec(select(AuditEvent.reason).where(AuditEvent.actor_id == cast.admin.id)).all()
    assert "Verzoek van de professional" in reasons
    outsider = make_client().login_as(cast.outsider_admin)
    assert (
        outsider.get(f"/coach/trajectories/{trajectory.id}?reason=0123456789abc").status_code == 404
    )


def test_the_trajectory_page_shows_charts_words_and_is_audited(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    finish_interview(professional, sessions["interview"].id)
    client.login_as(cast.coach)
    page = client.get(f"/coach/trajectories/{trajectory.id}").text
    assert page.count("<svg") >= 9  # one chart per subscale of the four questionnaires
    assert 'role="img"' in page
    assert "warm" in page and "Over connected: wat er gebeurde" in page
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.actor_id == cast.coach.id)).all()
    assert "trajectory.view" in actions


def count_queries(run) -> int:  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def before(*args: object) -> None:
        statements.append(str(args[2]))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", before)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(statements)


def test_the_trajectory_page_loads_in_a_fixed_number_of_queries(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    client.login_as(cast.coach)
    url = f"/coach/trajectories/{trajectory.id}"
    few = count_queries(lambda: client.get(url))
    for day in range(40):
        db.add(
            DiaryEntry(
                organisation_id=cast.org.id,
                trajectory_id=trajectory.id,  # type: ignore[arg-type]
                occurred_on=utcnow().date() - timedelta(days=day),
                phase="baseline",
                instrument_version=1,
                values={"valence": 1, "anger": 3},
            )
        )
    finish_interview(professional, sessions["interview"].id)
    db.commit()
    many = count_queries(lambda: client.get(url))
    assert many == few, (few, many)


def test_coding_release_and_the_professional_sees_the_profile(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    finish_interview(professional, sessions["interview"].id)
    interview = sessions["interview"].id
    client.login_as(cast.coach)
    assert "Het verhaal coderen" in client.get(f"/coach/sessions/{interview}/coding").text
    bad = client.post_form(f"/coach/sessions/{interview}/coding", {"rating-sensitivity": "9"})
    assert bad.status_code == 422
    assert (
        client.post_form(
            f"/coach/sessions/{interview}/coding", {"rating-sensitivity": "6", "rating-anger": "2"}
        ).status_code
        == 303
    )
    coding = db.exec(select(Coding)).one()
    assert coding.ratings == {"sensitivity": 6, "anger": 2}
    evidence = client.post_form(
        f"/coach/sessions/{interview}/evidence",
        {
            "step_key": "connected",
            "quote": "wat er gebeurde",
            "note": "sensitief",
            "dimension": "sensitivity",
        },
    )
    assert evidence.status_code == 303
    assert (
        "Je coach heeft nog geen profiel vrijgegeven"
        in professional.get(f"/trajectories/{trajectory.id}/profile").text
    )
    assert client.post_form(f"/coach/sessions/{interview}/release").status_code == 303
    profile = professional.get(f"/trajectories/{trajectory.id}/profile").text
    assert "<svg" in profile and "Relatieprofiel" in profile
    assert db.exec(select(Notification).where(Notification.user_id == cast.professional.id)).first()
    # In the reflection session the professional sees the profile beside the prompt.
    reflection = db.get(ReflectionSession, sessions["reflection"].id)
    assert reflection is not None
    reflection.status = SessionStatus.open
    db.add(reflection)
    db.commit()
    step = professional.get(f"/sessions/{reflection.id}/steps/patterns").text
    assert "Je relatieprofiel" in step and "<svg" in step


def test_feedback_reaches_the_professional_without_content_in_the_email(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    client.login_as(cast.coach)
    empty = client.post_form(f"/coach/trajectories/{trajectory.id}/feedback", {"feedback": " "})
    assert empty.status_code == 422
    secret = "Mooi hoe je Kiki opving in de kring"
    sent = client.post_form(f"/coach/trajectories/{trajectory.id}/feedback", {"feedback": secret})
    assert sent.status_code == 303
    page = professional.get(f"/trajectories/{trajectory.id}").text
    assert secret in page
    assert db.exec(select(Feedback)).one().read_at is not None
    mail = db.exec(
        select(OutboxMessage).where(OutboxMessage.to_address == cast.professional.email)
    ).one()
    assert secret not in mail.body_text and "Kiki" not in mail.body_text
    assert f"/trajectories/{trajectory.id}" in mail.body_text
    assert "geschreven" in professional.get("/notifications").text


def test_the_caseload_loads_in_a_fixed_number_of_queries(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    start(professional, db)
    client.login_as(cast.coach)
    one = count_queries(lambda: client.get("/coach"))
    for _ in range(3):
        _trajectory, sessions = start(professional, db)
        do_intake(professional, sessions["intake"].id)
    four = count_queries(lambda: client.get("/coach"))
    assert four == one, (one, four)
    assert "Kiki" in client.get("/coach").text
