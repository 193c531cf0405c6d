"""Password rules after NIST SP 800-63B: length, a list of common passwords, no own name."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from app.i18n import gettext as _

MIN_LENGTH = 8
# Long passphrases are welcome; the cap only keeps hashing cheap to refuse abuse.
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).parent / "common_passwords.txt"


@lru_cache
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords that are too common to allow."""
    if not COMMON_PASSWORDS_FILE.exists():
        return frozenset()
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why this password is not allowed, in the user's language; None when it is fine."""
    length = len(unicodedata.normalize("NFKC", password))
    if length < MIN_LENGTH:
        return _("Choose a password of at least %(min)s characters.", min=MIN_LENGTH)
    if length > MAX_LENGTH:
        return _("Choose a password of at most %(max)s characters.", max=MAX_LENGTH)
    folded = _normalise(password)
    if folded in common_passwords() or folded.strip("0123456789!.") in common_passwords():
        return _(
            "This password is on a list of commonly used passwords. "
            "Choose something less predictable, for example a few unrelated words."
        )
    own = [_normalise(email)]
    local_part = _normalise(email.split("@")[0]) if email else ""
    if len(local_part) >= 4:
        own.append(local_part)
    own += [part for part in _normalise(name).split() if len(part) >= 4]
    if any(item and item in folded for item in own):
        return _("Don't use your own name or email address in your password.")
    if len(set(folded)) < 3:
        return _("This password is too easy to guess. Use more different characters.")
    return None
