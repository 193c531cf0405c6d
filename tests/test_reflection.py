"""The professional's programme: relationships, trajectory, the wizard, autosave, what changed."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from app.instruments.loader import builtin_definition
from app.models import (
    AuditEvent,
    FocusRelationship,
    InstrumentResponse,
    NarrativeAnswer,
    ReflectionSession,
    SessionStatus,
    Trajectory,
)
from tests.conftest import Cast, Client

GOOD = {"pseudonym": "Kiki", "sector": "education", "age_band": "8-11", "setting": "groep 6"}


def make_relationship(client: Client, **values: str) -> int:
    response = client.post_form("/relationships", {**GOOD, **values})
    assert response.status_code == 303, response.text
    page = client.get("/relationships").text
    ids = re.findall(r"/relationships/(\d+)/edit", page)
    return int(ids[-1])


def start(client: Client, db: Session) -> tuple[Trajectory, dict[str, ReflectionSession]]:
    relationship_id = make_relationship(client)
    response = client.post_form(f"/relationships/{relationship_id}/trajectories")
    assert response.status_code == 303
    trajectory_id = int(response.headers["location"].rsplit("/", 1)[1])
    trajectory = db.get(Trajectory, trajectory_id)
    assert trajectory is not None
    sessions = db.exec(
        select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory_id)
    ).all()
    return trajectory, {s.template_key: s for s in sessions}


def answer_instrument(client: Client, session_id: int, step: str, value: int = 3) -> None:
    definition = builtin_definition(step)
    data = {f"item-{item.key}": str(value) for item in definition.items}
    response = client.post_form(f"/sessions/{session_id}/steps/{step}", {**data, "action": "next"})
    assert response.status_code == 303, response.text


def do_intake(client: Client, session_id: int) -> None:
    response = client.post_form(
        f"/sessions/{session_id}/steps/consent", {"consent_programme": "1", "action": "next"}
    )
    assert response.status_code == 303
    for step in ("relationship", "efficacy", "strain", "empathy"):
        answer_instrument(client, session_id, step)


# ------------------------------------------------------------------ focus relationships


def test_a_professional_adds_a_relationship_with_a_pseudonym(client: Client, cast: Cast) -> None:
    client.login_as(cast.professional)
    page = client.get("/relationships/new").text
    assert "Gebruik nooit de echte naam" in page
    make_relationship(client)
    assert "Kiki" in client.get("/relationships").text


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"pseudonym": ""}, "pseudonym", "verzonnen naam"),
        ({"pseudonym": "Jan Jansen"}, "pseudonym", "echte naam"),
        ({"pseudonym": "x" * 41}, "pseudonym", "40"),
        ({"sector": "circus"}, "sector", "Kies"),
        ({"age_band": "99"}, "age_band", "leeftijd"),
        ({"known_since": "2999-01-01"}, "known_since", "toekomst"),
        ({"known_since": "gisteren"}, "known_since", "2025-09-01"),
    ],
)
def test_bad_relationship_input_is_explained_and_kept(
    client: Client, cast: Cast, values: dict[str, str], field: str, message: str
) -> None:
    client.login_as(cast.professional)
    response = client.post_form("/relationships", {**GOOD, **values})
    assert response.status_code == 422
    assert f'href="#field-{field}"' in response.text
    assert message.lower() in response.text.lower()
    assert 'value="groep 6"' in response.text  # what was typed stays


def test_another_professionals_relationship_is_not_found(
    client: Client, make_client: type[Client], cast: Cast
) -> None:
    owner = make_client().login_as(cast.professional)
    relationship_id = make_relationship(owner)
    client.login_as(cast.unassigned_professional)
    assert client.get(f"/relationships/{relationship_id}/edit").status_code == 404
    assert client.post_form(f"/relationships/{relationship_id}", GOOD).status_code == 404
    assert client.post_form(f"/relationships/{relationship_id}/archive").status_code == 404


def test_editing_and_archiving(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    relationship_id = make_relationship(client)
    response = client.post_form(f"/relationships/{relationship_id}", {**GOOD, "pseudonym": "K."})
    assert response.status_code == 303
    assert db.get(FocusRelationship, relationship_id).pseudonym == "K."  # type: ignore[union-attr]
    client.post_form(f"/relationships/{relationship_id}/archive")
    db.expire_all()
    assert db.get(FocusRelationship, relationship_id).archived_at is not None  # type: ignore[union-attr]


def test_an_archived_relationship_comes_back_with_its_programme(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, _sessions = start(client, db)
    relationship_id = trajectory.focus_relationship_id
    client.post_form(f"/relationships/{relationship_id}/archive")
    assert f"/relationships/{relationship_id}/restore" in client.get("/relationships").text
    outsider = make_client().login_as(cast.unassigned_professional)
    assert outsider.post_form(f"/relationships/{relationship_id}/restore").status_code == 404
    response = client.post_form(f"/relationships/{relationship_id}/restore")
    assert response.status_code == 303
    db.expire_all()
    assert db.get(FocusRelationship, relationship_id).archived_at is None  # type: ignore[union-attr]
    assert db.get(Trajectory, trajectory.id).status == "active"  # type: ignore[union-attr]
    assert "Kiki is terug" in client.get("/relationships").text


# ------------------------------------------------------------------ the programme


def test_starting_opens_the_intake_and_locks_the_rest(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, sessions = start(client, db)
    assert sessions["intake"].status == SessionStatus.open
    assert sessions["interview"].status == SessionStatus.locked
    assert trajectory.coach_id == cast.coach.id
    page = client.get(f"/trajectories/{trajectory.id}").text
    assert "Kiki" in page
    locked = client.get(
        f"/sessions/{sessions['interview'].id}/steps/three_words", follow_redirects=False
    )
    assert locked.status_code == 303


def test_the_wizard_shows_progress_and_resumes_where_you_were(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    intake = sessions["intake"].id
    page = client.get(f"/sessions/{intake}/steps/consent").text
    assert "Stap 1 van 5" in page
    client.post_form(f"/sessions/{intake}/steps/consent", {"consent_programme": "1"})
    resumed = client.get(f"/sessions/{intake}", follow_redirects=False)
    assert resumed.headers["location"].endswith("/steps/relationship")
    page = client.get(resumed.headers["location"]).text
    assert "Stap 2 van 5" in page
    assert "Kiki" in page  # the pseudonym in the item texts
    # The step list: every step a link, the done one said so, the current one marked.
    steps = re.findall(r'<li class="([^"]*)">\s*<a href="([^"]+)"([^>]*)>(.*?)</a>', page, re.S)
    assert [href.rsplit("/", 1)[1] for _, href, _, _ in steps] == [
        "consent",
        "relationship",
        "efficacy",
        "strain",
        "empathy",
    ]
    classes = [c.split() for c, _, _, _ in steps]
    assert classes == [["is-done"], ["is-current"], [], [], []]
    assert [attrs for _, _, attrs, _ in steps] == ["", ' aria-current="step"', "", "", ""]
    assert "Stap 1:" in steps[0][3] and "(klaar)" in steps[0][3]
    assert "Stap 2:" in steps[1][3] and "klaar" not in steps[1][3]


def test_consent_is_required(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    response = client.post_form(f"/sessions/{sessions['intake'].id}/steps/consent", {})
    assert response.status_code == 422
    assert "alleen meedoen" in response.text


def test_unanswered_items_are_listed_and_given_answers_kept(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    intake = sessions["intake"].id
    definition = builtin_definition("relationship")
    first = definition.items[0].key
    response = client.post_form(f"/sessions/{intake}/steps/relationship", {f"item-{first}": "4"})
    assert response.status_code == 422
    assert f'href="#item-{definition.items[1].key}"' in response.text
    assert re.search(rf'name="item-{first}" value="4"\s+checked', response.text)
    stored = db.exec(select(InstrumentResponse)).one()
    assert stored.answers == {first: 4}
    assert stored.completed_at is None


def test_htmx_saves_each_answer_as_it_is_given_and_the_page_shows_them_again(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    intake = sessions["intake"].id
    url = f"/sessions/{intake}/steps/relationship/answers"
    htmx = {"HX-Request": "true"}

    first = client.post_form(url, {"item-close_1": "4"}, headers=htmx)
    second = client.post_form(url, {"item-conf_2": "2"}, headers=htmx)
    assert first.status_code == second.status_code == 200
    assert first.text == "Opgeslagen"
    bad = client.post_form(url, {"item-close_1": "9"}, headers=htmx)
    assert bad.status_code == 422
    assert "Niet opgeslagen" in bad.text

    stored = db.exec(select(InstrumentResponse)).one()
    assert stored.answers == {"close_1": 4, "conf_2": 2}
    assert stored.completed_at is None
    page = client.get(f"/sessions/{intake}/steps/relationship").text
    assert re.search(r'name="item-close_1" value="4"\s+checked', page)
    assert re.search(r'name="item-conf_2" value="2"\s+checked', page)

    # Only the professional answers: the coach and outsiders cannot save into it.
    coach = make_client().login_as(cast.coach)
    assert coach.post_form(url, {"item-close_1": "1"}, headers=htmx).status_code == 404
    outsider = make_client().login_as(cast.outsider)
    assert outsider.post_form(url, {"item-close_1": "1"}, headers=htmx).status_code == 404
    db.expire_all()
    assert db.exec(select(InstrumentResponse)).one().answers["close_1"] == 4


def test_tampered_answers_and_steps_get_clear_answers(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    intake = sessions["intake"].id
    response = client.post_form(f"/sessions/{intake}/steps/relationship", {"item-close_1": "99"})
    assert response.status_code == 422
    response = client.post_form(f"/sessions/{intake}/steps/relationship", {"item-nope": "3"})
    assert response.status_code == 422
    assert client.get(f"/sessions/{intake}/steps/no-such-step").status_code == 404
    assert client.post_form(f"/sessions/{intake}/steps/no-such-step", {}).status_code == 404


def test_intake_then_interview_then_what_changed(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _trajectory, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    db.expire_all()
    assert db.get(ReflectionSession, sessions["intake"].id).status == SessionStatus.completed  # type: ignore[union-attr]
    assert db.get(ReflectionSession, sessions["interview"].id).status == SessionStatus.open  # type: ignore[union-attr]
    interview = sessions["interview"].id
    response = client.post(
        f"/sessions/{interview}/steps/three_words",
        data={
            "csrf_token": client.csrf(),
            "words": ["warm", "onrustig", "taai"],
            "text": "In de kring…",
            "version": "0",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    steps = [
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
    ]
    for step in steps:
        response = client.post_form(
            f"/sessions/{interview}/steps/{step}", {"text": f"Antwoord op {step}", "version": "0"}
        )
        assert response.status_code == 303, (step, response.text[:500])
    assert response.headers["location"] == f"/sessions/{interview}/summary"
    summary = client.get(response.headers["location"]).text
    assert "pulse-offer-title" not in summary  # offered after the intake only
    intake_summary = client.get(f"/sessions/{sessions['intake'].id}/summary").text
    assert "pulse-offer-title" in intake_summary  # the optional daily-pulse baseline
    assert f'href="/trajectories/{_trajectory.id}/pulse"' in intake_summary
    assert "warm" in summary and "onrustig" in summary
    assert "Nabijheid" in summary  # a subscale of the intake questionnaire
    db.expire_all()
    assert db.get(ReflectionSession, sessions["reflection"].id).status == SessionStatus.waiting  # type: ignore[union-attr]


def test_an_empty_required_answer_is_refused_but_kept(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    interview = sessions["interview"].id
    response = client.post_form(
        f"/sessions/{interview}/steps/connected", {"text": "   ", "version": "0"}
    )
    assert response.status_code == 422
    assert "een paar zinnen" in response.text


def test_over_long_answers_are_refused_and_kept(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    interview = sessions["interview"].id
    text = "a" * 20001
    response = client.post_form(
        f"/sessions/{interview}/steps/connected", {"text": text, "version": "0"}
    )
    assert response.status_code == 422
    assert "20000" in response.text or "20.000" in response.text
    assert text in response.text


# ------------------------------------------------------------------ autosave


def test_autosave_stores_drafts_with_a_version(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected/draft"
    first = client.post_form(url, {"text": "Eerste versie", "version": "0"})
    assert first.status_code == 200
    assert first.json()["version"] == 1
    # The time of the save, as a clock in the Netherlands shows it.
    saved = datetime.fromisoformat(first.json()["saved_at"])
    local = saved.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert first.json()["message"] == f"Opgeslagen om {local:%H:%M}"
    second = client.post_form(url, {"text": "Tweede versie", "version": "1"})
    assert second.json()["version"] == 2
    answer = db.exec(select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")).one()
    assert answer.text == "Tweede versie"
    assert answer.submitted_at is None


def test_a_stale_tab_cannot_overwrite_a_newer_save(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected/draft"
    client.post_form(url, {"text": "Tab A", "version": "0"})
    client.post_form(url, {"text": "Tab B, nieuwer", "version": "1"})
    stale = client.post_form(url, {"text": "Tab A, oud", "version": "1"})
    assert stale.status_code == 409
    assert stale.json()["text"] == "Tab B, nieuwer"
    assert stale.json()["version"] == 2
    assert (
        db.exec(select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")).one().text
        == "Tab B, nieuwer"
    )
    # The same text arriving twice (a beacon and a submit) is not a conflict.
    same = client.post_form(url, {"text": "Tab B, nieuwer", "version": "1"})
    assert same.status_code == 200


@pytest.mark.parametrize("version", ["9" * 30, "2147483648", "-1", "٣", "abc"])
def test_a_forged_revision_counter_gets_a_clear_answer(
    client: Client, cast: Cast, db: Session, version: str
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    intake, interview = sessions["intake"].id, sessions["interview"].id

    consent = client.post_form(
        f"/sessions/{intake}/steps/consent",
        {"consent_programme": "1", "version": version, "action": "next"},
    )
    back = client.post_form(
        f"/sessions/{intake}/steps/relationship",
        {"text": "Wat er gebeurde", "version": version, "action": "back"},
    )
    do_intake(client, intake)
    draft = client.post_form(
        f"/sessions/{interview}/steps/connected/draft",
        {"text": "Wat er gebeurde", "version": version},
    )

    # A number the database cannot hold was a 500; now the forged counter matches no
    # saved revision (nothing saved yet: not found) or is refused.
    assert consent.status_code in (303, 404, 409)
    assert back.status_code == 303
    assert draft.status_code in (400, 409)


def test_the_wizard_shows_both_texts_on_a_conflict(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    interview = sessions["interview"].id
    client.post_form(
        f"/sessions/{interview}/steps/connected/draft", {"text": "Nieuw", "version": "0"}
    )
    response = client.post_form(
        f"/sessions/{interview}/steps/connected", {"text": "Oud", "version": "0"}
    )
    assert response.status_code == 409
    assert "Nieuw" in response.text and "Oud" in response.text
    # Without JavaScript: going on keeps this window's text, a link takes the saved one.
    assert re.search(r'<textarea[^>]*name="text"[^>]*>Oud</textarea>', response.text)
    assert f'href="/sessions/{interview}/steps/connected">Gebruik de opgeslagen versie' in (
        response.text
    )
    kept = client.post_form(
        f"/sessions/{interview}/steps/connected", {"text": "Oud", "version": "1"}
    )
    assert kept.status_code == 303


def test_an_expired_login_answers_autosave_with_401(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected/draft"
    client.cookies.delete("dyade_session")
    response = client.post(url, data={"text": "x", "version": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert "Log opnieuw in" in response.text


def test_a_finished_session_cannot_be_changed(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    intake = sessions["intake"].id
    again = client.post_form(f"/sessions/{intake}/steps/consent", {"consent_programme": "1"})
    assert again.status_code == 303
    assert again.headers["location"].endswith("/summary")


# ------------------------------------------------------------------ coach


def test_the_assigned_coach_can_type_the_interview_and_it_is_marked(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    _, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    client.login_as(cast.coach)
    interview = sessions["interview"].id
    response = client.post_form(
        f"/sessions/{interview}/steps/connected", {"text": "Getypt door coach", "version": "0"}
    )
    assert response.status_code == 303
    answer = db.exec(select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")).one()
    assert answer.coach_entered and answer.entered_by_id == cast.coach.id
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.actor_id == cast.coach.id)).all()
    assert "narrative.coach_entered" in actions
    # A coach may not fill in questionnaires or consent for the professional.
    intake = sessions["intake"].id
    assert (
        client.post_form(
            f"/sessions/{intake}/steps/consent", {"consent_programme": "1"}
        ).status_code
        == 404
    )


def test_the_coach_opens_the_reflection_session(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    _, sessions = start(professional, db)
    reflection = sessions["reflection"]
    reflection.status = SessionStatus.waiting
    db.add(reflection)
    db.commit()
    assert professional.post_form(f"/sessions/{reflection.id}/open").status_code == 404
    client.login_as(cast.coach)
    assert client.post_form(f"/sessions/{reflection.id}/open").status_code == 303
    db.expire_all()
    assert db.get(ReflectionSession, reflection.id).status == SessionStatus.open  # type: ignore[union-attr]


def test_other_people_get_404_on_a_trajectory(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, sessions = start(professional, db)
    for outsider in (cast.other_coach, cast.unassigned_professional, cast.outsider_coach):
        client.login_as(outsider)
        assert client.get(f"/trajectories/{trajectory.id}").status_code == 404
        assert client.get(f"/sessions/{sessions['intake'].id}/steps/consent").status_code == 404
        assert (
            client.post_form(
                f"/sessions/{sessions['intake'].id}/steps/consent/draft", {"text": "x"}
            ).status_code
            == 404
        )


def test_a_contrast_relationship_can_be_chosen_at_the_start(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    focus = make_relationship(client)
    contrast = make_relationship(client, pseudonym="Bo", is_contrast="1")
    page = client.get("/relationships").text
    assert "Geen contrastrelatie" in page
    response = client.post_form(
        f"/relationships/{focus}/trajectories", {"contrast_id": str(contrast)}
    )
    trajectory = db.get(Trajectory, int(response.headers["location"].rsplit("/", 1)[1]))
    assert trajectory is not None and trajectory.contrast_relationship_id == contrast


# ------------------------------------------------------------------ bad input, once more


def test_a_double_submit_of_the_same_answer_goes_on_without_a_conflict(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected"
    data = {"text": "Maandag in de kring", "version": "0", "action": "next"}
    first = client.post_form(url, data)
    second = client.post_form(url, data)  # the same form, clicked twice
    assert first.status_code == second.status_code == 303
    assert second.headers["location"].endswith("/steps/not_connected")
    answer = db.exec(select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")).one()
    assert (answer.text, answer.version) == ("Maandag in de kring", 1)


def test_a_back_button_resubmit_with_other_text_shows_both_texts(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected"
    client.post_form(url, {"text": "Eerste versie", "version": "0"})
    client.post_form(url, {"text": "Tweede versie", "version": "1"})
    # The browser's back button shows the page as it was (version 1) and it is sent again.
    again = client.post_form(url, {"text": "Oude pagina, nieuwe zin", "version": "1"})
    assert again.status_code == 409
    assert "Tweede versie" in again.text and "Oude pagina, nieuwe zin" in again.text
    answer = db.exec(select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")).one()
    assert answer.text == "Tweede versie"


@pytest.mark.parametrize("version", ["abc", "-3"])
def test_a_tampered_version_keeps_the_typed_text(
    client: Client, cast: Cast, db: Session, version: str
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected"
    first = client.post_form(url, {"text": "Nog niets opgeslagen", "version": version})
    assert first.status_code == 303  # nothing stored yet: simply saved
    again = client.post_form(url, {"text": "Iets anders getypt", "version": version})
    assert again.status_code == 409  # a stored answer: both texts, nothing lost
    assert "Nog niets opgeslagen" in again.text and "Iets anders getypt" in again.text
    back = client.post_form(url, {"text": "Terug met tekst", "version": version, "action": "back"})
    assert back.status_code == 409 and "Terug met tekst" in back.text


def test_what_changed_shows_the_coachs_feedback_and_what_it_is_about(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    summary_url = f"/sessions/{sessions['intake'].id}/summary"
    assert "Je coach heeft nog geen feedback geschreven" in client.get(summary_url).text
    coach = make_client().login_as(cast.coach)
    response = coach.post_form(
        f"/coach/trajectories/{trajectory.id}/feedback",
        {
            "feedback": "Knap hoe eerlijk je de vragenlijsten invulde.",
            "target": f"session-{sessions['intake'].id}",
        },
    )
    assert response.status_code == 303
    page = client.get(summary_url).text
    assert "Knap hoe eerlijk je de vragenlijsten invulde." in page
    assert "Over: Start" in page  # the session the feedback is about
    assert "Over: Start" in client.get(f"/trajectories/{trajectory.id}").text
