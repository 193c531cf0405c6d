"""Two-factor login: enrolment with a QR code, the code step, recovery codes, the org setting."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.models import (
    AccountToken,
    AuditEvent,
    Organisation,
    RecoveryCode,
    TokenPurpose,
    User,
    UserSession,
    utcnow,
)
from app.security import decrypt_secret, encrypt_secret, recovery_code_digest
from tests.conftest import PASSWORD, Cast, Client, form_csrf
from tests.test_auth import cookie_value, fresh, log_in

HTMX = {"HX-Request": "true"}


def enrol(db: Session, user: User) -> pyotp.TOTP:
    """Two-factor login switched on directly, with a secret the test knows."""
    secret = pyotp.random_base32()
    db.execute(
        update(User)
        .where(col(User.id) == user.id)
        .values(totp_secret=encrypt_secret(secret), totp_confirmed_at=utcnow(), totp_last_step=None)
    )
    db.commit()
    return pyotp.TOTP(secret)


def require_two_factor(db: Session, org: Organisation) -> None:
    db.execute(
        update(Organisation).where(col(Organisation.id) == org.id).values(two_factor_required=True)
    )
    db.commit()


def code_step(client: Client, code: str, **extra: str):  # type: ignore[no-untyped-def]
    page = client.get("/login/code")
    return client.post(
        "/login/code",
        data={"code": code, "csrf_token": form_csrf(page.text), **extra},
        follow_redirects=False,
    )


def test_enrolment_shows_a_qr_code_once_and_gives_ten_recovery_codes(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.professional, two_factor=False)
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "Tweestapsverificatie staat uit" in page.text
    assert client.post_form("/account/two-factor/setup").status_code == 303
    page = client.get("/account/two-factor").text
    assert "<svg" in page and 'class="qr-code"' in page
    user = fresh(db).get(User, cast.professional.id)
    assert user is not None and user.totp_secret
    secret = decrypt_secret(user.totp_secret)
    assert secret and secret not in user.totp_secret  # stored encrypted
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in page

    wrong = client.post_form("/account/two-factor/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "niet goed" in wrong.text
    right = client.post_form("/account/two-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", right.text)
    assert len(set(codes)) == 10

    db.expire_all()
    user = db.get(User, cast.professional.id)
    assert user is not None and user.two_factor_enabled
    stored = db.exec(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert sorted(stored) == sorted(recovery_code_digest(c) for c in codes)
    assert not set(codes) & set(stored)
    # The secret is never shown again, and this login now counts as a two-factor one.
    after = client.get("/account/two-factor").text
    assert grouped not in after and "<svg" not in after and "10 ongebruikte" in after
    own = db.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert own.two_factor_at is not None
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "account.two_factor_on")).one()


def test_login_asks_for_the_code_after_the_password(
    client: Client, cast: Cast, db: Session
) -> None:
    totp = enrol(db, cast.coach)
    response = log_in(client, cast.coach.email, PASSWORD, next="/coach")
    assert response.status_code == 303
    assert response.headers["location"] == "/login/code?next=/coach"
    assert "dyade_session" not in response.headers.get("set-cookie", "")
    assert client.get("/coach", follow_redirects=False).status_code == 303  # not logged in yet

    wrong = code_step(client, "123456", next="/coach")
    assert wrong.status_code == 400 and "niet goed" in wrong.text
    done = code_step(client, totp.now(), next="/coach")
    assert done.status_code == 303 and done.headers["location"] == "/coach"
    token = cookie_value(done, "dyade_session")
    assert client.get("/coach").status_code == 200
    login = fresh(db).exec(select(UserSession).where(UserSession.user_id == cast.coach.id)).one()
    assert login.two_factor_at is not None
    assert token


def test_the_same_code_is_not_accepted_twice(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    totp = enrol(db, cast.coach)
    code = totp.now()
    first = make_client()
    log_in(first, cast.coach.email, PASSWORD)
    assert code_step(first, code).status_code == 303
    second = make_client()
    log_in(second, cast.coach.email, PASSWORD)
    replay = code_step(second, code)
    assert replay.status_code == 400
    assert "gebruikt" in replay.text


def test_a_recovery_code_works_once(make_client: type[Client], cast: Cast, db: Session) -> None:
    enrol(db, cast.coach)
    db.add(
        RecoveryCode(
            organisation_id=cast.org.id,
            user_id=cast.coach.id,  # type: ignore[arg-type]
            code_hash=recovery_code_digest("abcd-efgh-jkmn"),
        )
    )
    db.commit()
    first = make_client()
    log_in(first, cast.coach.email, PASSWORD)
    used = code_step(first, "ABCD EFGH JKMN")  # as typed from paper
    assert used.status_code == 303
    assert "herstelcode" in first.get(used.headers["location"]).text
    second = make_client()
    log_in(second, cast.coach.email, PASSWORD)
    assert code_step(second, "abcd-efgh-jkmn").status_code == 400


def test_wrong_codes_are_throttled_and_a_right_password_does_not_reset_them(
    client: Client, cast: Cast, db: Session
) -> None:
    totp = enrol(db, cast.coach)
    log_in(client, cast.coach.email, PASSWORD)
    for _ in range(3):
        assert code_step(client, "000000").status_code == 400
    log_in(client, cast.coach.email, PASSWORD)  # a fresh password does not buy new guesses
    for _ in range(2):
        assert code_step(client, "000000").status_code == 400
    throttled = code_step(client, totp.now())
    assert throttled.status_code == 429
    assert "Wacht" in throttled.text


def test_the_code_step_expires(client: Client, cast: Cast, db: Session) -> None:
    enrol(db, cast.coach)
    log_in(client, cast.coach.email, PASSWORD)
    db.execute(
        update(AccountToken)
        .where(col(AccountToken.purpose) == TokenPurpose.second_factor.value)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()
    response = client.get("/login/code", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.post_form("/login/code", {"code": "123456"}).status_code == 303
    # Without a password first there is no code step at all.
    fresh_client = Client(client.app)
    assert fresh_client.get("/login/code", follow_redirects=False).status_code == 303


def test_the_relogin_dialog_asks_for_the_code_too(client: Client, cast: Cast, db: Session) -> None:
    totp = enrol(db, cast.coach)
    data = {"email": cast.coach.email, "password": PASSWORD, "relogin": "1", "next": "/"}
    response = client.post("/login", data={**data, "csrf_token": client.csrf()}, headers=HTMX)
    assert response.status_code == 200
    assert 'hx-post="/login/code"' in response.text and "<html" not in response.text
    done = client.post(
        "/login/code",
        data={"code": totp.now(), "relogin": "1", "csrf_token": client.csrf()},
        headers=HTMX,
    )
    assert done.status_code == 200 and "data-relogin-done" in done.text


def test_switching_off_needs_a_code_and_is_refused_when_required(
    client: Client, cast: Cast, db: Session
) -> None:
    totp = enrol(db, cast.professional)
    client.login_as(cast.professional)
    wrong = client.post_form("/account/two-factor/disable", {"code": "111111"})
    assert wrong.status_code == 422
    off = client.post_form("/account/two-factor/disable", {"code": totp.now()})
    assert off.status_code == 303
    user = fresh(db).get(User, cast.professional.id)
    assert user is not None and not user.two_factor_enabled and user.totp_secret is None

    totp = enrol(db, cast.coach)
    require_two_factor(db, cast.org)
    client.login_as(cast.coach)
    refused = client.post_form("/account/two-factor/disable", {"code": totp.now()})
    assert refused.status_code == 422 and "verplicht" in refused.text
    assert fresh(db).get(User, cast.coach.id).two_factor_enabled  # type: ignore[union-attr]


def test_new_recovery_codes_replace_the_old_ones(client: Client, cast: Cast, db: Session) -> None:
    totp = enrol(db, cast.professional)
    db.add(
        RecoveryCode(
            organisation_id=cast.org.id,
            user_id=cast.professional.id,  # type: ignore[arg-type]
            code_hash=recovery_code_digest("abcd-efgh-jkmn"),
        )
    )
    db.commit()
    client.login_as(cast.professional)
    response = client.post_form("/account/two-factor/recovery-codes", {"code": totp.now()})
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z0-9-]{14})</code>", response.text)
    hashes = (
        fresh(db)
        .exec(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == cast.professional.id))
        .all()
    )
    assert len(codes) == len(hashes) == 10
    assert recovery_code_digest("abcd-efgh-jkmn") not in hashes


def test_the_organisation_setting_sends_coaches_to_enrolment_but_not_professionals(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    admin = make_client().login_as(cast.admin)
    page = admin.get("/admin/settings")
    assert page.status_code == 200 and "Carla Coach" in page.text  # not set up yet
    saved = admin.post_form("/admin/settings", {"two_factor_required": "on"})
    assert saved.status_code == 303
    assert fresh(db).get(Organisation, cast.org.id).two_factor_required  # type: ignore[union-attr]
    assert db.exec(
        select(AuditEvent).where(AuditEvent.action == "organisation.two_factor_required")
    ).one()

    coach = make_client()
    assert log_in(coach, cast.coach.email, PASSWORD).status_code == 303  # password only
    sent = coach.get("/coach", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/account/two-factor"
    htmx = coach.get("/coach", headers=HTMX)
    assert htmx.headers.get("HX-Redirect") == "/account/two-factor"
    page = coach.get("/account/two-factor")
    assert page.status_code == 200 and "verplicht" in page.text
    # Enrolling opens the app again.
    coach.post_form("/account/two-factor/setup")
    user = fresh(db).get(User, cast.coach.id)
    assert user is not None and user.totp_secret
    code = pyotp.TOTP(decrypt_secret(user.totp_secret) or "").now()
    assert coach.post_form("/account/two-factor/confirm", {"code": code}).status_code == 200
    assert coach.get("/coach").status_code == 200

    professional = make_client()
    log_in(professional, cast.professional.email, PASSWORD)
    assert professional.get("/relationships").status_code == 200


def test_an_admin_resets_someones_two_factor_login(
    make_client: type[Client], cast: Cast, db: Session
) -> None:
    enrol(db, cast.coach)
    coach = make_client().login_as(cast.coach)
    admin = make_client().login_as(cast.admin)
    assert "Tweestapsverificatie resetten" in admin.get(f"/admin/users/{cast.coach.id}").text
    response = admin.post_form(f"/admin/users/{cast.coach.id}/two-factor/reset")
    assert response.status_code == 303
    user = fresh(db).get(User, cast.coach.id)
    assert user is not None and not user.two_factor_enabled
    assert coach.get("/coach", follow_redirects=False).status_code == 303  # logged out
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "user.two_factor_reset")).one()
    assert event.subject_user_id == cast.coach.id
    again = admin.post_form(f"/admin/users/{cast.coach.id}/two-factor/reset")
    assert again.status_code == 422
    outsider = make_client().login_as(cast.outsider_admin)
    assert outsider.post_form(f"/admin/users/{cast.coach.id}/two-factor/reset").status_code == 404


def test_codes_from_the_previous_step_count_for_clock_drift(cast: Cast, db: Session) -> None:
    from app.auth import two_factor

    totp = enrol(db, cast.coach)
    user = db.get(User, cast.coach.id)
    assert user is not None
    db.refresh(user)
    earlier = totp.at(time.time() - 30)
    assert two_factor.check_code(db, user=user, code=earlier, address="x") == "authenticator"
    too_old = totp.at(time.time() - 120)
    try:
        two_factor.check_code(db, user=user, code=too_old, address="x")
    except two_factor.CodeRejected:
        pass
    else:  # pragma: no cover
        raise AssertionError("a code from two minutes ago was accepted")
