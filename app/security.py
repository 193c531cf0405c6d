"""The one place that hashes passwords, codes and audit rows, makes tokens, checks CSRF."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from passlib.context import CryptContext

from app.config import get_settings

SESSION_COOKIE = "dyade_session"
ANON_COOKIE = "dyade_anon"
SECOND_STEP_COOKIE = "dyade_login_step"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@lru_cache
def _password_context() -> CryptContext:
    settings = get_settings()
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=settings.argon2_memory_kib,
        argon2__time_cost=settings.argon2_time_cost,
        argon2__parallelism=1,
    )


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _password_context().hash(password)


@lru_cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; without a stored hash, spend the same time and say no."""
    if not password_hash:
        # Unknown or not-yet-activated accounts must take as long as a wrong password,
        # so response time does not reveal which email addresses have an account.
        _password_context().verify(password, _dummy_hash())
        return False
    try:
        return bool(_password_context().verify(password, password_hash))
    except (ValueError, TypeError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash was made with older parameters."""
    return bool(_password_context().needs_update(password_hash))


def new_token() -> str:
    """A random URL-safe token of 256 bits."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The stored form of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(binding: str) -> str:
    """The CSRF token for a session (or anonymous visitor) identified by `binding`."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()


def csrf_matches(binding: str, presented: str | None) -> bool:
    """Constant-time comparison of a presented CSRF token."""
    if not presented:
        return False
    # As bytes: compare_digest raises TypeError on text with non-ASCII characters.
    given = presented.encode("utf-8", "replace")
    return hmac.compare_digest(csrf_token_for(binding).encode(), given)


def sign(value: str) -> str:
    """An HMAC of a value, for links that must work without logging in."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"sign:" + value.encode(), hashlib.sha256).hexdigest()


def audit_digest(fields: Mapping[str, Any]) -> str:
    """The hash of one audit row: SHA-256 over its canonical JSON, which holds prev_hash."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@lru_cache
def _secret_box(secret_key: str) -> Fernet:
    # A key of its own, derived from the secret key, so no other use of it can decrypt.
    derived = hmac.new(secret_key.encode(), b"totp-secret-encryption", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret: str) -> str:
    """Encrypt a TOTP secret for storage (Fernet: AES-128-CBC with an HMAC)."""
    return _secret_box(get_settings().secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(stored: str) -> str | None:
    """The TOTP secret, or None when it cannot be decrypted (e.g. the secret key changed)."""
    try:
        return _secret_box(get_settings().secret_key).decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        return None


RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def new_recovery_code() -> str:
    """A one-time recovery code such as `k7m2-9xqa-h3td` (about 59 random bits)."""
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def normalise_recovery_code(code: str) -> str:
    """What the person typed, without spaces, dashes or capitals."""
    return "".join(c for c in code.lower() if c.isalnum())


def recovery_code_digest(code: str) -> str:
    """The stored form of a recovery code: an HMAC keyed with the secret key."""
    key = get_settings().secret_key.encode()
    normal = normalise_recovery_code(code)
    return hmac.new(key, b"recovery:" + normal.encode(), hashlib.sha256).hexdigest()
