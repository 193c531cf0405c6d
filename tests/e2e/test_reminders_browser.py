"""In Chromium: a professional chooses how to be reminded; their coach plans a session; the
professional sees it on the start page and the invites wait in the outbox with a calendar file.

Uses kdv1 (coached by coach2 of De Brug), whom no other browser test uses.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.test_reflection_browser import DUTCH, _expect, _log_in, _start_programme

pytestmark = pytest.mark.browser

PROFESSIONAL = "kdv1@debrug.example"
COACH = "coach2@debrug.example"
ADMIN = "admin@debrug.example"


def test_reminder_choices_and_a_planned_session_with_an_invite(
    browser: Any, page: Any, live_server: str
) -> None:
    _log_in(page, live_server, PROFESSIONAL)
    _start_programme(page, live_server, DUTCH, "Noor")
    trajectory_id = re.search(r"/trajectories/(\d+)$", page.url).group(1)  # type: ignore[union-attr]

    page.goto(f"{live_server}/account")
    upcoming = page.get_by_role("group", name="Er komt een geplande sessie aan (de dag ervoor)")
    upcoming.get_by_label("Alleen in de app").check()
    page.get_by_label("Van", exact=True).select_option("22")
    page.get_by_label("Tot", exact=True).select_option("7")
    page.get_by_role("button", name="Instellingen voor herinneringen opslaan").click()
    _expect(page.get_by_text("Je instellingen voor herinneringen zijn opgeslagen.")).to_be_visible()
    page.reload()
    _expect(upcoming.get_by_label("Alleen in de app")).to_be_checked()
    _expect(page.get_by_label("Van", exact=True)).to_have_value("22")

    coach_context = browser.new_context(locale="nl-NL")
    coach = coach_context.new_page()
    coach.set_default_timeout(10_000)
    _log_in(coach, live_server, COACH)
    coach.goto(f"{live_server}/coach/trajectories/{trajectory_id}")
    planned_day = (date.today() + timedelta(days=30)).isoformat()
    form = coach.get_by_role("group", name="Een sessie plannen")
    form.get_by_label("Sessie").select_option(label="Interview")
    form.get_by_label("Datum").fill(planned_day)
    form.get_by_label("Tijd", exact=True).fill("14:30")
    form.get_by_role("button", name="Plannen en uitnodigingen versturen").click()
    _expect(coach.get_by_text("De sessie is gepland.", exact=False)).to_be_visible()
    _expect(coach.get_by_text("gepland op", exact=False)).to_be_visible()
    coach_context.close()

    page.goto(f"{live_server}/home")
    _expect(page.get_by_role("heading", name="Geplande sessies")).to_be_visible()
    _expect(page.locator(".upcoming li")).to_contain_text("om 14:30")

    admin_context = browser.new_context(locale="nl-NL")
    admin = admin_context.new_page()
    admin.set_default_timeout(10_000)
    _log_in(admin, live_server, ADMIN)
    admin.goto(f"{live_server}/admin/outbox")
    admin.get_by_role("link", name="Je Dyade-sessie is gepland").first.click()
    # The admin's own language may have been changed by another browser test.
    attachment = re.compile(r"^(Bijlage|Attachment): dyade-session\.ics$")
    _expect(admin.get_by_role("heading", name=attachment)).to_be_visible()
    _expect(admin.locator("pre.mail-body").last).to_contain_text("BEGIN:VCALENDAR")
    admin_context.close()
