"""The one place that hashes passwords, makes tokens and checks CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from passlib.context import CryptContext

from app.config import get_settings

SESSION_COOKIE = "dyade_session"
ANON_COOKIE = "dyade_anon"
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
