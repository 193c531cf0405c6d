"""Between sessions: the diary, the daily pulse and the experiment log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from app.instruments.loader import builtin_definition
from app.models import (
    AuditEvent,
    DiaryEntry,
    ExperimentLogEntry,
    NarrativeAnswer,
    PulseEntry,
    ReflectionSession,
    SessionStatus,
    Trajectory,
    utcnow,
)
from app.reflection.diary import current_phase, local_today
from tests.conftest import Cast, Client
from tests.test_reflection import start

MOMENT = {
    "item-valence": "2",
    "item-what_happened": "We lazen samen een boek in de leeshoek.",
    "item-anger": "0",
    "item-joy": "3",
    "item-pride": "2",
    "item-child_behaviour": ["sought_contact", "joked"],
    "item-child_felt": "Misschien voelde ze zich gezien.",
}


def set_status(db: Session, reflection_session: ReflectionSession, status: SessionStatus) -> None:
    """Move a session along without going through the wizard (tested in test_reflection)."""
    row = db.get(ReflectionSession, reflection_session.id)
    assert row is not None
    row.status = status
    if status in (SessionStatus.completed, SessionStatus.reviewed):
        row.completed_at = utcnow()
    db.add(row)
    db.commit()


def started(client: Client, db: Session) -> tuple[Trajectory, dict[str, ReflectionSession]]:
    """A trajectory of the logged-in professional with the intake done."""
    trajectory, sessions = start(client, db)
    set_status(db, sessions["intake"], SessionStatus.completed)
    set_status(db, sessions["interview"], SessionStatus.open)
    return trajectory, sessions


def add_moment(client: Client, trajectory_id: int, **changes: object) -> int:
    data = {**MOMENT, "occurred_on": local_today().isoformat(), **changes}
    response = client.post_form(f"/trajectories/{trajectory_id}/diary", data)
    assert response.status_code == 303, response.text[-2000:]
    assert response.headers["location"] == f"/trajectories/{trajectory_id}/diary"
    ids = re.findall(r"/diary/(\d+)/edit", client.get(response.headers["location"]).text)
    return int(ids[0])


def entries(db: Session, trajectory_id: int) -> list[DiaryEntry]:
    db.expire_all()
    return list(db.exec(select(DiaryEntry).where(DiaryEntry.trajectory_id == trajectory_id)).all())


def pulse_answers(value: int) -> dict[str, str]:
    return {f"item-{item.key}": str(value) for item in builtin_definition("pulse").items}


# ------------------------------------------------------------------ diary


def test_a_diary_moment_is_added_listed_and_edited(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    page = client.get(f"/trajectories/{trajectory.id}/diary/new")
    assert page.status_code == 200
    assert 'id="item-valence"' in page.text and 'name="item-child_behaviour"' in page.text
    assert f'value="{local_today().isoformat()}"' in page.text  # the date defaults to today

    entry_id = add_moment(client, trajectory.id)  # type: ignore[arg-type]
    [entry] = entries(db, trajectory.id)  # type: ignore[arg-type]
    assert entry.id == entry_id
    assert entry.occurred_on == local_today()
    assert entry.instrument_version == builtin_definition("diary").version
    assert entry.phase == "baseline"
    assert entry.values == {
        "valence": 2,
        "what_happened": MOMENT["item-what_happened"],
        "anger": 0,
        "joy": 3,
        "pride": 2,
        "child_behaviour": ["sought_contact", "joked"],
        "child_felt": MOMENT["item-child_felt"],
    }
    listing = client.get(f"/trajectories/{trajectory.id}/diary").text
    assert "+2" in listing and "sought_contact" not in listing  # tags shown as words

    edit = client.get(f"/diary/{entry_id}/edit").text
    assert 'id="item-valence-2" name="item-valence" value="2" checked' in edit
    assert 'value="joked" checked' in edit
    assert MOMENT["item-child_felt"] in edit
    yesterday = local_today() - timedelta(days=1)
    db.get(Trajectory, trajectory.id).created_at = utcnow() - timedelta(days=3)  # type: ignore[union-attr]
    db.commit()
    response = client.post_form(
        f"/diary/{entry_id}",
        {"item-valence": "-1", "item-child_behaviour": "refused", "occurred_on": str(yesterday)},
    )
    assert response.status_code == 303
    [entry] = entries(db, trajectory.id)  # type: ignore[arg-type]
    assert entry.values == {"valence": -1, "child_behaviour": ["refused"]}
    assert entry.occurred_on == yesterday
    assert entry.phase == "baseline"


def test_deleting_asks_first_and_works_without_javascript(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    entry_id = add_moment(client, trajectory.id)  # type: ignore[arg-type]
    assert f'href="/diary/{entry_id}/delete"' in client.get(f"/diary/{entry_id}/edit").text
    confirm = client.get(f"/diary/{entry_id}/delete")
    assert confirm.status_code == 200
    assert 'name="confirm" value="yes"' in confirm.text
    # A post that did not come from the confirmation page only leads there.
    response = client.post_form(f"/diary/{entry_id}/delete")
    assert response.status_code == 303
    assert response.headers["location"] == f"/diary/{entry_id}/delete"
    assert len(entries(db, trajectory.id)) == 1  # type: ignore[arg-type]
    response = client.post_form(f"/diary/{entry_id}/delete", {"confirm": "yes"})
    assert response.status_code == 303
    assert entries(db, trajectory.id) == []  # type: ignore[arg-type]
    assert client.get(f"/diary/{entry_id}/edit").status_code == 404


def test_the_phase_is_that_of_the_latest_session_under_way(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, sessions = start(client, db)
    assert current_phase(db, trajectory) == "baseline"  # intake open, not started
    set_status(db, sessions["intake"], SessionStatus.completed)
    set_status(db, sessions["interview"], SessionStatus.open)
    assert current_phase(db, trajectory) == "baseline"  # the interview is not started yet
    set_status(db, sessions["interview"], SessionStatus.in_progress)
    add_moment(client, trajectory.id)  # type: ignore[arg-type]
    set_status(db, sessions["interview"], SessionStatus.completed)
    set_status(db, sessions["reflection"], SessionStatus.waiting)
    assert current_phase(db, trajectory) == "interview"
    set_status(db, sessions["reflection"], SessionStatus.reviewed)
    add_moment(client, trajectory.id)  # type: ignore[arg-type]
    phases = sorted(e.phase for e in entries(db, trajectory.id))  # type: ignore[arg-type]
    assert phases == ["interview", "reflection"]


def test_a_missing_answer_is_refused_and_what_was_typed_kept(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    data = {**MOMENT, "occurred_on": local_today().isoformat()}
    del data["item-valence"]
    response = client.post_form(f"/trajectories/{trajectory.id}/diary", data)
    assert response.status_code == 422
    assert 'id="error-summary"' in response.text
    assert 'href="#item-valence"' in response.text
    assert MOMENT["item-what_happened"] in response.text
    assert MOMENT["item-child_felt"] in response.text
    assert 'value="joked" checked' in response.text
    assert 'id="item-joy-3" name="item-joy" value="3" checked' in response.text
    assert f'value="{local_today().isoformat()}"' in response.text
    assert entries(db, trajectory.id) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("when", ["tomorrow", "before the start", "not a date", ""])
def test_impossible_dates_are_refused(client: Client, cast: Cast, db: Session, when: str) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    posted = {
        "tomorrow": (local_today() + timedelta(days=1)).isoformat(),
        "before the start": (local_today() - timedelta(days=1)).isoformat(),
    }.get(when, when)
    response = client.post_form(
        f"/trajectories/{trajectory.id}/diary", {**MOMENT, "occurred_on": posted}
    )
    assert response.status_code == 422
    assert 'href="#field-occurred_on"' in response.text
    assert (
        f'id="field-occurred_on" name="occurred_on" type="date" value="{posted}"' in response.text
    )
    assert MOMENT["item-what_happened"] in response.text
    assert entries(db, trajectory.id) == []  # type: ignore[arg-type]


def test_other_peoples_diaries_are_not_found(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    owner = make_client().login_as(cast.professional)
    trajectory, _ = started(owner, db)
    entry_id = add_moment(owner, trajectory.id)  # type: ignore[arg-type]
    base = f"/trajectories/{trajectory.id}"
    people = (
        cast.unassigned_professional,
        cast.other_coach,
        cast.supervisor,
        cast.admin,
        cast.outsider,
        cast.outsider_admin,
        cast.outsider_coach,
    )
    for person in people:
        client.login_as(person)
        for url in (f"{base}/diary", f"{base}/diary/new", f"{base}/pulse", f"{base}/experiments"):
            assert client.get(url).status_code == 404, (person.email, url)
        for url in (f"/diary/{entry_id}/edit", f"/diary/{entry_id}/delete"):
            assert client.get(url).status_code == 404, (person.email, url)
        for url in (
            f"{base}/diary",
            f"/diary/{entry_id}",
            f"/diary/{entry_id}/delete",
            f"{base}/pulse",
            f"{base}/experiments",
        ):
            assert client.post_form(url, {**MOMENT, "confirm": "yes"}).status_code == 404
    assert len(entries(db, trajectory.id)) == 1  # type: ignore[arg-type]
    assert client.get("/diary/999999/edit").status_code == 404


def test_the_coach_reads_everything_audited_but_writes_nothing(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    owner = make_client().login_as(cast.professional)
    trajectory, _ = started(owner, db)
    entry_id = add_moment(owner, trajectory.id)  # type: ignore[arg-type]
    assert (
        owner.post_form(f"/trajectories/{trajectory.id}/pulse", pulse_answers(4)).status_code == 303
    )
    base = f"/trajectories/{trajectory.id}"
    for url in (f"{base}/diary", f"{base}/pulse", f"{base}/experiments"):
        owner.get(url)
    assert db.exec(select(AuditEvent).where(AuditEvent.action.endswith(".view"))).all() == []  # type: ignore[attr-defined]

    client.login_as(cast.coach)
    diary_page = client.get(f"{base}/diary")
    assert diary_page.status_code == 200
    assert "+2" in diary_page.text
    assert f"/diary/{entry_id}/edit" not in diary_page.text
    assert "/diary/new" not in diary_page.text
    pulse_page = client.get(f"{base}/pulse")
    assert pulse_page.status_code == 200
    assert 'name="item-closeness"' not in pulse_page.text  # the list, no form
    assert "pulse-ratings" in pulse_page.text
    experiments_page = client.get(f"{base}/experiments")
    assert experiments_page.status_code == 200
    assert 'name="what_i_did"' not in experiments_page.text

    events = db.exec(select(AuditEvent).where(AuditEvent.actor_id == cast.coach.id)).all()
    assert sorted(e.action for e in events) == ["diary.view", "experiments.view", "pulse.view"]
    assert all(e.subject_user_id == cast.professional.id for e in events)
    assert all(e.actor_role == "coach" for e in events)

    assert client.get(f"{base}/diary/new").status_code == 404
    assert client.get(f"/diary/{entry_id}/edit").status_code == 404
    assert client.post_form(f"{base}/diary", MOMENT).status_code == 404
    assert client.post_form(f"/diary/{entry_id}", MOMENT).status_code == 404
    assert client.post_form(f"/diary/{entry_id}/delete", {"confirm": "yes"}).status_code == 404
    assert client.post_form(f"{base}/pulse", pulse_answers(1)).status_code == 404
    experiment = {"occurred_on": local_today().isoformat(), "what_i_did": "x", "how_it_went": "3"}
    assert client.post_form(f"{base}/experiments", experiment).status_code == 404
    assert len(entries(db, trajectory.id)) == 1  # type: ignore[arg-type]


def test_an_archived_programme_can_be_read_but_not_added_to(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    add_moment(client, trajectory.id)  # type: ignore[arg-type]
    row = db.get(Trajectory, trajectory.id)
    assert row is not None
    row.status = "archived"
    db.commit()
    listing = client.get(f"/trajectories/{trajectory.id}/diary")
    assert listing.status_code == 200
    assert "/diary/new" not in listing.text
    response = client.post_form(
        f"/trajectories/{trajectory.id}/diary", {**MOMENT, "occurred_on": str(local_today())}
    )
    assert response.status_code == 409
    assert len(entries(db, trajectory.id)) == 1  # type: ignore[arg-type]


def test_the_programme_page_links_to_the_tools(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    page = client.get(f"/trajectories/{trajectory.id}").text
    for tool in ("diary", "diary/new", "pulse", "experiments"):
        assert f'href="/trajectories/{trajectory.id}/{tool}"' in page


# ------------------------------------------------------------------ daily pulse


def test_the_pulse_is_kept_once_a_day(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    url = f"/trajectories/{trajectory.id}/pulse"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="item-closeness"' in page.text
    assert client.post_form(url, pulse_answers(2)).status_code == 303
    assert client.post_form(url, pulse_answers(5)).status_code == 303
    db.expire_all()
    [pulse] = db.exec(select(PulseEntry).where(PulseEntry.trajectory_id == trajectory.id)).all()
    assert pulse.day == local_today()
    assert pulse.phase == "baseline"
    assert set(pulse.answers.values()) == {5}
    assert len(pulse.answers) == len(builtin_definition("pulse").items)
    page = client.get(url).text
    assert 'id="item-closeness-5" name="item-closeness" value="5" checked' in page
    assert page.count('class="entry-card"') == 1


def test_an_incomplete_pulse_is_refused_and_kept(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    answers = pulse_answers(4)
    del answers["item-exhaustion"]
    response = client.post_form(f"/trajectories/{trajectory.id}/pulse", answers)
    assert response.status_code == 422
    assert 'href="#item-exhaustion"' in response.text
    assert 'id="item-joy-4" name="item-joy" value="4" checked' in response.text
    db.expire_all()
    assert db.exec(select(PulseEntry)).all() == []


def test_older_pulses_are_listed_for_two_weeks(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    for days_ago in (1, 13, 14, 30):
        db.add(
            PulseEntry(
                organisation_id=trajectory.organisation_id,
                trajectory_id=trajectory.id,  # type: ignore[arg-type]
                day=local_today() - timedelta(days=days_ago),
                phase="baseline",
                instrument_version=1,
                answers={"closeness": 3, "conflict": 1},
            )
        )
    db.commit()
    page = client.get(f"/trajectories/{trajectory.id}/pulse").text
    assert page.count('class="entry-card"') == 2  # yesterday and 13 days ago


# ------------------------------------------------------------------ experiment log


def choose_experiment(db: Session, sessions: dict[str, ReflectionSession], text: str) -> None:
    reflection = sessions["reflection"]
    set_status(db, reflection, SessionStatus.completed)
    db.add(
        NarrativeAnswer(
            organisation_id=reflection.organisation_id,
            session_id=reflection.id,  # type: ignore[arg-type]
            step_key="experiment",
            text=text,
            version=1,
            submitted_at=utcnow(),
        )
    )
    db.commit()


def test_the_experiment_log_shows_the_choice_and_keeps_the_tries(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    trajectory, sessions = started(client, db)
    url = f"/trajectories/{trajectory.id}/experiments"
    page = client.get(url)
    assert page.status_code == 200
    assert "experiment-text" not in page.text  # not chosen yet: an explanation instead
    assert 'name="what_i_did"' in page.text

    choose_experiment(db, sessions, "Elke ochtend even bij haar tafel hurken.")
    page = client.get(url).text
    assert "Elke ochtend even bij haar tafel hurken." in page
    assert re.search(r'<fieldset class="field" id="field-how_it_went">\s*<legend>', page)
    assert page.count('type="radio" id="how_it_went-') == 5

    tried = {
        "occurred_on": local_today().isoformat(),
        "what_i_did": "Ik hurkte bij haar tafel en vroeg naar haar tekening.",
        "how_it_went": "4",
    }
    response = client.post_form(url, tried)
    assert response.status_code == 303
    assert response.headers["location"] == url
    db.expire_all()
    [entry] = db.exec(
        select(ExperimentLogEntry).where(ExperimentLogEntry.trajectory_id == trajectory.id)
    ).all()
    assert (entry.occurred_on, entry.what_i_did, entry.how_it_went) == (
        local_today(),
        tried["what_i_did"],
        4,
    )
    assert tried["what_i_did"] in client.get(url).text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"what_i_did": "   "}, "what_i_did"),
        ({"what_i_did": "a" * 2001}, "what_i_did"),
        ({"how_it_went": "9"}, "how_it_went"),
        ({"how_it_went": ""}, "how_it_went"),
        ({"occurred_on": "2999-01-01"}, "occurred_on"),
    ],
)
def test_a_bad_experiment_note_is_refused_and_kept(
    client: Client, cast: Cast, db: Session, changes: dict[str, str], field: str
) -> None:
    client.login_as(cast.professional)
    trajectory, _ = started(client, db)
    data = {
        "occurred_on": local_today().isoformat(),
        "what_i_did": "Samen de dag doorgenomen.",
        "how_it_went": "3",
        **changes,
    }
    response = client.post_form(f"/trajectories/{trajectory.id}/experiments", data)
    assert response.status_code == 422
    assert f'href="#field-{field}"' in response.text
    assert data["what_i_did"] in response.text
    db.expire_all()
    assert db.exec(select(ExperimentLogEntry)).all() == []
