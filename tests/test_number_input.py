"""Numbers typed into forms and query strings: odd digits or huge values get a clear answer.

Found by schemathesis (scripts/fuzz_openapi.py): str.isdigit() accepts "²", int() refuses
it, and a number larger than the database column failed inside the query; each was a 500.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from app.forms import whole_number
from app.models import CoachAssignment, Feedback, NarrativeAnswer
from tests.conftest import Cast, Client
from tests.test_reflection import do_intake, start

ODD_NUMBERS = ["²", "٣", "1_0", "9" * 30, "9" * 5000, str(2**31), "-1", " ", "12a"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("7", 7), (" 42 ", 42), (str(2**31 - 1), 2**31 - 1), ("", None), (None, None)]
    + [(odd, None) for odd in ODD_NUMBERS],
)
def test_whole_numbers_are_ascii_digits_within_the_column_range(
    raw: str | None, expected: int | None
) -> None:
    assert whole_number(raw) == expected


@pytest.mark.parametrize("coach", ODD_NUMBERS)
def test_the_dashboard_ignores_an_odd_coach_filter(client: Client, cast: Cast, coach: str) -> None:
    client.login_as(cast.supervisor)
    response = client.get("/dashboard", params={"coach": coach})
    assert response.status_code == 200


def test_autosave_with_an_odd_version_is_refused_and_the_text_kept(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    interview = sessions["interview"].id
    client.post_form(
        f"/sessions/{interview}/steps/connected/draft", {"text": "eerst", "version": "0"}
    )
    for version in ("9" * 20, "²", "9" * 5000):
        draft = client.post_form(
            f"/sessions/{interview}/steps/connected/draft", {"text": "x", "version": version}
        )
        assert draft.status_code == 400
        assert draft.json()["error"] == "Er klopt iets niet aan dit verzoek"
        back = client.post_form(
            f"/sessions/{interview}/steps/connected",
            {"text": "x", "version": version, "action": "back"},
        )
        # A tampered counter counts as a first save: the stored answer shows as a conflict
        # with both texts, so nothing typed is lost on either side.
        assert back.status_code == 409
        assert "eerst" in back.text and "x" in back.text
        onward = client.post_form(
            f"/sessions/{interview}/steps/connected",
            {"text": "x", "version": version, "action": "next"},
        )
        assert onward.status_code < 500
    db.expire_all()
    answer = db.exec(select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")).one()
    assert answer.text == "eerst"


@pytest.mark.parametrize("target", ["session-²", "session-" + "9" * 30, "diary-" + "9" * 5000])
def test_feedback_about_an_odd_target_is_general_feedback(
    make_client: type[Client], cast: Cast, db: Session, target: str
) -> None:
    professional = make_client().login_as(cast.professional)
    trajectory, _ = start(professional, db)
    coach = make_client().login_as(cast.coach)

    response = coach.post_form(
        f"/coach/trajectories/{trajectory.id}/feedback",
        {"feedback": "Mooi gedaan", "target": target},
    )

    assert response.status_code == 303
    feedback = db.exec(select(Feedback)).one()
    assert feedback.session_id is None and feedback.diary_entry_id is None


@pytest.mark.parametrize("coach_id", ["9" * 23, "²", str(2**40)])
def test_assigning_an_odd_coach_id_asks_to_choose_a_coach(
    client: Client, cast: Cast, db: Session, coach_id: str
) -> None:
    client.login_as(cast.admin)
    before = len(db.exec(select(CoachAssignment)).all())

    response = client.post_form(
        f"/admin/users/{cast.professional.id}/coaches", {"coach_id": coach_id}
    )

    assert response.status_code == 422
    assert "Kies een coach." in response.text
    db.expire_all()
    assert len(db.exec(select(CoachAssignment)).all()) == before


@pytest.mark.parametrize("rating", ["²", "9" * 5000])
def test_an_odd_experiment_rating_asks_how_it_went(rating: str) -> None:
    from datetime import date

    from app.models import Trajectory
    from app.reflection.diary import experiment_errors

    trajectory = Trajectory(
        organisation_id=1, professional_id=1, relationship_id=1, programme_key="x"
    )
    errors, _day, chosen = experiment_errors(
        {"occurred_on": "", "what_i_did": "Even gewacht", "how_it_went": rating},
        trajectory=trajectory,
        today=date(2026, 12, 1),
    )
    assert chosen is None
    assert errors["how_it_went"] == "Kies hoe het ging."


@pytest.mark.parametrize("contrast", ["²", "9" * 30, "9" * 5000])
def test_an_odd_contrast_relationship_is_no_contrast(
    client: Client, cast: Cast, db: Session, contrast: str
) -> None:
    from tests.test_reflection import make_relationship

    client.login_as(cast.professional)
    relationship_id = make_relationship(client)

    response = client.post_form(
        f"/relationships/{relationship_id}/trajectories", {"contrast_id": contrast}
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/trajectories/")


@pytest.mark.parametrize("odd", ODD_NUMBERS)
def test_reminder_choices_with_odd_numbers_are_explained(
    client: Client, cast: Cast, odd: str
) -> None:
    client.login_as(cast.professional)
    posted = {"daily_limit": odd, "quiet_start": odd, "quiet_end": odd}
    response = client.post_form("/account/reminders", posted)
    assert response.status_code == 422
    assert "Kies" in response.text


@pytest.mark.parametrize("odd", ["9" * 5000, "²", str(2**31)])
def test_the_organisations_reminder_settings_refuse_odd_numbers(
    client: Client, cast: Cast, odd: str
) -> None:
    client.login_as(cast.admin)
    page = client.get("/admin/reminders").text
    fields = set(re.findall(r'name="([a-z_]+_days|[a-z_]+_hours)"', page))
    assert fields
    response = client.post_form("/admin/reminders", dict.fromkeys(fields, odd))
    assert response.status_code == 422
