"""Dutch and English messages from Babel catalogues; the request's locale in a context var."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po
from markupsafe import Markup

Locale = Literal["nl", "en"]
LOCALES: tuple[Locale, ...] = ("nl", "en")
LOCALE_NAMES = {"nl": "Nederlands", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"
LOCALE_COOKIE = "dyade_locale"

_current_locale: ContextVar[str] = ContextVar("locale", default="nl")


@lru_cache
def catalogue(locale: str) -> dict[str | tuple[str, str], list[str]]:
    """msgid (or singular/plural pair) → translated forms, read from the .po file."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=locale)
    table: dict[str | tuple[str, str], list[str]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            forms = [str(s) for s in message.string] if message.string else []
            if all(forms):
                table[(str(message.id[0]), str(message.id[1]))] = forms
        elif message.string:
            table[str(message.id)] = [str(message.string)]
    return table


def set_locale(locale: str) -> None:
    """Use this locale for the rest of the current request or task."""
    _current_locale.set(locale if locale in LOCALES else "nl")


def get_locale() -> Locale:
    """The locale of the current request or task."""
    return cast(Locale, _current_locale.get())


def gettext(message: str, **variables: object) -> str:
    """Translate a message and fill in %(name)s placeholders."""
    forms = catalogue(get_locale()).get(message)
    text = forms[0] if forms else message
    return text % variables if variables else text


def markup(message: str, **variables: object) -> Markup:
    """A message as `_()` gives it in a template: the translation is markup (our own
    catalogue, trusted), the values are escaped, and it is always a format string ("%%" is
    "%"). For HTML put together in Python; mark the message with N_ so it is extracted."""
    return Markup(gettext(message)) % variables  # noqa: S704 - our own catalogue # nosec B704


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """Translate a message with a count; `num` is available as a placeholder."""
    forms = catalogue(get_locale()).get((singular, plural))
    text = (forms[0] if n == 1 else forms[-1]) if forms else (singular if n == 1 else plural)
    return text % {"num": n, **variables}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message


_ = gettext


@lru_cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_zone() -> ZoneInfo:
    """The time zone in which times are shown (stored times are UTC)."""
    from app.config import get_settings

    return _zone(get_settings().timezone)


def negotiate(accept_language: str | None) -> str | None:
    """The first supported locale in an Accept-Language header, if any."""
    if not accept_language:
        return None
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LOCALES:
            return tag[:2]
    return None


class using_locale:
    """Temporarily switch locale, e.g. to write an email in the recipient's language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._token: object = None

    def __enter__(self) -> None:
        self._token = _current_locale.set(self.locale if self.locale in LOCALES else "nl")

    def __exit__(self, *exc: object) -> None:
        _current_locale.reset(self._token)  # type: ignore[arg-type]
