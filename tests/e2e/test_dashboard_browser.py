"""In Chromium: a supervisor reads their organisation's dashboard in Dutch and in English;
every group of fewer than 5 is hidden (and what would give it away), nothing leads to a
person, and the exports hold the same figures.

The organisation is made by `python -m app synthetic` on the live server's database (50
professionals, seed 1: one sector has only 4 of them), so no other browser test is touched.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from app import i18n
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.browser

SUPERVISOR = "supervisor@e2e-synth.example"
PASSWORD = "synthetic-demo-2026"
PROFESSIONALS = 50
PERSON_ROUTES = re.compile(r"/(coach|trajectories|sessions|relationships|diary|admin)\b")


def say(locale: str, message: str, **variables: object) -> str:
    with i18n.using_locale(locale):
        return i18n.gettext(message, **variables)


@pytest.fixture(scope="module")
def organisation(live_server: str, live_env: dict[str, str]) -> str:
    """The synthetic organisation, added once the server has migrated and seeded."""
    subprocess.run(
        [sys.executable, "-m", "app", "synthetic", "--professionals", str(PROFESSIONALS),
         "--slug", "e2e-synth", "--seed", "1", "--password", PASSWORD],
        cwd=ROOT, env=live_env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return live_server


def _log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#field-email").fill(SUPERVISOR)
    page.locator("#field-password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(f"{base}/home")


def _cells(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def _check_nothing_small(page: Any, locale: str) -> int:
    """Every count shown is at least 5; returns how many cells are hidden."""
    hidden = say(locale, "fewer than %(n)s", n=5)
    cells = _cells(page, "#table-sectors td") + _cells(page, "#table-funnel td")
    cells += _cells(page, ".change-table td:nth-of-type(2)")  # the number of pairs
    assert cells, "no figures on the page"
    for cell in cells:
        assert cell == hidden or int(cell.replace(".", "")) >= 5, cell
    return sum(cell == hidden for cell in cells)


def _check_no_way_to_a_person(page: Any) -> None:
    links = page.locator("main a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert links, "no links at all?"
    assert not [link for link in links if PERSON_ROUTES.search(link)], links
    assert "Kind " not in page.locator("main").inner_text()  # the children's pseudonyms


def test_a_supervisor_sees_the_figures_in_dutch_and_english_small_groups_hidden(
    page: Any, organisation: str
) -> None:
    base = organisation
    _log_in(page, base)
    page.goto(f"{base}/dashboard")
    assert page.locator("h1").inner_text() == say("nl", "Dashboard")
    assert page.locator("#figure-professionals").inner_text() == str(PROFESSIONALS)
    rule = "Groups of fewer than %(n)s people are not shown, so that nobody can be recognised."
    assert say("nl", rule, n=5) in page.locator("main").inner_text()
    # The sector with 4 professionals is hidden, and a second one with it.
    assert _check_nothing_small(page, "nl") >= 2
    sector_cells = _cells(page, "#table-sectors td")
    assert sector_cells.count(say("nl", "fewer than %(n)s", n=5)) >= 6  # two rows of three
    # Change figures are shown for the whole organisation, in Dutch number format.
    closeness = page.locator('tr[data-cell="relationship-closeness-post"]').inner_text()
    assert re.search(r"[+\u2212]?\d,\d\d", closeness), closeness
    _check_no_way_to_a_person(page)

    # Nothing to open for a supervisor: a person's trajectory, the research export.
    for path in ("/coach/trajectories/1", "/trajectories/1", "/admin/research"):
        response = page.request.get(f"{base}{path}")
        assert response.status in (403, 404), (path, response.status)

    # The same page in English.
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    page.goto(f"{base}/dashboard")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Participation").is_visible()
    assert page.locator("#figure-professionals").inner_text() == str(PROFESSIONALS)
    assert _check_nothing_small(page, "en") >= 2
    assert re.search(
        r"[+\u2212-]?\d\.\d\d",
        page.locator('tr[data-cell="relationship-closeness-post"]').inner_text(),
    )
    _check_no_way_to_a_person(page)

    # Choosing the small sector shows nothing that would reveal it.
    page.get_by_label("Sector", exact=True).select_option("family_home")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"sector=family_home"))
    results = page.locator("#dashboard-results").inner_text()
    assert "fewer than 5" in results
    assert page.locator("#figure-professionals").count() == 0 or (
        page.locator("#figure-professionals").inner_text() == "fewer than 5"
    )

    # The exports hold the same figures as the screen.
    with page.expect_download() as download:
        page.goto(f"{base}/dashboard")
        page.get_by_role("link", name="Download these figures as CSV").click()
    csv_text = download.value.path().read_text(encoding="utf-8-sig")
    assert f"Professionals taking part,,{PROFESSIONALS}" in csv_text
