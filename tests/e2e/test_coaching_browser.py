"""In Chromium: a professional finishes the interview; their coach reads the whole trajectory,
codes the narrative, releases the profile, gives feedback and downloads the report; another
coach of the same organisation sees nothing; the professional sees profile and feedback.

Uses begeleider1 (coached by coach2 of De Brug), whom no other browser test uses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_reflection_browser import (
    DUTCH,
    INTERVIEW_STEPS,
    _expect,
    _go_on,
    _interview_ready,
    _log_in,
    _open_session,
)

pytestmark = pytest.mark.browser

PROFESSIONAL = "begeleider1@debrug.example"
COACH = "coach2@debrug.example"
OTHER_COACH = "coach1@debrug.example"
WORDS = ("nieuwsgierig", "moe", "trots")
PASSAGE = "Sam keek me aan en ik knikte terug."
FEEDBACK = "Mooi hoe je Sam de ruimte gaf. Wat deed dat met jou?"


def _do_interview(page: Any) -> None:
    """From the trajectory page: the three words and every later prompt, then finish."""
    _open_session(page)
    for number, word in enumerate(WORDS, start=1):
        page.get_by_label(f"Woord {number}", exact=True).fill(word)
    page.get_by_label("Bij elk woord een voorval").fill("Nieuwsgierig: Sam vroeg naar mijn hond.")
    _go_on(page, DUTCH.next, INTERVIEW_STEPS[1])
    total = len(INTERVIEW_STEPS)
    for number, step in enumerate(INTERVIEW_STEPS[1:], start=2):
        page.get_by_label("Jouw antwoord").fill(f"Bij {step}: {PASSAGE}")
        following = INTERVIEW_STEPS[number] if number < total else None
        _go_on(page, DUTCH.next if following else DUTCH.finish, following)
    page.wait_for_url(re.compile(r"/sessions/\d+/summary$"))


def _code_and_release(page: Any) -> None:
    """On the coding page: rate three dimensions, mark a passage, release the profile."""
    ratings = page.locator("fieldset.rating")
    assert ratings.count() >= 3
    for index in range(3):
        ratings.nth(index).locator("label.scale-point").nth(index + 2).click()
        _expect(ratings.nth(index).locator("input[type=radio]:checked")).to_have_value(
            str(index + 3)
        )
    page.get_by_role("button", name="Scores opslaan").click()
    _expect(page.locator("body")).to_contain_text("Je scores zijn opgeslagen.")
    _expect(ratings.nth(0).locator("input[type=radio]:checked")).to_have_value("3")

    page.get_by_label("Passage", exact=True).fill(PASSAGE)
    page.get_by_role("button", name="Markeer deze passage").click()
    _expect(page.locator("blockquote.evidence")).to_contain_text(PASSAGE)

    page.get_by_role("button", name="Geef het profiel vrij aan de professional").click()
    _expect(page.locator("body")).to_contain_text(
        "Het profiel is nu zichtbaar voor de professional."
    )


def test_a_coach_reads_codes_releases_gives_feedback_and_the_professional_sees_it(
    browser: Any, page: Any, live_server: str, tmp_path: Path
) -> None:
    trajectory_url = _interview_ready(page, live_server, PROFESSIONAL, "Sam")
    _do_interview(page)
    trajectory_id = trajectory_url.rsplit("/", 1)[1]

    coach_context = browser.new_context(locale="nl-NL", viewport={"width": 1100, "height": 800})
    try:
        coach = coach_context.new_page()
        coach.set_default_timeout(10_000)
        _log_in(coach, live_server, COACH)
        coach.goto(f"{live_server}/coach")
        _expect(coach.locator("h1")).to_have_text("Mijn coachees")
        coach.locator("#caseload-table").get_by_role("link", name="Sam").click()
        coach.wait_for_url(f"{live_server}/coach/trajectories/{trajectory_id}")
        _expect(coach.locator("#scores svg[role=img]").first).to_be_visible()
        assert coach.locator("#scores svg[role=img]").count() >= 4
        _expect(coach.locator("#narratives .word")).to_have_text(list(WORDS))

        coach.get_by_role("link", name="Codeer dit verhaal").click()
        coach.wait_for_url(re.compile(r"/coach/sessions/\d+/coding$"))
        _code_and_release(coach)

        coach.goto(f"{live_server}/coach/trajectories/{trajectory_id}")
        _expect(coach.locator("#narratives")).to_contain_text("profiel vrijgegeven")
        coach.get_by_label("Over", exact=True).select_option(label="Interview")
        coach.get_by_label("Jouw feedback").fill(FEEDBACK)
        coach.get_by_role("button", name="Feedback versturen").click()
        coach.wait_for_url(re.compile(rf"/coach/trajectories/{trajectory_id}#feedback$"))
        _expect(coach.locator("#feedback .feedback-item")).to_contain_text(FEEDBACK)

        coach.get_by_role("link", name="Verslag", exact=True).click()
        _expect(coach.locator("h1")).to_have_text("Verslag van het traject")
        # The released profile is in the report, drawn as a chart.
        _expect(coach.locator("[aria-labelledby=profile-title] svg[role=img]")).to_be_visible()
        with coach.expect_download() as download_info:
            coach.get_by_role("link", name="PDF downloaden").click()
        download = download_info.value
        assert download.suggested_filename == f"dyade-report-{trajectory_id}.pdf"
        pdf = tmp_path / "report.pdf"
        download.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
    finally:
        coach_context.close()

    other_context = browser.new_context(locale="nl-NL")
    try:
        other = other_context.new_page()
        other.set_default_timeout(10_000)
        _log_in(other, live_server, OTHER_COACH)
        response = other.goto(f"{live_server}/coach/trajectories/{trajectory_id}")
        assert response is not None and response.status == 404
        assert FEEDBACK not in other.content()
    finally:
        other_context.close()

    # The menu counts the two new messages: the released profile and the feedback.
    page.goto(f"{live_server}/home")
    messages = page.locator(".main-nav a[href='/notifications']")
    _expect(messages.locator(".badge")).to_contain_text("2")
    messages.click()
    _expect(page.locator(".notifications li")).to_have_count(2)
    _expect(page.locator(".notifications")).to_contain_text("Je coach heeft je geschreven.")

    page.goto(f"{trajectory_url}/profile")
    _expect(page.locator("h1")).to_have_text("Je relatieprofiel met Sam")
    _expect(page.locator("figure.chart svg[role=img]")).to_be_visible()
    page.goto(trajectory_url)
    _expect(page.locator("#feedback .feedback-item")).to_contain_text(FEEDBACK)
    # ... and on "what changed" after the interview, with what it is about.
    page.get_by_role("link", name=DUTCH.what_changed).last.click()
    page.wait_for_url(re.compile(r"/sessions/\d+/summary$"))
    _expect(page.locator("#feedback .feedback-item")).to_contain_text(FEEDBACK)
    _expect(page.locator("#feedback .feedback-item")).to_contain_text("Over: Interview")
    _expect(page.locator(".main-nav .badge")).to_have_count(0)
