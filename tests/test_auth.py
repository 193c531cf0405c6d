"""Logging in and out, login sessions, throttling, passwords, invitations and resets.

The login form itself is exercised where it is under test; elsewhere `login_as` saves the
argon2 round trip.
"""

from __future__ import annotations

import functools
import html
import re
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiosmtpd.controller import Controller
from anyio.from_thread import start_blocking_portal
from sqlalchemy import update
from sqlmodel import Session, col, select

from app import i18n, mail
from app.auth.passwords import password_problem
from app.config import get_settings
from app.db import get_engine
from app.models import AccountToken, LoginFailure, OutboxMessage, User, UserSession, utcnow
from app.security import hash_password, token_digest
from tests.conftest import BASE_URL, PASSWORD, Cast, Client, form_csrf

NEW_PASSWORD = "zeven blauwe fietsen onder de brug"
HTMX = {"HX-Request": "true"}
LINK = re.compile(r"/(invitation|password/reset)/([A-Za-z0-9_-]{20,})")


def say(message: str, locale: str = "nl", **variables: object) -> str:
    """A message as the app shows it in this language."""
    with i18n.using_locale(locale):
        return i18n.gettext(message, **variables)


def text(response: httpx.Response) -> str:
    """The page as a person reads it (entities such as &#39; decoded)."""
    return html.unescape(response.text)


def fresh(db: Session) -> Session:
    """The test's session, ready to see what the app has committed since."""
    db.commit()
    db.expire_all()
    return db


def log_in(client: Client, email: str, password: str, **fields: str) -> httpx.Response:
    """Log in through the real form: its page, its CSRF token, its POST."""
    page = client.get("/login", params={"next": fields.get("next", "/")})
    data = {"email": email, "password": password, "csrf_token": form_csrf(page.text), **fields}
    return client.post("/login", data=data, follow_redirects=False)


def set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header text for one cookie ('' when the response sets none)."""
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return found[-1] if found else ""


def cookie_value(response: httpx.Response, name: str) -> str:
    return set_cookie(response, name).split(";")[0].split("=", 1)[1]


def page_csrf(client: Client, url: str = "/account") -> str:
    """The CSRF token on a page, for a client that logged in through the form."""
    return form_csrf(client.get(url).text)


def sessions_of(db: Session, user: User) -> list[UserSession]:
    return list(fresh(db).exec(select(UserSession).where(UserSession.user_id == user.id)).all())


def session_row(db: Session, token: str) -> UserSession:
    statement = select(UserSession).where(UserSession.token_hash == token_digest(token))
    return fresh(db).exec(statement).one()


def change_session(db: Session, token: str, **values: Any) -> None:
    db.execute(
        update(UserSession)
        .where(col(UserSession.token_hash) == token_digest(token))
        .values(**values)
    )
    db.commit()


def outbox_to(db: Session, address: str) -> list[OutboxMessage]:
    statement = select(OutboxMessage).where(OutboxMessage.to_address == address)
    return list(fresh(db).exec(statement.order_by(col(OutboxMessage.id))).all())


def link_in(message: str, kind: str) -> str:
    """The path of the invitation or reset link in an email."""
    found = [m for m in LINK.finditer(message) if m.group(1) == kind]
    assert found, f"no {kind} link in: {message}"
    return found[-1].group(0)


def user_by_email(db: Session, email: str) -> User:
    return fresh(db).exec(select(User).where(User.email == email)).one()


def invite(admin: Client, email: str, name: str = "Nina Nieuw") -> httpx.Response:
    data = {"display_name": name, "email": email, "roles": "professional", "locale": "nl"}
    return admin.post_form("/admin/users", data)


def argon2_parameters(password_hash: str) -> dict[str, int]:
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", password_hash)
    assert match, f"not an argon2id hash: {password_hash[:30]}"
    memory, time_cost, parallelism = map(int, match.groups())
    return {"m": memory, "t": time_cost, "p": parallelism}


# Logging in through the form


def test_it_logs_in_and_goes_to_the_page_asked_for(client: Client, cast: Cast) -> None:
    page = client.get("/login?next=/account")
    assert 'name="next" value="/account"' in page.text

    response = log_in(client, cast.admin.email, PASSWORD, next="/account")

    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_it_never_sends_you_to_another_site_after_login(
    client: Client, cast: Cast, target: str
) -> None:
    response = log_in(client, cast.admin.email, PASSWORD, next=target)

    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_the_session_cookie_is_http_only_same_site_and_secure(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = log_in(client, cast.admin.email, PASSWORD)

    header = set_cookie(response, "dyade_session")
    attributes = [part.strip() for part in header.split(";")]
    assert len(cookie_value(response, "dyade_session")) >= 40
    assert "HttpOnly" in attributes
    assert "SameSite=Lax" in attributes
    assert "Path=/" in attributes
    assert "Secure" in attributes  # the suite runs as "test": outside development

    monkeypatch.setattr(get_settings(), "environment", "development")
    local = log_in(client, cast.coach.email, PASSWORD)
    assert "Secure" not in [part.strip() for part in set_cookie(local, "dyade_session").split(";")]


def test_every_login_gets_a_new_session_token(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    first = cookie_value(log_in(make_client(), cast.admin.email, PASSWORD), "dyade_session")
    second = cookie_value(log_in(make_client(), cast.admin.email, PASSWORD), "dyade_session")

    assert first != second
    stored = {s.token_hash for s in sessions_of(db, cast.admin)}
    assert stored == {token_digest(first), token_digest(second)}


def test_it_rejects_a_wrong_password(client: Client, cast: Cast) -> None:
    response = log_in(client, cast.admin.email, "niet het goede wachtwoord")

    assert response.status_code == 400
    assert say("That email address and password do not match.") in text(response)
    assert f'value="{cast.admin.email}"' in response.text
    assert set_cookie(response, "dyade_session") == ""
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(
    client: Client, cast: Cast
) -> None:
    wrong = log_in(client, cast.admin.email, "niet het goede wachtwoord")
    unknown = log_in(client, "niemand@anker.example", "niet het goede wachtwoord")

    assert unknown.status_code == wrong.status_code == 400
    assert 'value="niemand@anker.example"' in unknown.text
    assert text(unknown).replace("niemand@anker.example", cast.admin.email) == text(wrong)


def test_it_asks_for_the_fields_left_empty(client: Client) -> None:
    response = client.post_form("/login", {"email": "  ", "password": ""})

    assert response.status_code == 422
    assert say("Fill in your email address.") in text(response)
    assert say("Fill in your password.") in text(response)


def test_passwords_are_hashed_with_argon2id_at_owasp_strength() -> None:
    parameters = argon2_parameters(hash_password("een wachtwoord om te hashen"))

    assert parameters["m"] >= 19456
    assert parameters["t"] >= 2


def test_an_unknown_email_takes_about_as_long_as_a_wrong_password(
    client: Client, cast: Cast
) -> None:
    def timed(email: str) -> float:
        started = time.perf_counter()
        response = client.post_form("/login", {"email": email, "password": "fout wachtwoord"})
        elapsed = time.perf_counter() - started
        assert response.status_code == 400
        return elapsed

    # Warm up both paths (the dummy hash is made once), then stay below every limit:
    # two failures per account, one per unknown address, fourteen for this address.
    # Alternating the two kinds and comparing medians keeps other work on the machine
    # (which comes and goes) from landing on one kind only.
    timed(cast.supervisor.email)
    timed("opwarmen@anker.example")
    known = [cast.admin, cast.coach, cast.other_coach, cast.professional, cast.multi, cast.admin]
    wrong: list[float] = []
    unknown: list[float] = []
    for n, user in enumerate(known):
        wrong.append(timed(user.email))
        unknown.append(timed(f"onbekend{n}@anker.example"))

    assert statistics.median(unknown) >= 0.5 * statistics.median(wrong)
    assert statistics.median(wrong) >= 0.5 * statistics.median(unknown)


# Throttling


def fail_logins(client: Client, email: str, times: int) -> None:
    for _ in range(times):
        response = client.post_form("/login", {"email": email, "password": "fout wachtwoord"})
        assert response.status_code == 400


def test_too_many_failures_make_even_the_right_password_wait(client: Client, cast: Cast) -> None:
    settings = get_settings()
    fail_logins(client, cast.admin.email, settings.login_max_failures_per_account)

    response = log_in(client, cast.admin.email, PASSWORD)

    assert response.status_code == 429
    expected = wait_message(settings.login_window_minutes)
    assert expected in text(response)
    assert "Wacht 15 minuten" in expected
    assert set_cookie(response, "dyade_session") == ""


def wait_message(minutes: int, locale: str = "nl") -> str:
    with i18n.using_locale(locale):
        return i18n.ngettext(
            "Too many failed attempts. Wait %(num)s minute and try again, or reset your password.",
            "Too many failed attempts. Wait %(num)s minutes and try again, or reset your password.",
            minutes,
        )


def test_the_last_minute_of_the_wait_is_one_minute_not_one_minutes(
    client: Client, cast: Cast, db: Session
) -> None:
    settings = get_settings()
    fail_logins(client, cast.admin.email, settings.login_max_failures_per_account)
    almost = utcnow() - timedelta(minutes=settings.login_window_minutes - 1, seconds=30)
    db.execute(update(LoginFailure).values(created_at=almost))
    db.commit()

    response = log_in(client, cast.admin.email, PASSWORD)

    assert response.status_code == 429
    assert "Wacht 1 minuut en probeer" in text(response)
    assert wait_message(1, "en").startswith("Too many failed attempts. Wait 1 minute and")


def test_a_locked_account_does_not_lock_out_others(
    client: Client, make_client: type[Client], cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "trusted_proxies", True)
    fail_logins(client, cast.admin.email, get_settings().login_max_failures_per_account)

    elsewhere = make_client()
    elsewhere.headers["X-Forwarded-For"] = "203.0.113.7"
    assert log_in(elsewhere, cast.coach.email, PASSWORD).status_code == 303
    assert log_in(client, cast.professional.email, PASSWORD).status_code == 303


def test_the_wait_ends_when_the_window_has_passed(client: Client, cast: Cast, db: Session) -> None:
    settings = get_settings()
    fail_logins(client, cast.admin.email, settings.login_max_failures_per_account)
    assert log_in(client, cast.admin.email, PASSWORD).status_code == 429

    earlier = utcnow() - timedelta(minutes=settings.login_window_minutes + 1)
    db.execute(update(LoginFailure).values(created_at=earlier))
    db.commit()

    assert log_in(client, cast.admin.email, PASSWORD).status_code == 303


def test_too_many_failures_from_one_address_are_throttled(
    client: Client, make_client: type[Client], cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "login_max_failures_per_address", 3)
    monkeypatch.setattr(get_settings(), "trusted_proxies", True)
    for n in range(3):  # a different account each time: only the address adds up
        fail_logins(client, f"raden{n}@anker.example", 1)

    assert log_in(client, cast.coach.email, PASSWORD).status_code == 429

    elsewhere = make_client()
    elsewhere.headers["X-Forwarded-For"] = "203.0.113.8"
    assert log_in(elsewhere, cast.coach.email, PASSWORD).status_code == 303


def test_a_forged_forwarded_address_does_not_escape_the_address_limit(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "login_max_failures_per_address", 3)
    monkeypatch.setattr(get_settings(), "trusted_proxies", True)
    # The proxy appends the address it saw (198.51.100.9); what comes before is the
    # client's own invention, new on every try.
    for n in range(3):
        client.headers["X-Forwarded-For"] = f"10.0.0.{n}, 198.51.100.9"
        fail_logins(client, f"raden{n}@anker.example", 1)

    client.headers["X-Forwarded-For"] = "10.0.0.99, 198.51.100.9"
    assert log_in(client, cast.coach.email, PASSWORD).status_code == 429


def test_resetting_the_password_lifts_the_wait_the_message_promised(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    fail_logins(client, cast.coach.email, get_settings().login_max_failures_per_account)
    assert log_in(client, cast.coach.email, PASSWORD).status_code == 429

    visitor = make_client()
    visitor.post_form("/password/forgot", {"email": cast.coach.email})
    link = link_in(outbox_to(db, cast.coach.email)[0].body_text, "password/reset")
    response = visitor.post_form(
        link, {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    )
    assert response.status_code == 303

    assert log_in(make_client(), cast.coach.email, NEW_PASSWORD).status_code == 303


# Logging out and session lifetime


def test_logging_out_ends_the_session_on_the_server(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    token = cookie_value(log_in(client, cast.admin.email, PASSWORD), "dyade_session")

    response = client.post(
        "/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "Max-Age=0" in set_cookie(response, "dyade_session")
    assert session_row(db, token).revoked_at is not None
    replay = make_client()
    replay.cookies.set("dyade_session", token)
    old = replay.get("/home", follow_redirects=False)
    assert old.status_code == 303
    assert old.headers["location"].startswith("/login")


def test_logging_out_after_the_session_expired_still_goes_to_the_login_page(
    client: Client, cast: Cast, db: Session
) -> None:
    token = cookie_value(log_in(client, cast.admin.email, PASSWORD), "dyade_session")
    csrf_on_the_open_page = page_csrf(client, "/home")
    change_session(db, token, last_seen_at=utcnow() - timedelta(days=1))

    response = client.post(
        "/logout", data={"csrf_token": csrf_on_the_open_page}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_an_idle_session_ends(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.admin)
    idle = get_settings().session_idle_minutes
    assert client.session_token
    change_session(db, client.session_token, last_seen_at=utcnow() - timedelta(minutes=idle - 1))
    assert client.get("/admin/users?q=pim", follow_redirects=False).status_code == 200

    change_session(db, client.session_token, last_seen_at=utcnow() - timedelta(minutes=idle + 1))
    response = client.get("/admin/users?q=pim", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote("/admin/users?q=pim", safe="/")
    login_page = client.get(response.headers["location"])
    assert 'name="next" value="/admin/users?q=pim"' in login_page.text


def test_a_session_ends_at_its_absolute_expiry(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.admin)
    assert client.session_token
    change_session(db, client.session_token, expires_at=utcnow() - timedelta(seconds=1))

    response = client.get("/home", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/home"


def test_deactivating_someone_logs_them_out_at_once(make_client: type[Client], cast: Cast) -> None:
    admin = make_client().login_as(cast.admin)
    phone, laptop = make_client().login_as(cast.coach), make_client().login_as(cast.coach)
    assert phone.get("/home", follow_redirects=False).status_code == 200

    assert admin.post_form(f"/admin/users/{cast.coach.id}/deactivate").status_code == 303

    for device in (phone, laptop):
        response = device.get("/home", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    refused = log_in(make_client(), cast.coach.email, PASSWORD)
    assert refused.status_code == 400
    assert say("That email address and password do not match.") in text(refused)
    # The sessions were ended, not just paused: reactivating does not bring them back.
    assert admin.post_form(f"/admin/users/{cast.coach.id}/reactivate").status_code == 303
    assert phone.get("/home", follow_redirects=False).status_code == 303


# The account page


def test_the_account_page_lists_where_you_are_logged_in(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    here = make_client().login_as(cast.coach)
    make_client().login_as(cast.coach)
    make_client().login_as(cast.admin)

    page = here.get("/account")

    assert page.status_code == 200
    ids = {s.id for s in sessions_of(db, cast.coach)}
    shown = {int(i) for i in re.findall(r'action="/account/sessions/(\d+)/end"', page.text)}
    assert shown == ids
    assert say("this device") in text(page)


def test_ending_another_session_logs_that_device_out(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    here = make_client().login_as(cast.coach)
    there = make_client().login_as(cast.coach)
    assert there.session_token
    other = session_row(db, there.session_token)

    response = here.post_form(f"/account/sessions/{other.id}/end")

    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert there.get("/home", follow_redirects=False).status_code == 303
    assert here.get("/home", follow_redirects=False).status_code == 200


def test_logging_out_everywhere_else_keeps_this_device(
    make_client: type[Client], cast: Cast
) -> None:
    here = make_client().login_as(cast.coach)
    others = [make_client().login_as(cast.coach) for _ in range(2)]
    colleague = make_client().login_as(cast.other_coach)

    response = here.post_form("/account/sessions/end-others")

    assert response.status_code == 303
    assert here.get("/home", follow_redirects=False).status_code == 200
    for other in others:
        assert other.get("/home", follow_redirects=False).status_code == 303
    assert colleague.get("/home", follow_redirects=False).status_code == 200


def test_someone_elses_session_cannot_be_ended(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    here = make_client().login_as(cast.coach)
    colleague = make_client().login_as(cast.other_coach)
    assert colleague.session_token
    theirs = session_row(db, colleague.session_token)

    assert here.post_form(f"/account/sessions/{theirs.id}/end").status_code == 404
    assert colleague.get("/home", follow_redirects=False).status_code == 200


# Password rules

OWNER = {"email": "kees.jansen@school.example", "name": "Kees Jansen"}


@pytest.mark.parametrize(
    "password",
    [
        "kort",
        "1234567",
        "password",
        "welkom01",
        "Wachtwoord123",
        "ikheetkees.jansenenzo",
        "de fiets van jansen is rood",
    ],
)
def test_it_refuses_weak_passwords(password: str) -> None:
    assert password_problem(password, **OWNER) is not None


def test_it_accepts_a_64_character_passphrase_with_spaces() -> None:
    passphrase = "paarse olifanten dansen zacht op de brug bij het oude station nu"
    assert len(passphrase) == 64

    assert password_problem(passphrase, **OWNER) is None


@pytest.mark.parametrize("password", ["correct horse battery staple", "zq8#kd2m"])
def test_it_has_no_composition_rules(password: str) -> None:
    assert password_problem(password, **OWNER) is None


def test_the_account_form_refuses_a_password_with_your_own_name(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.coach)
    before = user_by_email(db, cast.coach.email).password_hash

    response = client.post_form(
        "/account/password",
        {
            "current_password": PASSWORD,
            "password": "carla houdt van fietsen",
            "password_confirmation": "carla houdt van fietsen",
        },
    )

    assert response.status_code == 422
    assert say("Don't use your own name or email address in your password.") in text(response)
    assert user_by_email(db, cast.coach.email).password_hash == before


# Invitations


def test_an_invitation_lets_a_new_person_choose_a_password_and_log_in(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)
    assert invite(admin, "nina@anker.example").status_code == 303
    [message] = outbox_to(db, "nina@anker.example")
    link = link_in(message.body_text, "invitation")

    newcomer = make_client()
    form = newcomer.get(link)
    assert form.status_code == 200
    assert "nina@anker.example" in form.text
    assert 'name="password_confirmation"' in form.text

    mismatch = newcomer.post(
        link,
        data={
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD + " niet",
            "csrf_token": form_csrf(form.text),
        },
        follow_redirects=False,
    )
    assert mismatch.status_code == 422
    assert say("The two passwords are not the same.") in text(mismatch)
    assert user_by_email(db, "nina@anker.example").password_hash is None

    accepted = newcomer.post(
        link,
        data={
            "password": NEW_PASSWORD,
            "password_confirmation": NEW_PASSWORD,
            "csrf_token": form_csrf(form.text),
        },
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/login"
    stored = user_by_email(db, "nina@anker.example").password_hash
    assert stored
    parameters = argon2_parameters(stored)
    assert parameters["m"] >= 19456
    assert parameters["t"] >= 2
    assert log_in(newcomer, "nina@anker.example", NEW_PASSWORD).status_code == 303

    again = make_client().get(link)
    assert again.status_code == 400
    assert say(
        "This link is no longer valid. It may have been used already or have expired."
    ) in text(again)


def test_the_invitation_form_refuses_a_common_password(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)
    invite(admin, "nina@anker.example")
    link = link_in(outbox_to(db, "nina@anker.example")[0].body_text, "invitation")
    newcomer = make_client()

    response = newcomer.post_form(
        link, {"password": "Wachtwoord123", "password_confirmation": "Wachtwoord123"}
    )

    assert response.status_code == 422
    common = say(
        "This password is on a list of commonly used passwords. "
        "Choose something less predictable, for example a few unrelated words."
    )
    assert common in text(response)
    assert user_by_email(db, "nina@anker.example").password_hash is None
    assert newcomer.get(link).status_code == 200  # the link still works for a second try


def test_an_expired_invitation_does_not_work(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)
    invite(admin, "nina@anker.example")
    link = link_in(outbox_to(db, "nina@anker.example")[0].body_text, "invitation")
    db.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    newcomer = make_client()

    assert newcomer.get(link).status_code == 400
    response = newcomer.post_form(
        link, {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert user_by_email(db, "nina@anker.example").password_hash is None


def test_sending_the_invitation_again_makes_the_old_link_stop_working(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)
    invite(admin, "nina@anker.example")
    nina = user_by_email(db, "nina@anker.example")

    assert admin.post_form(f"/admin/users/{nina.id}/invitation").status_code == 303

    first, second = (link_in(m.body_text, "invitation") for m in outbox_to(db, nina.email))
    assert first != second
    newcomer = make_client()
    assert newcomer.get(first).status_code == 400
    assert newcomer.get(second).status_code == 200


def test_an_invitation_stops_working_when_the_account_is_deactivated(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)
    invite(admin, "nina@anker.example")
    nina = user_by_email(db, "nina@anker.example")
    link = link_in(outbox_to(db, nina.email)[0].body_text, "invitation")

    assert admin.post_form(f"/admin/users/{nina.id}/deactivate").status_code == 303

    newcomer = make_client()
    assert newcomer.get(link).status_code == 400
    response = newcomer.post_form(
        link, {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert user_by_email(db, nina.email).password_hash is None


# Password reset


def test_forgot_password_looks_the_same_for_known_and_unknown_addresses(
    client: Client, cast: Cast, db: Session
) -> None:
    known = client.post_form("/password/forgot", {"email": cast.coach.email})
    unknown = client.post_form("/password/forgot", {"email": "niemand@anker.example"})

    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert len(outbox_to(db, cast.coach.email)) == 1
    assert outbox_to(db, "niemand@anker.example") == []


def test_a_reset_link_sets_a_new_password_and_logs_out_everywhere(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    phone, laptop = make_client().login_as(cast.coach), make_client().login_as(cast.coach)
    visitor = make_client()
    visitor.post_form("/password/forgot", {"email": cast.coach.email.upper()})
    link = link_in(outbox_to(db, cast.coach.email)[0].body_text, "password/reset")

    assert visitor.get(link).status_code == 200
    response = visitor.post_form(
        link, {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    for device in (phone, laptop):
        assert device.get("/home", follow_redirects=False).status_code == 303
    assert all(s.revoked_at is not None for s in sessions_of(db, cast.coach))
    assert log_in(make_client(), cast.coach.email, PASSWORD).status_code == 400
    assert log_in(make_client(), cast.coach.email, NEW_PASSWORD).status_code == 303
    reused = visitor.post_form(
        link, {"password": "nog een ander wachtwoord hier", "password_confirmation": "x"}
    )
    assert reused.status_code == 400
    assert visitor.get(link).status_code == 400


# Email delivery over SMTP


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_starttls", False)
    monkeypatch.setattr(settings, "smtp_timeout_seconds", 5.0)


@pytest.fixture
def smtp_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    use_smtp(monkeypatch, port)
    try:
        yield inbox
    finally:
        controller.stop()


def test_invitations_are_delivered_by_smtp(
    smtp_inbox: Inbox, make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)

    assert invite(admin, "nina@anker.example").status_code == 303

    [(recipients, message)] = smtp_inbox.messages
    assert recipients == ["nina@anker.example"]
    body = message.get_body(("plain",))
    assert body is not None
    [record] = outbox_to(db, "nina@anker.example")
    link = link_in(record.body_text, "invitation")
    assert link in body.get_content()
    assert record.sent_at is not None
    assert record.error == ""
    assert make_client().get(link).status_code == 200


def test_an_unreachable_mail_server_does_not_break_the_invitation(
    monkeypatch: pytest.MonkeyPatch, make_client: type[Client], cast: Cast, db: Session
) -> None:
    use_smtp(monkeypatch, free_port())  # nothing listens there
    admin = make_client().login_as(cast.admin)

    response = invite(admin, "nina@anker.example")

    assert response.status_code == 303
    assert admin.get(response.headers["location"]).status_code == 200
    [record] = outbox_to(db, "nina@anker.example")
    assert record.sent_at is None
    assert record.error != ""


def test_the_reset_email_goes_out_after_the_page_has_been_sent(
    smtp_inbox: Inbox, monkeypatch: pytest.MonkeyPatch, cast: Cast, db: Session
) -> None:
    """So the page takes as long for an address without an account, and nobody waits."""
    from app.main import app

    events: list[str] = []

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def watched_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("page sent")

        await app(scope, receive, watched_send)

    deliver = mail._deliver

    def deliver_and_note(message: EmailMessage) -> None:
        events.append("mail sent")
        deliver(message)

    monkeypatch.setattr(mail, "_deliver", deliver_and_note)
    with Client(watched, base_url=BASE_URL) as visitor:
        visitor.get("/password/forgot")
        events.clear()
        response = visitor.post_form("/password/forgot", {"email": cast.coach.email})

    assert response.status_code == 200
    assert events == ["page sent", "mail sent"]
    [(recipients, _message)] = smtp_inbox.messages
    assert recipients == [cast.coach.email]
    [record] = outbox_to(db, cast.coach.email)
    assert record.sent_at is not None and record.error == ""


def test_mail_from_a_request_that_rolls_back_is_never_sent(smtp_inbox: Inbox, cast: Cast) -> None:
    async def request(*, commit: bool, to: str) -> None:
        async with mail.delivered_after_response():
            with Session(get_engine()) as session:
                mail.send_mail(
                    session, to=to, subject="Test", text="Hallo", organisation_id=cast.org.id
                )
                assert smtp_inbox.messages == []  # not while the request runs
                if commit:
                    session.commit()
                else:
                    session.rollback()

    # In an event loop of its own thread: the browser tests' Playwright keeps one running
    # in this one.
    with start_blocking_portal() as portal:
        portal.call(functools.partial(request, commit=False, to="weg@anker.example"))
        assert smtp_inbox.messages == []
        portal.call(functools.partial(request, commit=True, to="wel@anker.example"))
    assert [recipients for recipients, _ in smtp_inbox.messages] == [["wel@anker.example"]]


# htmx: the "log in again" dialog


def assert_login_dialog(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["HX-Retarget"] == "#session-dialog"
    assert "location" not in response.headers
    assert "<html" not in response.text
    assert 'name="relogin" value="1"' in response.text
    assert 'name="password"' in response.text


def test_an_htmx_request_without_a_session_gets_the_login_dialog(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    assert_login_dialog(make_client().get("/account", headers=HTMX))

    client.login_as(cast.coach)
    assert client.session_token
    change_session(db, client.session_token, expires_at=utcnow() - timedelta(seconds=1))

    assert_login_dialog(client.get("/account", headers=HTMX))
    assert_login_dialog(client.post_form("/account/sessions/end-others", headers=HTMX))


def test_logging_in_again_in_the_dialog_gives_the_page_a_fresh_csrf_token(
    client: Client, cast: Cast, db: Session
) -> None:
    token = cookie_value(log_in(client, cast.coach.email, PASSWORD), "dyade_session")
    old_csrf = page_csrf(client)
    change_session(db, token, last_seen_at=utcnow() - timedelta(days=1))
    assert client.get("/home", follow_redirects=False).status_code == 303

    # As htmx sends it: the page's (old) token in the header, the dialog's (anonymous) one
    # in the form; the expired session cookie is still sent along.
    response = client.post(
        "/login",
        data={
            "email": cast.coach.email,
            "password": PASSWORD,
            "relogin": "1",
            "next": "/",
            "csrf_token": client.csrf(),
        },
        headers={**HTMX, "X-CSRF-Token": old_csrf},
    )

    assert response.status_code == 200
    assert "data-relogin-done" in response.text
    assert "<html" not in response.text
    match = re.search(r'data-csrf-token="([^"]+)"', response.text)
    assert match
    new_csrf = match.group(1)
    assert new_csrf != old_csrf
    stale = client.post("/account/sessions/end-others", headers={**HTMX, "X-CSRF-Token": old_csrf})
    assert stale.status_code == 403
    carried_on = client.post(
        "/account/sessions/end-others", headers={**HTMX, "X-CSRF-Token": new_csrf}
    )
    assert carried_on.status_code == 204
    assert carried_on.headers["HX-Redirect"] == "/account"


def test_a_wrong_password_in_the_dialog_shows_the_dialog_again(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.coach)
    assert client.session_token
    change_session(db, client.session_token, expires_at=utcnow() - timedelta(seconds=1))
    dialog = client.get("/account", headers=HTMX)

    response = client.post(
        "/login",
        data={
            "email": cast.coach.email,
            "password": "fout wachtwoord",
            "relogin": "1",
            "csrf_token": form_csrf(dialog.text),
        },
        headers=HTMX,
    )

    assert response.status_code == 400
    assert "<html" not in response.text
    assert 'name="relogin" value="1"' in response.text
    assert say("That email address and password do not match.") in text(response)
    assert "data-relogin-done" not in response.text


# Language


def test_pages_are_in_dutch_by_default(client: Client, cast: Cast) -> None:
    page = client.login_as(cast.coach).get("/home")

    assert '<html lang="nl">' in page.text
    assert "Uitloggen" in page.text


def test_choosing_english_is_remembered_for_the_user(
    client: Client, make_client: type[Client], cast: Cast, db: Session
) -> None:
    client.login_as(cast.coach)

    response = client.post_form("/language", {"locale": "en", "next": "/home"})

    assert response.status_code == 303
    assert response.headers["location"] == "/home"
    assert set_cookie(response, "dyade_locale").startswith("dyade_locale=en;")
    assert user_by_email(db, cast.coach.email).locale == "en"
    page = client.get("/home")
    assert '<html lang="en">' in page.text
    assert "Log out" in page.text
    # Another device of the same person, without the cookie, follows the stored choice.
    other_device = make_client().login_as(cast.coach).get("/home")
    assert '<html lang="en">' in other_device.text


def test_an_anonymous_visitor_can_choose_english(client: Client) -> None:
    response = client.post_form("/language", {"locale": "en", "next": "/login"})

    assert response.status_code == 303
    assert set_cookie(response, "dyade_locale").startswith("dyade_locale=en;")
    page = client.get("/login")
    assert '<html lang="en">' in page.text
    assert "Log in to Dyade" in page.text


# Mail that was not delivered: the retry job (app.mail.retry_unsent)


def write_mail(to: str, cast: Cast, *, deliver: bool) -> int:
    """A message written and committed outside a request, as a command or the job does."""
    with Session(get_engine()) as session:
        record = mail.send_mail(
            session,
            to=to,
            subject="Uitnodiging",
            text="Hallo",
            organisation_id=cast.org.id,
            deliver=deliver,
        )
        session.commit()
        assert record.id is not None
        return record.id


def stored(db: Session, message_id: int) -> OutboxMessage:
    record = fresh(db).get(OutboxMessage, message_id)
    assert record is not None
    return record


def test_mail_whose_process_stopped_before_sending_it_goes_out_with_the_next_run(
    smtp_inbox: Inbox, cast: Cast, db: Session
) -> None:
    # deliver=False and no delivery afterwards: as if the process stopped after the commit.
    message_id = write_mail("nina@anker.example", cast, deliver=False)

    # Within the lease the writer may still be sending it: the job leaves it alone.
    assert mail.retry_unsent(now=utcnow()) == (0, 0)
    assert smtp_inbox.messages == []

    later = utcnow() + mail.DELIVERY_LEASE + timedelta(seconds=1)
    assert mail.retry_unsent(now=later) == (1, 0)
    assert [recipients for recipients, _ in smtp_inbox.messages] == [["nina@anker.example"]]
    record = stored(db, message_id)
    assert record.sent_at is not None and record.next_attempt_at is None
    assert record.attempts == 1

    # Sent is sent: later runs do not send it again.
    assert mail.retry_unsent(now=later + timedelta(days=1)) == (0, 0)
    assert len(smtp_inbox.messages) == 1


def test_failed_mail_is_tried_again_later_and_arrives_once_the_server_is_back(
    monkeypatch: pytest.MonkeyPatch, cast: Cast, db: Session
) -> None:
    port = free_port()
    use_smtp(monkeypatch, port)  # nothing listens there yet
    message_id = write_mail("nina@anker.example", cast, deliver=True)
    record = stored(db, message_id)
    assert record.sent_at is None and record.attempts == 1 and record.error != ""
    assert record.next_attempt_at is not None
    first_wait = record.next_attempt_at - utcnow()
    assert mail.RETRY_AFTER[0] - timedelta(minutes=1) < first_wait <= mail.RETRY_AFTER[0]

    # Not before its time.
    assert mail.retry_unsent(now=record.next_attempt_at - timedelta(seconds=1)) == (0, 0)
    assert mail.retry_unsent(now=record.next_attempt_at) == (0, 1)
    record = stored(db, message_id)
    assert record.attempts == 2
    assert record.next_attempt_at is not None

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert mail.retry_unsent(now=record.next_attempt_at) == (1, 0)
    finally:
        controller.stop()
    assert [recipients for recipients, _ in inbox.messages] == [["nina@anker.example"]]
    record = stored(db, message_id)
    assert record.sent_at is not None and record.error == "" and record.attempts == 3


def test_failed_mail_waits_longer_each_time_and_is_given_up_after_the_last_try(
    monkeypatch: pytest.MonkeyPatch, cast: Cast, db: Session
) -> None:
    use_smtp(monkeypatch, free_port())  # nothing listens there
    message_id = write_mail("nina@anker.example", cast, deliver=True)
    waits = []
    for _ in range(mail.MAX_ATTEMPTS - 1):
        due = stored(db, message_id).next_attempt_at
        assert due is not None
        assert mail.retry_unsent(now=due) == (0, 1)
        after = stored(db, message_id).next_attempt_at
        if after is not None:
            waits.append(after - utcnow())
    record = stored(db, message_id)
    assert record.attempts == mail.MAX_ATTEMPTS
    assert record.next_attempt_at is None  # given up; the error stays for the admin
    assert record.error != "" and record.sent_at is None
    # Each wait is the next one of RETRY_AFTER (measured from now, so a little less).
    assert [round(w / timedelta(minutes=1)) for w in waits] == [
        round(w / timedelta(minutes=1)) for w in mail.RETRY_AFTER[1:]
    ]
    assert mail.retry_unsent(now=utcnow() + timedelta(hours=23)) == (0, 0)


def test_a_second_run_while_the_first_is_sending_does_not_send_the_message_again(
    smtp_inbox: Inbox, monkeypatch: pytest.MonkeyPatch, cast: Cast
) -> None:
    write_mail("nina@anker.example", cast, deliver=False)
    later = utcnow() + mail.DELIVERY_LEASE + timedelta(seconds=1)
    deliver = mail._deliver
    second_run: list[tuple[int, int]] = []

    def deliver_while_another_process_runs_the_job(message: EmailMessage) -> None:
        second_run.append(mail.retry_unsent(now=later))
        deliver(message)

    monkeypatch.setattr(mail, "_deliver", deliver_while_another_process_runs_the_job)

    assert mail.retry_unsent(now=later) == (1, 0)
    assert second_run == [(0, 0)]
    assert len(smtp_inbox.messages) == 1


def test_mail_older_than_a_day_is_not_tried_again(
    smtp_inbox: Inbox, cast: Cast, db: Session
) -> None:
    message_id = write_mail("nina@anker.example", cast, deliver=False)
    later = utcnow() + mail.RETRY_WITHIN + timedelta(minutes=1)

    assert mail.retry_unsent(now=later) == (0, 0)
    assert smtp_inbox.messages == []
    assert stored(db, message_id).sent_at is None


def test_without_a_mail_server_nothing_waits_for_a_retry(cast: Cast, db: Session) -> None:
    message_id = write_mail("nina@anker.example", cast, deliver=True)

    assert stored(db, message_id).next_attempt_at is None
    assert mail.retry_unsent(now=utcnow() + timedelta(hours=1)) == (0, 0)


def test_the_outbox_shows_how_often_a_message_was_tried_and_when_it_is_tried_next(
    monkeypatch: pytest.MonkeyPatch, make_client: type[Client], cast: Cast, db: Session
) -> None:
    use_smtp(monkeypatch, free_port())  # nothing listens there
    message_id = write_mail(cast.admin.email, cast, deliver=True)
    due = stored(db, message_id).next_attempt_at
    assert due is not None
    mail.retry_unsent(now=due)
    admin = make_client().login_as(cast.admin)

    page = admin.get(f"/admin/outbox/{message_id}").text

    assert "Probleem met bezorgen" in page
    assert re.search(r"Keren geprobeerd te versturen</dt><dd>2<", page)
    assert "Volgende poging" in page


def test_a_message_that_cannot_be_built_does_not_hold_up_the_others(
    smtp_inbox: Inbox, cast: Cast, db: Session
) -> None:
    with Session(get_engine()) as session:
        broken = mail.send_mail(
            session,
            to="kapot@anker.example",
            subject="Kapot",
            text="Hallo",
            organisation_id=cast.org.id,
            attachments=[{"filename": "x.bin", "content_type": "image/png", "content": "?"}],
            deliver=False,
        )
        session.commit()
        broken_id = broken.id
    assert broken_id is not None
    good_id = write_mail("nina@anker.example", cast, deliver=False)
    later = utcnow() + mail.DELIVERY_LEASE + timedelta(seconds=1)

    assert mail.retry_unsent(now=later) == (1, 1)
    assert [recipients for recipients, _ in smtp_inbox.messages] == [["nina@anker.example"]]
    assert stored(db, good_id).sent_at is not None
    record = stored(db, broken_id)
    assert record.sent_at is None and record.error != "" and record.attempts == 1
    assert record.next_attempt_at is not None and record.next_attempt_at > utcnow()
