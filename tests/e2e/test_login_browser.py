"""In Chromium: the demo logins work in Dutch and in English, and a bad login is explained."""

from __future__ import annotations

from typing import Any

import pytest

from app.seed import DEMO_PASSWORD
from tests.e2e.test_reflection_browser import _expect

pytestmark = pytest.mark.browser


def _log_in(page: Any, email: str, password: str) -> None:
    page.get_by_label(
        "E-mailadres" if page.locator("html").get_attribute("lang") == "nl" else "Email address"
    ).fill(email)
    page.locator("#field-password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()


def test_a_teacher_logs_in_in_dutch(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/")
    assert page.locator("h1").inner_text() == "Inloggen bij Dyade"
    _log_in(page, "leerkracht1@regenboog.example", DEMO_PASSWORD)
    page.wait_for_url(f"{live_server}/home")
    assert "Hallo Sanne Visser" in page.locator("h1").inner_text()
    assert page.get_by_role("button", name="Uitloggen").is_visible()


def test_an_admin_logs_in_in_english_and_sees_the_people(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_role("button", name="English").click()
    _expect(page.locator("html")).to_have_attribute("lang", "en")
    _expect(page.locator("h1")).to_have_text("Log in to Dyade")
    _log_in(page, "admin@debrug.example", DEMO_PASSWORD)
    page.wait_for_url(f"{live_server}/home")
    page.get_by_role("link", name="People").first.click()
    _expect(page.locator("h1")).to_have_text("People")
    _expect(page.get_by_role("link", name="Noor Hendriks")).to_be_visible()
    # Another organisation's people are not there.
    assert page.get_by_text("Sanne Visser").count() == 0


def test_a_wrong_password_gets_a_clear_message_and_keeps_the_email(
    page: Any, live_server: str
) -> None:
    page.goto(f"{live_server}/login")
    _log_in(page, "coach1@regenboog.example", "not the password at all")
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert "klopt niet" in summary.inner_text()
    assert page.locator("#field-email").input_value() == "coach1@regenboog.example"
