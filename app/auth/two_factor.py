"""Two-factor login with an authenticator app (TOTP, RFC 6238) and one-time recovery codes."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import pyotp
import segno
from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, col, select

from app.auth.service import LoginThrottled, end_all_sessions, throttle_wait
from app.config import get_settings
from app.errors import DomainError, InvalidInput
from app.i18n import gettext as _
from app.models import LoginFailure, Organisation, RecoveryCode, User, UserSession, utcnow
from app.security import (
    decrypt_secret,
    encrypt_secret,
    new_recovery_code,
    normalise_recovery_code,
    recovery_code_digest,
)

ISSUER = "Dyade"
RECOVERY_CODE_COUNT = 10
# Codes of the previous and next 30-second step count too: phone clocks drift.
CLOCK_DRIFT_STEPS = 1


class CodeRejected(DomainError):
    """A wrong, reused or unreadable code."""

    status_code = 400


class Method(StrEnum):
    authenticator = "authenticator"
    recovery_code = "recovery_code"


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows while the first code is not yet confirmed."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def grouped_secret(self) -> str:
        """The secret in groups of four, easier to type into an app by hand."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def qr_svg(text: str) -> str:
    """An inline SVG QR code (no script, no inline style: the CSP allows it)."""
    return str(segno.make(text, error="m").svg_inline(scale=5, svgclass="qr-code", border=4))


def begin_enrolment(session: Session, *, user: User) -> None:
    """Create a new secret for the user to scan; it works only once a code confirms it."""
    if user.two_factor_enabled:
        raise DomainError(_("Two-factor login is already on for your account."))
    user.totp_secret = encrypt_secret(pyotp.random_base32())
    user.totp_last_step = None
    session.add(user)


def pending_enrolment(user: User) -> Enrolment | None:
    """The unconfirmed secret with its QR code; None once enrolled (never shown again)."""
    if user.two_factor_enabled or not user.totp_secret:
        return None
    secret = decrypt_secret(user.totp_secret)
    if secret is None:
        return None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri, qr_svg=qr_svg(uri))


def _digits(code: str) -> str:
    return "".join(c for c in code if not c.isspace())


def _accept_totp(session: Session, user: User, code: str) -> bool:
    """True when the code is the app's current one and was not used before."""
    code = _digits(code)
    secret = decrypt_secret(user.totp_secret) if user.totp_secret else None
    if secret is None or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    current = totp.timecode(datetime.now(UTC))
    for step in range(current - CLOCK_DRIFT_STEPS, current + CLOCK_DRIFT_STEPS + 1):
        if not hmac.compare_digest(totp.generate_otp(step), code):
            continue
        # One conditional UPDATE: of two requests with the same code, only one succeeds.
        result = session.execute(
            update(User)
            .where(
                col(User.id) == user.id,
                or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return False
        user.totp_last_step = step
        return True
    return False


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    normal = normalise_recovery_code(code)
    if len(normal) != 12:
        return False
    result = session.execute(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user.id,
            col(RecoveryCode.code_hash) == recovery_code_digest(normal),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _throttle_keys(user: User, address: str) -> tuple[str, str]:
    # The same limits as the password, but a key of its own for the account: a right
    # password clears the password failures, and must not buy more guesses at the code.
    return f"code:{user.id}", f"address:{address}"


def check_code(
    session: Session, *, user: User, code: str, address: str, allow_recovery: bool = True
) -> Method:
    """Accept an authenticator code (or a recovery code), throttled like the password."""
    settings = get_settings()
    account_key, address_key = _throttle_keys(user, address)
    wait = max(
        throttle_wait(session, account_key, settings.login_max_failures_per_account),
        throttle_wait(session, address_key, settings.login_max_failures_per_address),
    )
    if wait:
        raise LoginThrottled(wait)
    method = None
    if _accept_totp(session, user, code):
        method = Method.authenticator
    elif allow_recovery and _use_recovery_code(session, user, code):
        method = Method.recovery_code
    if method is not None:
        session.execute(delete(LoginFailure).where(col(LoginFailure.key) == account_key))
        return method
    session.add(LoginFailure(key=account_key))
    session.add(LoginFailure(key=address_key))
    raise CodeRejected(
        _(
            "That code is not right, or it has been used already. Type the code your app "
            "shows now, or one of your recovery codes."
        )
        if allow_recovery
        else _(
            "That code is not right, or it has been used already. Type the code your app shows now."
        )
    )


def _new_recovery_codes(session: Session, *, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    now = utcnow()
    for code in codes:
        session.add(
            RecoveryCode(
                organisation_id=user.organisation_id,
                user_id=user.id,  # type: ignore[arg-type]
                code_hash=recovery_code_digest(code),
                created_at=now,
            )
        )
    return codes


def confirm_enrolment(
    session: Session, *, user: User, code: str, address: str, session_id: int
) -> list[str]:
    """Switch two-factor login on with the first code; return the recovery codes (once)."""
    if user.two_factor_enabled or not user.totp_secret:
        raise DomainError(_("Start the set-up again: there is no new code to confirm."))
    if not _digits(code):
        raise InvalidInput({"code": _("Type the six-digit code your app shows.")})
    try:
        check_code(session, user=user, code=code, address=address, allow_recovery=False)
    except CodeRejected as exc:
        raise InvalidInput({"code": exc.message}) from exc
    user.totp_confirmed_at = utcnow()
    session.add(user)
    codes = _new_recovery_codes(session, user=user)
    # This login has just shown a code; older logins elsewhere did not, so they end.
    session.execute(
        update(UserSession)
        .where(col(UserSession.id) == session_id)
        .values(two_factor_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    assert user.id is not None
    end_all_sessions(session, user_id=user.id, except_session_id=session_id)
    return codes


def new_recovery_codes(session: Session, *, user: User, code: str, address: str) -> list[str]:
    """Replace the recovery codes after an authenticator code; the old ones stop working."""
    if not user.two_factor_enabled:
        raise DomainError(_("Two-factor login is not on for your account."))
    try:
        check_code(session, user=user, code=code, address=address, allow_recovery=False)
    except CodeRejected as exc:
        raise InvalidInput({"regenerate_code": exc.message}) from exc
    return _new_recovery_codes(session, user=user)


def remaining_recovery_codes(session: Session, *, user: User) -> int:
    """How many recovery codes are still unused."""
    return session.exec(
        select(func.count(col(RecoveryCode.id))).where(
            RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None)
        )
    ).one()


def _switch_off(session: Session, user: User) -> None:
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    session.add(user)
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))


def disable(session: Session, *, user: User, code: str, address: str, required: bool) -> None:
    """Switch two-factor login off after a code; not when the organisation requires it."""
    if required:
        raise InvalidInput(
            {"disable_code": _("Your organisation requires two-factor login for your role.")}
        )
    if not user.two_factor_enabled:
        raise DomainError(_("Two-factor login is not on for your account."))
    try:
        check_code(session, user=user, code=code, address=address)
    except CodeRejected as exc:
        raise InvalidInput({"disable_code": exc.message}) from exc
    _switch_off(session, user)


def reset_for(session: Session, *, user: User) -> None:
    """Switch someone's two-factor login off (an admin, when the phone and codes are lost)."""
    _switch_off(session, user)
    assert user.id is not None
    end_all_sessions(session, user_id=user.id)


def set_required(session: Session, *, organisation: Organisation, required: bool) -> None:
    """Oblige (or stop obliging) admins, coaches and supervisors to use two-factor login."""
    organisation.two_factor_required = required
    session.add(organisation)
