"""Typed errors raised by services and dependencies, and their pages."""

from __future__ import annotations


class DomainError(Exception):
    """A request that cannot be done, with a message for the user (already translated)."""

    status_code = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist or belongs to someone the actor may not see."""

    status_code = 404


class Forbidden(DomainError):
    """The actor is known but their roles do not allow this."""

    status_code = 403


class LoginRequired(Exception):
    """No valid login session; the page asks the person to log in (again)."""


class TwoFactorEnrolmentRequired(Exception):
    """The organisation requires two-factor login and this person has not set it up yet."""


class CsrfFailed(Exception):
    """A state-changing request without a valid CSRF token or from another site."""


class InvalidInput(DomainError):
    """Form input that breaks a rule; `errors` maps field names to messages."""

    status_code = 422

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
