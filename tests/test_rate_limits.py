"""Rate limits on password reset requests and autosave, counted in the database."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from app import ratelimit
from app.config import get_settings
from app.models import NarrativeAnswer, OutboxMessage, RateCounter, utcnow
from tests.conftest import Cast, Client
from tests.test_reflection import do_intake, start


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits' clock stands still: windows are fixed, so requests made across a window's
    end would be counted in two windows (and a test would pass or fail by the minute)."""
    now = utcnow()
    monkeypatch.setattr(ratelimit, "utcnow", lambda: now)


def outbox_count(db: Session, address: str) -> int:
    db.expire_all()
    return len(db.exec(select(OutboxMessage).where(OutboxMessage.to_address == address)).all())


def connected_text(db: Session) -> str:
    db.expire_all()
    query = select(NarrativeAnswer).where(NarrativeAnswer.step_key == "connected")
    return db.exec(query).one().text


def age_counters(db: Session, minutes: int) -> None:
    """Move every counter back in time, as if the window had passed."""
    earlier = RateCounter.__table__.c.window_start - timedelta(minutes=minutes)  # type: ignore[attr-defined]
    db.execute(update(RateCounter).values(window_start=earlier))
    db.commit()


# ------------------------------------------------------------------ the counter itself


def test_windows_are_fixed_and_aligned() -> None:
    moment = datetime(2026, 12, 1, 10, 7, 42, tzinfo=UTC)
    assert ratelimit.window_start(moment, timedelta(minutes=1)) == datetime(
        2026, 12, 1, 10, 7, tzinfo=UTC
    )
    assert ratelimit.window_start(moment, timedelta(minutes=15)) == datetime(
        2026, 12, 1, 10, 0, tzinfo=UTC
    )


def test_a_key_is_let_through_up_to_its_limit_and_then_told_how_long_to_wait(
    db: Session,
) -> None:
    limit = ratelimit.Limit(3, timedelta(minutes=1))
    waits = [ratelimit.hit(db, key="test:a", limit=limit) for _ in range(4)]
    db.commit()

    assert waits[:3] == [0, 0, 0]
    assert 1 <= waits[3] <= 60
    # Another key has its own count.
    assert ratelimit.hit(db, key="test:b", limit=limit) == 0
    row = db.exec(select(RateCounter).where(RateCounter.key == "test:a")).one()
    assert row.count == 4


def test_old_windows_are_removed(db: Session) -> None:
    limit = ratelimit.Limit(3, timedelta(minutes=1))
    ratelimit.hit(db, key="test:old", limit=limit)
    db.commit()
    age_counters(db, 24 * 60)

    ratelimit.hit(db, key="test:new", limit=limit)
    db.commit()

    assert [r.key for r in db.exec(select(RateCounter)).all()] == ["test:new"]


# ------------------------------------------------------------------ password reset


def test_reset_requests_for_one_email_are_limited_known_or_not(
    client: Client, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "reset_max_per_email", 2)
    for _ in range(2):
        assert client.post_form("/password/forgot", {"email": cast.coach.email}).status_code == 200
    assert outbox_count(db, cast.coach.email) == 2

    refused = client.post_form("/password/forgot", {"email": cast.coach.email})
    for _ in range(2):
        client.post_form("/password/forgot", {"email": "niemand@anker.example"})
    unknown = client.post_form("/password/forgot", {"email": "niemand@anker.example"})

    assert refused.status_code == unknown.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    page = html.unescape(refused.text)
    assert "Te veel aanvragen voor een nieuw wachtwoord." in page
    assert "Een link die je eerder kreeg, werkt nog." in page
    assert f'value="{cast.coach.email}"' in refused.text  # what was typed is kept
    assert outbox_count(db, cast.coach.email) == 2  # no third email
    # Known and unknown addresses look alike, also when limited.
    assert refused.text.replace(cast.coach.email, "") == unknown.text.replace(
        "niemand@anker.example", ""
    )


def test_reset_requests_from_one_address_are_limited(
    client: Client, make_client: type[Client], cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "reset_max_per_address", 3)
    monkeypatch.setattr(get_settings(), "trusted_proxies", True)
    client.headers["X-Forwarded-For"] = "203.0.113.20"
    for n in range(3):  # a different email each time: only the address adds up
        assert client.post_form("/password/forgot", {"email": f"x{n}@anker.example"}).is_success

    assert client.post_form("/password/forgot", {"email": cast.coach.email}).status_code == 429

    elsewhere = make_client()
    elsewhere.headers["X-Forwarded-For"] = "203.0.113.21"
    assert elsewhere.post_form("/password/forgot", {"email": cast.coach.email}).status_code == 200


def test_reset_requests_work_again_after_the_window(
    client: Client, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "reset_max_per_email", 1)
    client.post_form("/password/forgot", {"email": cast.coach.email})
    assert client.post_form("/password/forgot", {"email": cast.coach.email}).status_code == 429

    age_counters(db, get_settings().reset_window_minutes)

    assert client.post_form("/password/forgot", {"email": cast.coach.email}).status_code == 200
    assert outbox_count(db, cast.coach.email) == 2


def test_the_limit_message_is_in_english_too(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "reset_max_per_email", 1)
    client.cookies.set("dyade_locale", "en")
    client.post_form("/password/forgot", {"email": cast.coach.email})
    refused = client.post_form("/password/forgot", {"email": cast.coach.email})
    assert "Too many requests for a new password." in html.unescape(refused.text)


# ------------------------------------------------------------------ autosave


def test_a_typist_saving_every_second_is_never_limited(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected/draft"
    # A minute of steady typing saves about 50 times (the page waits 1.2 s after a key).
    for version in range(60):
        response = client.post_form(url, {"text": f"tekst {version}", "version": str(version)})
        assert response.status_code == 200, response.text


def test_autosaving_far_too_often_answers_429_and_loses_nothing(
    client: Client, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "autosave_max_per_minute", 3)
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    do_intake(client, sessions["intake"].id)
    url = f"/sessions/{sessions['interview'].id}/steps/connected/draft"
    for version in range(3):
        assert client.post_form(url, {"text": f"v{version}", "version": str(version)}).is_success

    limited = client.post_form(url, {"text": "het nieuwste stuk", "version": "3"})

    assert limited.status_code == 429
    body = limited.json()
    assert body["error"].startswith("Nog niet opgeslagen: je slaat te vaak op")
    assert 1 <= body["retry_after"] <= 60
    assert limited.headers["Retry-After"] == str(body["retry_after"])
    assert connected_text(db) == "v2"  # the stored text is intact

    # The page tries again after the wait: the same text and version then go through.
    age_counters(db, 1)
    retried = client.post_form(url, {"text": "het nieuwste stuk", "version": "3"})
    assert retried.status_code == 200
    assert connected_text(db) == "het nieuwste stuk"


def test_the_limit_is_per_login_session(
    make_client: type[Client], cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = make_client().login_as(cast.professional)
    _, sessions = start(phone, db)
    do_intake(phone, sessions["intake"].id)
    monkeypatch.setattr(get_settings(), "autosave_max_per_minute", 2)
    url = f"/sessions/{sessions['interview'].id}/steps/connected/draft"
    for version in range(2):
        phone.post_form(url, {"text": f"v{version}", "version": str(version)})
    assert phone.post_form(url, {"text": "v2", "version": "2"}).status_code == 429

    laptop = make_client().login_as(cast.professional)
    assert laptop.post_form(url, {"text": "v2", "version": "2"}).status_code == 200


def test_saving_single_answers_shares_the_autosave_limit(
    client: Client, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.login_as(cast.professional)
    _, sessions = start(client, db)
    client.post_form(
        f"/sessions/{sessions['intake'].id}/steps/consent",
        {"consent_programme": "1", "action": "next"},
    )
    monkeypatch.setattr(get_settings(), "autosave_max_per_minute", 1)
    url = f"/sessions/{sessions['intake'].id}/steps/relationship/answers"
    from app.instruments.loader import builtin_definition

    item = builtin_definition("relationship").items[0]
    assert client.post_form(url, {f"item-{item.key}": "3"}).status_code == 200
    limited = client.post_form(url, {f"item-{item.key}": "4"})
    assert limited.status_code == 429
    assert "Nog niet opgeslagen" in limited.text
