"""In Chromium: setting up two-factor login from the QR page, then logging in with a code."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from app.seed import DEMO_PASSWORD
from tests.e2e.test_login_browser import _log_in
from tests.e2e.test_reflection_browser import _expect

pytestmark = pytest.mark.browser
EMAIL = "admin@regenboog.example"  # no other browser test logs in as this admin


def test_an_admin_sets_up_two_factor_login_and_reads_the_audit_trail(
    page: Any, live_server: str
) -> None:
    page.goto(f"{live_server}/login")
    _log_in(page, EMAIL, DEMO_PASSWORD)
    page.wait_for_url(f"{live_server}/home")
    # Without two-factor login the audit trail stays closed.
    page.goto(f"{live_server}/admin/audit")
    assert "tweestapsverificatie" in page.locator("main").inner_text()

    page.goto(f"{live_server}/account")
    page.get_by_role("link", name="Tweestapsverificatie beheren").click()
    page.get_by_role("button", name="Tweestapsverificatie instellen").click()
    # The set-up page has the same address as the page before it, so wait for its QR code
    # rather than for a URL; is_visible() alone would look at the old page.
    _expect(page.locator("svg.qr-code")).to_be_visible()
    secret = page.locator("code.secret-key").inner_text().replace(" ", "")
    page.get_by_label("Code van zes cijfers").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Tweestapsverificatie aanzetten").click()
    page.wait_for_url(f"{live_server}/account/two-factor/confirm")
    codes = page.locator("ol.recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(
        re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", c) for c in codes
    )

    page.get_by_role("button", name="Uitloggen").click()
    page.wait_for_url(f"{live_server}/login")
    _log_in(page, EMAIL, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r".*/login/code.*"))
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(f"{live_server}/home")
    assert "herstelcode" in page.locator("#flash").inner_text()

    page.get_by_role("link", name="Logboek").click()
    _expect(page.locator("h1")).to_have_text("Logboek")
    assert page.get_by_text("account.two_factor_on").count() >= 1
