"""Logging in and out, login sessions, throttling, invitations and password resets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from app import ratelimit
from app.auth.passwords import password_problem
from app.config import get_settings
from app.errors import DomainError, InvalidInput
from app.i18n import gettext as _
from app.i18n import ngettext
from app.mail import render_email, send_mail
from app.models import AccountToken, LoginFailure, TokenPurpose, User, UserSession, utcnow
from app.security import hash_password, needs_rehash, new_token, token_digest, verify_password

MAX_EMAIL_LENGTH = 254
# How long the second login step (the code) waits after a right password.
SECOND_STEP_MINUTES = 5


class InvalidCredentials(DomainError):
    """Wrong email or password (we never say which)."""

    status_code = 400


class LoginThrottled(DomainError):
    """Too many recent failures for this account or address."""

    status_code = 429

    def __init__(self, minutes: int) -> None:
        super().__init__(
            ngettext(
                "Too many failed attempts. Wait %(num)s minute and try again, "
                "or reset your password.",
                "Too many failed attempts. Wait %(num)s minutes and try again, "
                "or reset your password.",
                minutes,
            )
        )
        self.minutes = minutes


class InvalidToken(DomainError):
    """A link that is unknown, used or expired."""

    status_code = 400


def normalise_email(email: str) -> str:
    """Email addresses are compared without surrounding space and case."""
    return email.strip().lower()


def throttle_wait(session: Session, key: str, limit: int) -> int:
    """Minutes to wait before this key may try again; 0 when it may try now."""
    window = timedelta(minutes=get_settings().login_window_minutes)
    since = utcnow() - window
    count, oldest = session.exec(
        select(func.count(LoginFailure.id), func.min(LoginFailure.created_at)).where(  # type: ignore[arg-type]
            LoginFailure.key == key, LoginFailure.created_at > since
        )
    ).one()
    if count < limit or oldest is None:
        return 0
    remaining = (oldest + window - utcnow()).total_seconds()
    return max(1, math.ceil(remaining / 60))


def authenticate_user(session: Session, *, email: str, password: str, address: str) -> User:
    """The active user with this email and password, or an error (throttled or invalid)."""
    settings = get_settings()
    email = normalise_email(email)[:MAX_EMAIL_LENGTH]
    account_key, address_key = f"account:{email}", f"address:{address}"
    wait = max(
        throttle_wait(session, account_key, settings.login_max_failures_per_account),
        throttle_wait(session, address_key, settings.login_max_failures_per_address),
    )
    if wait:
        raise LoginThrottled(wait)
    user = session.exec(select(User).where(User.email == email)).first()
    valid = verify_password(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        session.add(LoginFailure(key=account_key))
        session.add(LoginFailure(key=address_key))
        raise InvalidCredentials(_("That email address and password do not match."))
    session.execute(delete(LoginFailure).where(col(LoginFailure.key) == account_key))
    assert user.password_hash is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    return user


def start_session(
    session: Session, *, user: User, address: str, user_agent: str, two_factor: bool = False
) -> str:
    """Create a login session and return the token for the cookie (a new one every login).

    `two_factor` says the login passed the second step (an authenticator or recovery code).
    """
    token = new_token()
    now = utcnow()
    session.add(
        UserSession(
            organisation_id=user.organisation_id,
            user_id=user.id,  # type: ignore[arg-type]
            token_hash=token_digest(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=get_settings().session_absolute_hours),
            ip_address=address[:64],
            user_agent=user_agent[:300],
            two_factor_at=now if two_factor else None,
        )
    )
    return token


def end_session(session: Session, *, token_hash: str) -> None:
    """Revoke one login session on the server."""
    session.execute(
        update(UserSession)
        .where(col(UserSession.token_hash) == token_hash, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


def end_all_sessions(
    session: Session, *, user_id: int, except_session_id: int | None = None
) -> int:
    """Revoke every open login session of a user (but optionally the current one)."""
    statement = (
        update(UserSession)
        .where(col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    if except_session_id is not None:
        statement = statement.where(col(UserSession.id) != except_session_id)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(session: Session, *, user_id: int) -> list[UserSession]:
    """The user's login sessions that still work, newest first."""
    now = utcnow()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    return list(
        session.exec(
            select(UserSession)
            .where(
                col(UserSession.user_id) == user_id,
                col(UserSession.revoked_at).is_(None),
                UserSession.expires_at > now,
                UserSession.last_seen_at > now - idle,
            )
            .order_by(UserSession.last_seen_at.desc())  # type: ignore[attr-defined]
        ).all()
    )


def issue_token(session: Session, *, user: User, purpose: TokenPurpose) -> str:
    """A new single-use link token; earlier unused ones of the same purpose stop working."""
    settings = get_settings()
    lifetimes = {
        TokenPurpose.invitation: timedelta(hours=settings.invitation_valid_hours),
        TokenPurpose.password_reset: timedelta(minutes=settings.reset_valid_minutes),
        TokenPurpose.second_factor: timedelta(minutes=SECOND_STEP_MINUTES),
    }
    lifetime = lifetimes[purpose]
    now = utcnow()
    session.execute(
        update(AccountToken)
        .where(
            col(AccountToken.user_id) == user.id,
            col(AccountToken.purpose) == purpose.value,
            col(AccountToken.used_at).is_(None),
        )
        .values(used_at=now)
    )
    token = new_token()
    session.add(
        AccountToken(
            organisation_id=user.organisation_id,
            user_id=user.id,  # type: ignore[arg-type]
            purpose=purpose.value,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


@dataclass(frozen=True)
class TokenCheck:
    token: AccountToken
    user: User


def check_token(session: Session, *, token: str, purpose: TokenPurpose) -> TokenCheck:
    """The token's row and user, or InvalidToken when it is unknown, used or expired."""
    invalid = InvalidToken(
        _("This link is no longer valid. It may have been used already or have expired.")
    )
    if not token or len(token) > 100:
        raise invalid
    row = session.exec(
        select(AccountToken, User)
        .join(User, User.id == AccountToken.user_id)  # type: ignore[arg-type]
        .where(
            AccountToken.token_hash == token_digest(token),
            col(AccountToken.purpose) == purpose.value,
        )
    ).first()
    if row is None:
        raise invalid
    account_token, user = row
    if account_token.used_at is not None or account_token.expires_at <= utcnow():
        raise invalid
    if not user.is_active:
        raise invalid
    return TokenCheck(token=account_token, user=user)


def set_new_password(
    session: Session,
    *,
    user: User,
    password: str,
    confirmation: str,
    keep_session_id: int | None = None,
) -> None:
    """Check the password rules and store the new hash; every other login session ends."""
    field = "password"
    problem = password_problem(password, email=user.email, name=user.display_name)
    if problem is None and password != confirmation:
        problem = _("The two passwords are not the same.")
        field = "password_confirmation"
    if problem:
        raise InvalidInput({field: problem})
    user.password_hash = hash_password(password)
    session.add(user)
    assert user.id is not None
    end_all_sessions(session, user_id=user.id, except_session_id=keep_session_id)


def redeem_token(
    session: Session, *, token: str, purpose: TokenPurpose, password: str, confirmation: str
) -> User:
    """Set the password through an invitation or reset link, which is then used up."""
    check = check_token(session, token=token, purpose=purpose)
    set_new_password(session, user=check.user, password=password, confirmation=confirmation)
    check.token.used_at = utcnow()
    session.add(check.token)
    # The throttle message offers a reset as the way out: whoever holds the emailed link
    # is the owner, so the account's failed attempts no longer count.
    session.execute(
        delete(LoginFailure).where(col(LoginFailure.key) == f"account:{check.user.email}")
    )
    return check.user


def send_invitation(
    session: Session, *, user: User, inviter_name: str, organisation_name: str
) -> None:
    """Email a new invitation link to the user."""
    token = issue_token(session, user=user, purpose=TokenPurpose.invitation)
    link = f"{get_settings().base_url}/invitation/{token}"
    subject, text, html = render_email(
        "invitation",
        user.locale,
        name=user.display_name,
        inviter=inviter_name,
        organisation=organisation_name,
        link=link,
        hours=get_settings().invitation_valid_hours,
    )
    send_mail(
        session,
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        organisation_id=user.organisation_id,
    )


def check_reset_rate(session: Session, *, email: str, address: str) -> None:
    """Count a reset request; RateLimited when this address or email asked too often."""
    settings = get_settings()
    window = timedelta(minutes=settings.reset_window_minutes)
    # The same limit for every email typed, known or not, so it reveals no accounts.
    for key, count in (
        (f"reset:address:{address}", settings.reset_max_per_address),
        (f"reset:email:{normalise_email(email)[:MAX_EMAIL_LENGTH]}", settings.reset_max_per_email),
    ):
        wait = ratelimit.hit(session, key=key, limit=ratelimit.Limit(count, window))
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            raise ratelimit.RateLimited(
                _(
                    "Too many requests for a new password. Wait %(minutes)s minutes and "
                    "try again. A link sent earlier still works.",
                    minutes=minutes,
                ),
                retry_after=wait,
            )


def request_password_reset(session: Session, *, email: str, address: str) -> None:
    """Email a reset link when an active account has this address; silent otherwise."""
    check_reset_rate(session, email=email, address=address)
    email = normalise_email(email)[:MAX_EMAIL_LENGTH]
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not user.is_active or user.password_hash is None:
        return
    token = issue_token(session, user=user, purpose=TokenPurpose.password_reset)
    link = f"{get_settings().base_url}/password/reset/{token}"
    subject, text, html = render_email(
        "password_reset",
        user.locale,
        name=user.display_name,
        link=link,
        minutes=get_settings().reset_valid_minutes,
    )
    send_mail(
        session,
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        organisation_id=user.organisation_id,
    )


def change_password(
    session: Session,
    *,
    user: User,
    current: str,
    password: str,
    confirmation: str,
    keep_session_id: int,
) -> None:
    """Change a password after checking the current one; other login sessions end."""
    if not verify_password(current, user.password_hash):
        raise InvalidInput({"current_password": _("Your current password is not correct.")})
    set_new_password(
        session,
        user=user,
        password=password,
        confirmation=confirmation,
        keep_session_id=keep_session_id,
    )
