"""In Chromium: from login through the intake and the interview to "what changed", without
losing a word through a reload, leaving the page, a second tab or an expired login.

Each test uses its own demo professional, so the tests share the server but no data.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser

INTAKE_STEPS = ("consent", "relationship", "efficacy", "strain", "empathy")
INTERVIEW_STEPS = (
    "three_words",
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
)


@dataclass(frozen=True)
class Ui:
    """The texts a person reads and clicks, in one language."""

    add_relationship: str
    pseudonym: str
    sector: str
    age_band: str
    save: str
    start_programme: str
    consent: str
    next: str
    finish: str
    what_changed: str
    saved_at: str
    step_of: str


DUTCH = Ui(
    add_relationship="Relatie toevoegen",
    pseudonym="Schuilnaam",
    sector="Onderwijs (school)",
    age_band="8-11 jaar",
    save="Opslaan",
    start_programme="Begin met het programma",
    consent="Ik doe mee aan dit programma.",
    next="Volgende",
    finish="Rond deze sessie af",
    what_changed="Wat is er veranderd",
    saved_at="Opgeslagen om",
    step_of="Stap {n} van {total}",
)
ENGLISH = Ui(
    add_relationship="Add a relationship",
    pseudonym="Pseudonym",
    sector="Education (school)",
    age_band="8-11 years",
    save="Save",
    start_programme="Start the programme",
    consent="I take part in this programme.",
    next="Next",
    finish="Finish this session",
    what_changed="What changed",
    saved_at="Saved at",
    step_of="Step {n} of {total}",
)


def _expect(target: Any) -> Any:
    from playwright.sync_api import expect

    return expect(target)


def _log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#field-email").fill(email)
    page.locator("#field-password").fill(DEMO_PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(f"{base}/home")


def _start_programme(page: Any, base: str, ui: Ui, pseudonym: str) -> None:
    """Add a focus relationship and start the programme; ends on the trajectory page."""
    page.goto(f"{base}/relationships")
    page.get_by_role("link", name=ui.add_relationship).click()
    page.get_by_label(ui.pseudonym).fill(pseudonym)
    page.get_by_text(ui.sector, exact=True).click()
    page.get_by_text(ui.age_band, exact=True).click()
    page.get_by_role("button", name=ui.save, exact=True).click()
    page.get_by_role("button", name=ui.start_programme).click()
    page.wait_for_url(re.compile(r"/trajectories/\d+$"))


def _open_session(page: Any) -> None:
    """From the trajectory page: start the session that is ready."""
    page.locator(".session--open a.button").click()
    page.wait_for_url(re.compile(r"/sessions/\d+/steps/"))


def _go_on(page: Any, label: str, next_step: str | None) -> None:
    page.get_by_role("button", name=label).click()
    if next_step is not None:
        page.wait_for_url(re.compile(rf"/steps/{next_step}$"))
        _expect(page.locator("#wizard form")).to_have_attribute(
            "action", re.compile(rf"/steps/{next_step}$")
        )


def _no_sideways_scrolling(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"the page scrolls {width}px sideways at {page.url}"


def _do_intake(page: Any, ui: Ui, *, check: Callable[[Any], None] | None = None) -> None:
    """Consent and every questionnaire item (by clicking the answer's label); `check` runs on
    every step."""
    _open_session(page)
    total = len(INTAKE_STEPS)
    for number, step in enumerate(INTAKE_STEPS, start=1):
        _expect(page.locator(".progress-label")).to_have_text(
            ui.step_of.format(n=number, total=total)
        )
        if check:
            check(page)
        if step == "consent":
            page.get_by_text(ui.consent).click()
        else:
            questions = page.locator("fieldset.instrument-question")
            assert questions.count() > 0
            for index in range(questions.count()):
                points = questions.nth(index).locator("label.scale-point")
                # Vary the answers a little, as a person would.
                points.nth(min(1 + index % 3, points.count() - 1)).click()
                _expect(questions.nth(index).locator("input[type=radio]:checked")).to_have_count(1)
        following = INTAKE_STEPS[number] if number < total else None
        _go_on(page, ui.next if following else ui.finish, following)
    page.wait_for_url(re.compile(r"/sessions/\d+/summary$"))


def _interview_url(page: Any, base: str, step: str) -> str:
    """The URL of a step of the (open) interview, from the trajectory page."""
    href = page.locator(".session--open a.button").get_attribute("href")
    return f"{base}{href}/steps/{step}"


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _interview_ready(page: Any, base: str, email: str, pseudonym: str) -> str:
    """Log in, start a programme and finish the intake; returns the trajectory URL."""
    _log_in(page, base, email)
    _start_programme(page, base, DUTCH, pseudonym)
    trajectory = page.url
    _do_intake(page, DUTCH)
    page.goto(trajectory)
    return trajectory


def _wait_until_stored(page: Any, step_url: str, text: str) -> None:
    """Ask the server (with this browser's login) until the step holds the text."""
    deadline = time.monotonic() + 10  # as long as the page's other waits
    while text not in page.context.request.get(step_url).text():
        assert time.monotonic() < deadline, f"{text!r} never reached the server"
        time.sleep(0.1)


# ---------------------------------------------------------------- the whole way, in Dutch


def test_a_new_teacher_goes_from_login_to_what_changed_in_dutch(
    page: Any, live_server: str
) -> None:
    _log_in(page, live_server, "leerkracht2@regenboog.example")
    _start_programme(page, live_server, DUTCH, "Kiki")
    trajectory = page.url
    _do_intake(page, DUTCH)
    _expect(page.locator("h1")).to_have_text(DUTCH.what_changed)

    page.goto(trajectory)
    _open_session(page)
    words = ("geduldig", "zoekend", "warm")
    for number, word in enumerate(words, start=1):
        page.get_by_label(f"Woord {number}", exact=True).fill(word)
    page.get_by_label("Bij elk woord een voorval").fill(
        "Geduldig: maandag wachtte ik tot Kiki zelf begon te vertellen over het weekend."
    )
    total = len(INTERVIEW_STEPS)
    _go_on(page, DUTCH.next, INTERVIEW_STEPS[1])
    for number, step in enumerate(INTERVIEW_STEPS[1:], start=2):
        _expect(page.locator(".progress-label")).to_have_text(f"Stap {number} van {total}")
        page.get_by_label("Jouw antwoord").fill(
            f"Bij {step}: vorige week in de kring keek Kiki me aan en ik knikte terug."
        )
        following = INTERVIEW_STEPS[number] if number < total else None
        _go_on(page, DUTCH.next if following else DUTCH.finish, following)

    page.wait_for_url(re.compile(r"/sessions/\d+/summary$"))
    _expect(page.locator("h1")).to_have_text(DUTCH.what_changed)
    _expect(page.locator(".word")).to_have_text(list(words))
    scores = page.locator("table.scores")
    for questionnaire in (
        "Jouw relatie met dit kind of deze cliënt",
        "Vertrouwen in je aanpak",
        "Wat het werk van je vraagt",
        "Meeleven en meegesleept worden",
    ):
        _expect(scores).to_contain_text(questionnaire)
    # Every scale has an intake score (the third column).
    intake = scores.locator("tbody td:nth-child(3)")
    assert intake.count() >= 4
    assert all(re.fullmatch(r"\d+,\d", cell) for cell in intake.all_inner_texts())

    # The same page on a phone: one card per scale, nothing to scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    _expect(page.locator("table.scores tbody tr").first).to_be_visible()
    _no_sideways_scrolling(page)
    table_width = page.locator("table.scores").evaluate("t => t.scrollWidth - t.clientWidth")
    assert table_width <= 0, f"the scores table scrolls {table_width}px sideways on a phone"


# ---------------------------------------------------------------- nothing is lost


def test_typed_text_survives_a_reload_and_leaving_the_page(page: Any, live_server: str) -> None:
    trajectory = _interview_ready(page, live_server, "leerkracht3@regenboog.example", "J.")
    step_url = _interview_url(page, live_server, "connected")
    page.goto(step_url)
    _expect(page.locator("#hint-text")).to_contain_text("Hoogstens 20.000 tekens.")
    answer = page.get_by_label("Jouw antwoord")
    first = "Toen J. vanochtend binnenkwam, zei hij als eerste goedemorgen."
    answer.press_sequentially(first)
    _expect(page.locator("#save-status")).to_contain_text(DUTCH.saved_at)
    page.reload()
    _expect(page.get_by_label("Jouw antwoord")).to_have_value(first)

    # Leave within the autosave's delay: the pagehide beacon carries the text.
    more = " Ik was verrast en blij."
    page.get_by_label("Jouw antwoord").press("End")
    page.keyboard.type(more)
    page.goto(trajectory)
    # The beacon is sent while the page unloads; it may arrive just after the next request.
    _wait_until_stored(page, step_url, more.strip())
    page.goto(step_url)
    _expect(page.get_by_label("Jouw antwoord")).to_have_value(first + more)


def test_an_expired_login_while_typing_keeps_the_text_and_saves_it_after_logging_in(
    page: Any, live_server: str
) -> None:
    _interview_ready(page, live_server, "pm1@regenboog.example", "Bo")
    step_url = _interview_url(page, live_server, "upset")
    page.goto(step_url)
    answer = page.get_by_label("Jouw antwoord")
    first = "Bo gooide in de pauze een bal hard tegen de ruit."
    answer.press_sequentially(first)
    _expect(page.locator("#save-status")).to_contain_text(DUTCH.saved_at)

    page.context.clear_cookies(name="dyade_session")
    more = " Ik schrok en riep te hard."
    answer.press("End")
    page.keyboard.type(more)
    dialog = page.locator("#session-dialog")
    _expect(dialog).to_contain_text("Je bent automatisch uitgelogd")
    _expect(page.locator("#save-status")).to_contain_text("Je tekst staat er nog")
    _expect(answer).to_have_value(first + more)

    dialog.locator("input[type=email]").fill("pm1@regenboog.example")
    dialog.locator("input[type=password]").fill(DEMO_PASSWORD)
    dialog.get_by_role("button", name="Opnieuw inloggen").click()
    _expect(dialog).to_contain_text("Je bent weer ingelogd")
    _expect(page.locator("#save-status")).to_contain_text(DUTCH.saved_at)
    # Without a reload, the page's forms carry the new login's CSRF token: the wizard goes on.
    _go_on(page, DUTCH.next, "angry")
    page.goto(step_url)
    _expect(page.get_by_label("Jouw antwoord")).to_have_value(first + more)


def test_saving_too_often_keeps_the_text_and_saves_it_after_the_wait(
    page: Any, live_server: str
) -> None:
    _interview_ready(page, live_server, "jeugdzorg2@debrug.example", "R.")
    step_url = _interview_url(page, live_server, "connected")
    page.goto(step_url)
    # The server's limit (120 saves a minute) is far above typing; answer the first save
    # with the server's 429 to see what the page does with it.
    limited: list[str] = []

    def once_limited(route: Any) -> None:
        if limited:
            route.continue_()
            return
        limited.append(route.request.post_data or "")
        route.fulfill(
            status=429,
            headers={"Retry-After": "1"},
            content_type="application/json",
            body='{"error": "Nog niet opgeslagen: je slaat te vaak op.", "retry_after": 1}',
        )

    page.route(re.compile(r".*/steps/connected/draft$"), once_limited)
    answer = page.get_by_label("Jouw antwoord")
    text = "R. kwam te laat binnen en smeet zijn jas op de grond."
    answer.press_sequentially(text)
    _expect(page.locator("#save-status")).to_contain_text("Nog niet opgeslagen")
    _expect(answer).to_have_value(text)
    # Without another key pressed, the page tries again after the wait and succeeds.
    _expect(page.locator("#save-status")).to_contain_text(DUTCH.saved_at)
    assert len(limited) == 1
    _wait_until_stored(page, step_url, text)


def _two_tabs(page: Any, step_url: str) -> tuple[Any, Any]:
    """Tab A and tab B on the same step; B saves first, so A's next save conflicts."""
    tab_a = page
    tab_a.goto(step_url)
    tab_b = page.context.new_page()
    tab_b.goto(step_url)
    tab_b.get_by_label("Jouw antwoord").press_sequentially("Geschreven in tab B.")
    _expect(tab_b.locator("#save-status")).to_contain_text(DUTCH.saved_at)
    tab_a.get_by_label("Jouw antwoord").press_sequentially("Geschreven in tab A.")
    conflict = tab_a.locator(".autosave-conflict")
    _expect(conflict).to_contain_text("Geschreven in tab B.")
    _expect(tab_a.get_by_label("Jouw antwoord")).to_have_value("Geschreven in tab A.")
    return tab_a, tab_b


def test_a_second_tab_leads_to_a_choice_and_keeping_this_window_wins(
    page: Any, live_server: str
) -> None:
    _interview_ready(page, live_server, "ib1@regenboog.example", "Mo")
    step_url = _interview_url(page, live_server, "helpless")
    tab_a, tab_b = _two_tabs(page, step_url)
    tab_a.get_by_role("button", name="Houd de tekst in dit venster").click()
    _expect(tab_a.locator(".autosave-conflict")).to_have_count(0)
    _expect(tab_a.locator("#save-status")).to_contain_text(DUTCH.saved_at)
    tab_a.reload()
    _expect(tab_a.get_by_label("Jouw antwoord")).to_have_value("Geschreven in tab A.")
    tab_b.reload()
    _expect(tab_b.get_by_label("Jouw antwoord")).to_have_value("Geschreven in tab A.")


def test_a_second_tab_leads_to_a_choice_and_the_saved_version_can_be_taken(
    page: Any, live_server: str
) -> None:
    _interview_ready(page, live_server, "jeugdzorg1@debrug.example", "T.")
    step_url = _interview_url(page, live_server, "guilty")
    tab_a, _tab_b = _two_tabs(page, step_url)
    tab_a.get_by_role("button", name="Gebruik de opgeslagen versie").click()
    answer = tab_a.get_by_label("Jouw antwoord")
    _expect(answer).to_have_value("Geschreven in tab B.")
    # Carrying on from the saved version saves without another conflict.
    answer.press("End")
    tab_a.keyboard.type(" En verder in tab A.")
    _expect(tab_a.locator("#save-status")).to_contain_text(DUTCH.saved_at)
    _expect(tab_a.locator(".autosave-conflict")).to_have_count(0)
    tab_a.reload()
    _expect(tab_a.get_by_label("Jouw antwoord")).to_have_value(
        "Geschreven in tab B. En verder in tab A."
    )


# ---------------------------------------------------------------- English, on a phone


def test_an_english_teacher_does_the_intake_and_interview_on_a_phone(
    browser: Any, phone_page: Any, live_server: str, tmp_path: Any
) -> None:
    page = phone_page
    _log_in(page, live_server, "leerkracht4@regenboog.example")
    assert page.locator("html").get_attribute("lang") == "en"
    _no_sideways_scrolling(page)
    _start_programme(page, live_server, ENGLISH, "Robin")
    _no_sideways_scrolling(page)
    trajectory = page.url
    _do_intake(page, ENGLISH, check=_no_sideways_scrolling)
    _expect(page.locator("h1")).to_have_text(ENGLISH.what_changed)
    _no_sideways_scrolling(page)

    page.goto(trajectory)
    _open_session(page)
    total = len(INTERVIEW_STEPS)
    _expect(page.locator(".progress-label")).to_have_text(f"Step 1 of {total}")
    _expect(page.locator("#hint-text")).to_contain_text("Up to 20,000 characters.")
    for number, word in enumerate(("curious", "tiring", "funny"), start=1):
        page.get_by_label(f"Word {number}", exact=True).fill(word)
    page.get_by_label("An episode for each word").press_sequentially(
        "Curious: Robin asked me about my cat."
    )
    _expect(page.locator("#save-status")).to_contain_text(ENGLISH.saved_at)
    _no_sideways_scrolling(page)
    _go_on(page, ENGLISH.next, INTERVIEW_STEPS[1])
    _expect(page.locator(".progress-label")).to_have_text(f"Step 2 of {total}")
    page.get_by_label("Your answer").press_sequentially(
        "On Tuesday Robin waved at me from the gate."
    )
    _expect(page.locator("#save-status")).to_contain_text(ENGLISH.saved_at)
    _no_sideways_scrolling(page)
    _go_on(page, ENGLISH.next, INTERVIEW_STEPS[2])
    _expect(page.locator(".progress-label")).to_have_text(f"Step 3 of {total}")
    _no_sideways_scrolling(page)
    for number, step in enumerate(INTERVIEW_STEPS[2:], start=3):
        _expect(page.locator(".progress-label")).to_have_text(f"Step {number} of {total}")
        page.get_by_label("Your answer").fill(f"About {step}: on Friday Robin helped me tidy up.")
        following = INTERVIEW_STEPS[number] if number < total else None
        _go_on(page, ENGLISH.next if following else ENGLISH.finish, following)
    page.wait_for_url(re.compile(r"/sessions/\d+/summary$"))
    _expect(page.locator("h1")).to_have_text(ENGLISH.what_changed)
    _expect(page.locator(".word")).to_have_text(["curious", "tiring", "funny"])
    _expect(page.locator("table.scores")).to_contain_text("Closeness")
    _no_sideways_scrolling(page)

    # Their own report, as a page and as a PDF.
    page.goto(f"{trajectory}/report")
    _expect(page.locator("h1")).to_have_text("Trajectory report")
    _expect(page.locator(".report .word").first).to_have_text("curious")
    _no_sideways_scrolling(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    assert download_info.value.suggested_filename.endswith(".pdf")

    # Their coach (who also works in English) reads Robin's programme and report.
    coach_context = browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 800})
    try:
        coach = coach_context.new_page()
        coach.set_default_timeout(10_000)
        _log_in(coach, live_server, "coach2@regenboog.example")
        coach.goto(f"{live_server}/coach")
        coach.locator("#caseload-table").get_by_role("link", name="Robin").click()
        coach.wait_for_url(re.compile(r"/coach/trajectories/\d+$"))
        _expect(coach.locator("h1")).to_have_text("Joris Mulder about Robin")
        _expect(coach.locator("#narratives .word")).to_have_text(["curious", "tiring", "funny"])
        coach.get_by_role("link", name="Report", exact=True).click()
        _expect(coach.locator("h1")).to_have_text("Trajectory report")
        with coach.expect_download() as download_info:
            coach.get_by_role("link", name="Download PDF").click()
        pdf = tmp_path / "report.pdf"
        download_info.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
    finally:
        coach_context.close()


# ---------------------------------------------------------------- one answer at a time


def test_each_answer_is_saved_as_it_is_clicked_and_survives_a_reload(
    page: Any, live_server: str
) -> None:
    _log_in(page, live_server, "gezinshuis1@debrug.example")
    _start_programme(page, live_server, DUTCH, "Mo")
    _open_session(page)
    page.get_by_text(DUTCH.consent).click()
    _go_on(page, DUTCH.next, "relationship")
    questions = page.locator("fieldset.instrument-question")
    # Quickly, one after another: each click posts only its own answer.
    for index in range(4):
        questions.nth(index).locator("label.scale-point").nth(index).click()
    for index in range(4):
        _expect(questions.nth(index).locator(".instrument-save-status")).to_have_text("Opgeslagen")

    page.reload()  # without pressing "Next"
    for index in range(4):
        _expect(questions.nth(index).locator("input[type=radio]").nth(index)).to_be_checked()
    _expect(questions.nth(4).locator("input[type=radio]:checked")).to_have_count(0)
