"""The coach's workspace: caseload, trajectory page, coding, profile release, feedback."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from app.coaching.service import load_trajectory_view
from app.db import get_engine
from app.instruments.loader import builtin_definition
from app.instruments.scoring import score_response
from app.models import (
    AuditEvent,
    Coding,
    DiaryEntry,
    Feedback,
    InstrumentResponse,
    NarrativeAnswer,
    Notification,
    OutboxMessage,
    ReflectionSession,
    SessionStatus,
    Trajectory,
    utcnow,
)
from tests.conftest import Cast, Client
from tests.test_reflection import do_intake, start


def _diary_entry(cast: Cast, trajectory: Any, days_ago: int, values: dict[str, Any]) -> DiaryEntry:
    return DiaryEntry(
        organisation_id=cast.org.id,
        trajectory_id=trajectory.id,
        occurred_on=utcnow().date() - timedelta(days=days_ago),
        phase="baseline",
        instrument_version=1,
        values=values,
    )


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


def interviewed(
    make_client: type[Client], cast: Cast, db: Session
) -> tuple[Client, Trajectory, dict[str, ReflectionSession]]:
    """The professional's trajectory, with the intake done and the interview finished."""
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    finish_interview(professional, sessions["interview"].id)
    return professional, trajectory, sessions


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
    viewed = db.exec(
        select(AuditEvent.subject_user_id).where(
            AuditEvent.actor_id == cast.coach.id, AuditEvent.action == "caseload.view"
        )
    ).all()
    # Each view, for each person shown: not for the filtered view that hid Pim Prof.
    assert viewed == [cast.professional.id, cast.professional.id]


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
    _, trajectory, _sessions = interviewed(make_client, cast, db)
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
        db.add(_diary_entry(cast, trajectory, day, {"valence": 1, "anger": 3}))
    finish_interview(professional, sessions["interview"].id)
    db.commit()
    many = count_queries(lambda: client.get(url))
    assert many == few, (few, many)


def test_coding_release_and_the_professional_sees_the_profile(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional, trajectory, sessions = interviewed(make_client, cast, db)
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


def test_feedback_that_is_refused_keeps_the_chosen_diary_moment(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    entries = [
        _diary_entry(cast, trajectory, day, {"what_happened": f"<b>Moment {day}</b> & co"})
        for day in range(3)
    ]
    db.add_all(entries)
    db.commit()
    client.login_as(cast.coach)
    chosen = f"diary-{entries[1].id}"

    page = client.post_form(
        f"/coach/trajectories/{trajectory.id}/feedback", {"feedback": " ", "target": chosen}
    )

    assert page.status_code == 422
    options = re.findall(r'<option value="(diary-\d+)"( selected)?>', page.text)
    assert [value for value, selected in options if selected] == [chosen]
    assert len(options) == 3
    # The diary list shows what was written as text, newest first.
    assert "&lt;b&gt;Moment 0&lt;/b&gt; &amp; co" in page.text
    assert "<b>Moment" not in page.text
    assert page.text.index("Moment 0") < page.text.index("Moment 2")


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


# ------------------------------------------------------------------ acceptance checks


def _complete_response(
    db: Session, cast: Cast, trajectory_id: int, session: ReflectionSession, key: str, value: int
) -> None:
    """A finished questionnaire in a later session, every item answered with `value`."""
    from app.instruments.loader import builtin_definition
    from app.instruments.scoring import score_response
    from app.models import InstrumentResponse

    definition = builtin_definition(key)
    answers = {item.key: value for item in definition.items}
    scores = score_response(definition, answers)
    db.add(
        InstrumentResponse(
            organisation_id=cast.org.id,  # type: ignore[arg-type]
            session_id=session.id,  # type: ignore[arg-type]
            trajectory_id=trajectory_id,
            step_key=key,
            phase=session.phase,
            instrument_key=key,
            instrument_version=definition.version,
            answers=answers,
            scores={k: s.value for k, s in scores.items()},
            completed_at=utcnow(),
        )
    )


def test_the_caseload_flags_deterioration_strain_and_distress_and_filters_on_them(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)  # every item answered 3
    post = db.get(ReflectionSession, sessions["post"].id)
    assert post is not None
    _complete_response(db, cast, trajectory.id, post, "relationship", 5)  # conflict 3 → 5
    _complete_response(db, cast, trajectory.id, post, "strain", 5)  # "always" exhausted
    _complete_response(db, cast, trajectory.id, post, "empathy", 1)
    db.commit()
    quiet = make_client().login_as(cast.professional)
    start(quiet, db)  # a second programme without any of these signs
    client.login_as(cast.coach)
    page = client.get("/coach").text
    assert page.count("tag--flag tag--deterioration") == 1
    assert page.count("tag--flag tag--high_strain") == 1
    rows = client.get("/coach?flag=deterioration").text
    assert rows.count('href="/coach/trajectories/') == 1
    assert f'href="/coach/trajectories/{trajectory.id}"' in rows
    assert client.get("/coach?flag=high_strain").text.count('href="/coach/trajectories/') == 1
    # Needs attention first: the flagged programme is the first row.
    first = re.search(r'href="/coach/trajectories/(\d+)"', client.get("/coach").text)
    assert first is not None and int(first.group(1)) == trajectory.id


def test_the_distress_flag_compares_empathic_distress_with_compassion(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    from app.coaching.service import caseload
    from app.deps import Actor

    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    post = db.get(ReflectionSession, sessions["post"].id)
    assert post is not None
    from app.instruments.loader import builtin_definition

    definition = builtin_definition("empathy")
    answers = {
        item.key: 5 if item.subscale == "empathic_distress" else 1 for item in definition.items
    }
    from app.instruments.scoring import score_response
    from app.models import InstrumentResponse

    db.add(
        InstrumentResponse(
            organisation_id=cast.org.id,  # type: ignore[arg-type]
            session_id=post.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            step_key="empathy",
            phase="post",
            instrument_key="empathy",
            instrument_version=definition.version,
            answers=answers,
            scores={k: s.value for k, s in score_response(definition, answers).items()},
            completed_at=utcnow(),
        )
    )
    db.commit()
    actor = Actor.for_user(
        cast.coach, roles=frozenset({"coach"}), session_id=0, session_token_hash=""
    )
    (row,) = caseload(db, actor=actor)
    assert "distress" in row.flags
    client.login_as(cast.coach)
    assert "Meer empathische stress dan compassie" in client.get("/coach?flag=distress").text


def test_two_coaches_code_the_same_narrative_and_see_their_agreement(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    from app.models import CoachAssignment

    db.add(
        CoachAssignment(
            organisation_id=cast.org.id,  # type: ignore[arg-type]
            coach_id=cast.other_coach.id,  # type: ignore[arg-type]
            professional_id=cast.professional.id,  # type: ignore[arg-type]
        )
    )
    db.commit()
    _, trajectory, sessions = interviewed(make_client, cast, db)
    interview = sessions["interview"].id
    first = {"rating-sensitivity": "6", "rating-anger": "2", "rating-helplessness": "3"}
    second = {"rating-sensitivity": "5", "rating-anger": "2", "rating-helplessness": "4"}
    client.login_as(cast.coach)
    assert client.post_form(f"/coach/sessions/{interview}/coding", first).status_code == 303
    other = make_client().login_as(cast.other_coach)
    assert other.post_form(f"/coach/sessions/{interview}/coding", second).status_code == 303
    coding_page = other.get(f"/coach/sessions/{interview}/coding").text
    assert "1 andere coach heeft dit verhaal gecodeerd" in coding_page
    assert "ICC" in coding_page
    page = client.get(f"/coach/trajectories/{trajectory.id}").text
    assert re.search(r"Overeenstemming tussen twee coaches \(ICC\): [−\d]", page), page[-3000:]
    assert page.count("Gecodeerd door") == 2


def test_an_admin_with_a_reason_reads_only(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    client.login_as(cast.admin)
    page = client.get(
        f"/coach/trajectories/{trajectory.id}?reason=Verzoek om inzage door de professional"
    ).text
    assert "Pim Prof over Kiki" in page
    # No links into pages that only the professional and the coach may open, no forms.
    assert f"/sessions/{sessions['intake'].id}/summary" not in page
    assert "/feedback" not in page and "Codeer dit verhaal" not in page
    assert client.get(f"/sessions/{sessions['intake'].id}/summary").status_code == 404


def test_the_page_that_reads_a_message_no_longer_counts_it(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    # The count comes with the login check; a page that marks messages read counts again.
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    client.login_as(cast.coach)
    client.post_form(f"/coach/trajectories/{trajectory.id}/feedback", {"feedback": "Goed bezig."})
    assert 'class="badge">1<' in professional.get("/home").text

    page = professional.get(f"/trajectories/{trajectory.id}").text  # reads the feedback

    assert "Goed bezig." in page
    assert 'class="badge"' not in page


def test_a_new_message_marks_the_count_out_of_date(cast: Cast, db: Session) -> None:
    from app.notify import unread_may_have_changed

    assert not unread_may_have_changed(db)
    db.add(
        Notification(
            organisation_id=cast.org.id, user_id=cast.coach.id, kind="feedback", link="/home"
        )
    )
    assert unread_may_have_changed(db)  # before the flush
    db.flush()
    assert unread_may_have_changed(db)  # and after it


def test_new_messages_are_counted_in_the_menu_until_read(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    assert 'class="badge"' not in professional.get("/home").text
    assert 'href="/notifications"' in professional.get("/home").text
    client.login_as(cast.coach)
    client.post_form(f"/coach/trajectories/{trajectory.id}/feedback", {"feedback": "Goed bezig."})
    home = professional.get("/home").text
    assert re.search(r'class="badge">1<span class="visually-hidden"> nieuw', home)
    assert "Je coach heeft je geschreven." in professional.get("/notifications").text
    professional.get(f"/trajectories/{trajectory.id}")  # reading the feedback
    assert 'class="badge"' not in professional.get("/home").text
    # Error pages show the menu too, without counting (the request's session is closed).
    assert professional.get("/trajectories/999999").status_code == 404


def test_the_trajectory_page_stays_flat_with_codings_feedback_and_experiments(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    from app.models import CodingEvidence, ExperimentLogEntry

    _, trajectory, sessions = interviewed(make_client, cast, db)
    client.login_as(cast.coach)
    interview = sessions["interview"].id
    client.post_form(f"/coach/sessions/{interview}/coding", {"rating-sensitivity": "5"})
    client.post_form(f"/coach/trajectories/{trajectory.id}/feedback", {"feedback": "Eerste."})
    url = f"/coach/trajectories/{trajectory.id}"
    few = count_queries(lambda: client.get(url))
    coding = db.exec(select(Coding)).one()
    for day in range(20):
        when = utcnow().date() - timedelta(days=day)
        entry = DiaryEntry(
            organisation_id=cast.org.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            occurred_on=when,
            phase="interview",
            instrument_version=1,
            values={"valence": -1, "hidden": 3, "what_happened": f"Dag {day}"},
        )
        db.add(entry)
        db.add(
            ExperimentLogEntry(
                organisation_id=cast.org.id,  # type: ignore[arg-type]
                trajectory_id=trajectory.id,  # type: ignore[arg-type]
                occurred_on=when,
                what_i_did=f"Begroet op dag {day}",
                how_it_went=3,
            )
        )
        db.add(
            CodingEvidence(
                organisation_id=cast.org.id,  # type: ignore[arg-type]
                coding_id=coding.id,  # type: ignore[arg-type]
                step_key="connected",
                quote=f"passage {day}",
            )
        )
        db.flush()
        db.add(
            Feedback(
                organisation_id=cast.org.id,  # type: ignore[arg-type]
                trajectory_id=trajectory.id,  # type: ignore[arg-type]
                diary_entry_id=entry.id,
                coach_id=cast.coach.id,
                text=f"Over dag {day}",
            )
        )
    post = db.get(ReflectionSession, sessions["post"].id)
    assert post is not None
    for key in ("relationship", "efficacy", "strain", "empathy"):
        _complete_response(db, cast, trajectory.id, post, key, 4)  # type: ignore[arg-type]
    db.commit()
    many = count_queries(lambda: client.get(url))
    assert many == few, (few, many)
    page = client.get(url).text
    assert "Over dag 19" in page and "Begroet op dag 19" in page
    # The diary per phase: every emotion's frequency and the share of hidden feelings.
    diary = page.split('id="diary"', 1)[1].split('id="experiments"', 1)[0]
    for emotion in ("Boosheid", "Machteloosheid", "Onrust of angst", "Schuldgevoel", "Trots"):
        assert emotion in diary, emotion
    assert 'data-label="Verborgen of gespeelde gevoelens">100%' in diary


def test_an_admin_finds_a_persons_programmes_without_their_content(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _sessions = start(professional, db)
    client.login_as(cast.admin)
    page = client.get(f"/admin/users/{cast.professional.id}").text
    assert f'href="/coach/trajectories/{trajectory.id}"' in page
    assert "Kiki" not in page  # the pseudonym only after stating a reason
    reason = client.get(f"/coach/trajectories/{trajectory.id}").text
    assert "Waarom heb je toegang nodig?" in reason


def test_coding_a_later_narrative_shows_the_change_and_the_words_side_by_side(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional, trajectory, sessions = interviewed(make_client, cast, db)
    client.login_as(cast.coach)
    interview, post = sessions["interview"].id, sessions["post"].id
    client.post_form(f"/coach/sessions/{interview}/coding", {"rating-sensitivity": "3"})
    client.post_form(f"/coach/sessions/{interview}/release")
    later = db.get(ReflectionSession, post)
    assert later is not None
    later.status = SessionStatus.open
    db.add(later)
    db.commit()
    response = professional.post(
        f"/sessions/{post}/steps/three_words",
        data={
            "csrf_token": professional.csrf(),
            "words": ["rustig", "warm", "open"],
            "text": "Rustig: gisteren bleef Kiki bij me staan.",
            "version": "0",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    client.post_form(f"/coach/sessions/{post}/coding", {"rating-sensitivity": "6"})
    coding = client.get(f"/coach/sessions/{post}/coding").text
    # The new profile is drawn with the earlier coding as a second marker.
    assert "eerder 3" in coding
    client.post_form(f"/coach/sessions/{post}/release")
    profile = professional.get(f"/trajectories/{trajectory.id}/profile").text
    assert "eerder 3" in profile
    page = client.get(f"/coach/trajectories/{trajectory.id}").text
    side = page.split("Dezelfde vraag, naast elkaar", 1)[1].split('id="diary"', 1)[0]
    assert "onrustig" in side and "rustig" in side and "Na zes weken" in side


def test_the_coach_sees_change_judged_by_the_organisations_own_data_from_30_baselines(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    definition = builtin_definition("relationship")

    def response(session_key: str, step_key: str, phase: str, answers: dict[str, int]) -> None:
        db.add(
            InstrumentResponse(
                organisation_id=cast.org.id,  # type: ignore[arg-type]
                session_id=sessions[session_key].id,  # type: ignore[arg-type]
                trajectory_id=trajectory.id,  # type: ignore[arg-type]
                step_key=step_key,
                phase=phase,
                instrument_key="relationship",
                instrument_version=1,
                answers=answers,
                scores={k: v.value for k, v in score_response(definition, answers).items()},
                completed_at=utcnow(),
            )
        )

    response("post", "relationship", "post", {i.key: 5 for i in definition.items})
    db.commit()
    view = load_trajectory_view(db, trajectory=trajectory)
    closeness = next(s for s in view.series if s.subscale_key == "closeness")
    assert closeness.latest_change is not None
    assert closeness.latest_change.provisional  # the file's estimate: only the intake

    # 30 baseline responses of the organisation (stand-ins for other professionals'),
    # varied so that SD and Cronbach's alpha can be estimated.
    for n in range(30):
        level = 1 + n % 5
        answers = {
            i.key: min(5, max(1, level + (k % 3) - 1)) for k, i in enumerate(definition.items)
        }
        response("intake", f"baseline_{n}", "baseline", answers)
    db.commit()
    view = load_trajectory_view(db, trajectory=trajectory)
    closeness = next(s for s in view.series if s.subscale_key == "closeness")
    assert closeness.latest_change is not None
    assert not closeness.latest_change.provisional


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_the_trajectory_pages_names_are_the_label_macros_words(locale: str) -> None:
    """The page looks phases, changes and statuses up in a table instead of calling the
    label macros per row; the words (and the fallback for an unknown value) are theirs."""
    from app import i18n
    from app.coaching.routes import _fixed_names
    from app.templating import environment

    i18n.set_locale(locale)
    try:
        labels = environment.get_template("macros/labels.html").make_module({})
        names = _fixed_names()
        values = {
            "phase": [
                "baseline",
                "interview",
                "reflection",
                "consolidation",
                "post",
                "follow_up",
                "other & <more>",
            ],
            "change": [
                "reliably_improved",
                "no_reliable_change",
                "reliably_deteriorated",
                "other",
            ],
            "session_status": [
                *(status.value for status in SessionStatus),
                "other & <more>",
            ],
        }
        for macro, keys in values.items():
            for key in keys:
                ours = environment.from_string("{{ names[key] }}").render(
                    names=names[macro], key=key
                )
                theirs = environment.from_string("{{ macro(key) }}").render(
                    macro=getattr(labels, macro), key=key
                )
                assert ours == theirs, (macro, key)
    finally:
        i18n.set_locale("nl")


def test_the_trajectory_page_marks_drafts_and_coach_typed_answers_and_sums_up_the_diary(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    _, trajectory, sessions = interviewed(make_client, cast, db)
    answers = {
        a.step_key: a
        for a in db.exec(
            select(NarrativeAnswer).where(NarrativeAnswer.session_id == sessions["interview"].id)
        ).all()
    }
    answers["upset"].coach_entered = True
    answers["angry"].submitted_at = None
    answers["angry"].text = 'Boos <script>x</script> & "klaar"'
    for entry in (
        {"valence": 2, "anger": 3, "hidden": 2},
        {"valence": -1, "joy": 2, "faked": 1},
        {"valence": 0, "anger": 1, "guilt": 4},
        {"valence": 3, "anger": True, "pride": "3"},  # not numbers: not counted
    ):
        db.add(_diary_entry(cast, trajectory, 2, entry))
    db.add_all([answers["upset"], answers["angry"]])
    db.commit()

    client.login_as(cast.coach)
    page = client.get(f"/coach/trajectories/{trajectory.id}").text

    blocks = re.findall(r'<div class="answer">\s*<h4>(.*?)</h4>\s*(.*?)</div>', page, re.S)
    assert len(blocks) == 12  # the three words and the eleven prompts after them
    assert sum("getypt door de coach" in title for title, _ in blocks) == 1
    assert sum(">concept<" in title for title, _ in blocks) == 1
    assert "Boos &lt;script&gt;x&lt;/script&gt; &amp; &#34;klaar&#34;" in page
    assert "<script>x</script>" not in page
    diary = page.split('id="diary"', 1)[1].split("</table>", 1)[0]
    row = re.findall(r"<tr><td>[^<]*</td>(.*?)</tr>", diary, re.S)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    # moments, mean feeling, then anger, helplessness, unease, joy, guilt, pride, hidden
    assert cells == ["4", "+1,0", "25%", "0%", "0%", "25%", "25%", "0%", "25%"]
