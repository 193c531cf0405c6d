"""Jinja2 environment and the one render function every page goes through."""

from __future__ import annotations

import base64
import json
from collections.abc import MutableMapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import (
    DateTimePattern,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_eval_context,
    select_autoescape,
)
from jinja2.nodes import EvalContext
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app import i18n, layout
from app.htmx import is_htmx
from app.security import ANON_COOKIE, csrf_token_for, new_token, sign

TEMPLATE_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "dyade_flash"
MACRO_MODULES = {
    "forms": "macros/forms.html",
    "labels": "macros/labels.html",
    "instrument_macros": "macros/instrument.html",
}


# Babel parses the locale and the pattern on every call; on a page with a hundred dates
# and numbers that was a fifth of the render time, so the parsed forms are cached.
@lru_cache(maxsize=64)
def _babel_locale(code: str) -> Locale:
    return Locale.parse(code)


@lru_cache(maxsize=64)
def _date_pattern(kind: str, fmt: str, code: str) -> DateTimePattern:
    locale = _babel_locale(code)
    if fmt in ("short", "medium", "long", "full"):
        width: Any = fmt
        getter = {"date": get_date_format, "time": get_time_format}.get(kind)
        if getter is not None:
            return getter(width, locale=locale)
        date_part = get_date_format(width, locale=locale)
        time_part = get_time_format(width, locale=locale)
        combined = get_datetime_format(width, locale=locale)
        return parse_pattern(
            str(combined).replace("{1}", date_part.pattern).replace("{0}", time_part.pattern)
        )
    return parse_pattern(fmt)


def _format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    code = i18n.get_locale()
    return _date_pattern("datetime", fmt, code).apply(
        value.astimezone(i18n.local_zone()), _babel_locale(code)
    )


def _format_date(value: date | None, fmt: str = "long") -> str:
    if value is None:
        return ""
    code = i18n.get_locale()
    if type(value) is date:
        return _formatted_date(value, fmt, code)
    # A datetime (also a date): rarely the same twice, so not worth a cache entry.
    return _date_pattern("date", fmt, code).apply(value, _babel_locale(code))


# A date's text depends only on the date, the pattern and the locale, and a page shows
# the same few dozen dates again and again (a diary moment in the timeline, the list and
# the feedback form): formatting one with Babel cost about as much as the rest of its
# row. A process-wide cache of pure results, so nothing can go stale or leak.
@lru_cache(maxsize=4096)
def _formatted_date(value: date, fmt: str, code: str) -> str:
    return _date_pattern("date", fmt, code).apply(value, _babel_locale(code))


#: The `date` filter, for text put together in Python.
format_date = _format_date


def _format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    code = i18n.get_locale()
    return _date_pattern("time", "HH:mm", code).apply(
        value.astimezone(i18n.local_zone()), _babel_locale(code)
    )


_APPOINTMENT_PATTERNS = {"nl": "EEEE d MMMM y 'om' HH:mm", "en": "EEEE d MMMM y 'at' HH:mm"}


def _format_appointment(value: datetime | None) -> str:
    """A planned moment as people say it: "dinsdag 12 januari 2027 om 14:30" (local time)."""
    if value is None:
        return ""
    return _format_datetime(value, _APPOINTMENT_PATTERNS.get(i18n.get_locale(), "full"))


def _format_number(value: float | None, digits: int = 1, sign: bool = False) -> str:
    """A number with the locale's decimal mark ("3,5" in Dutch); "–" for no value."""
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    if text.startswith("-"):
        text = "\u2212" + text[1:]
    return text.replace(".", ",") if i18n.get_locale() == "nl" else text


format_number = _format_number


_STATIC_MESSAGES: dict[tuple[str, str, bool], str] = {}


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, message: str, **variables: Any) -> str:
    """`_()` in templates: Jinja's newstyle gettext, with messages without values cached.

    A page calls it dozens of times, and Jinja's version wraps and %-formats the
    translation on every call (a sixth of a page's render time). It takes the evaluation
    context (for autoescape), not the template context: inside a block that sets a
    variable, Jinja makes a copy of the whole template context for every call of a
    function that takes the latter.
    """
    autoescape = bool(eval_ctx.autoescape)
    if variables:
        text = i18n.gettext(message)
        return (Markup(text) if autoescape else text) % variables  # noqa: S704 - as Jinja does # nosec B704
    key = (i18n.get_locale(), message, autoescape)
    found = _STATIC_MESSAGES.get(key)
    if found is None:
        text = i18n.gettext(message)
        # Like Jinja: always a format string, so "%%" means "%" with or without values.
        found = (Markup(text) if autoescape else text) % {}  # noqa: S704 - our catalogue # nosec B704
        if len(_STATIC_MESSAGES) < 10_000:
            _STATIC_MESSAGES[key] = found
    return found


class _Environment(Environment):
    """Jinja's environment, with each template's globals a plain dict.

    Jinja layers them over the environment's globals as a ChainMap, and every `{% import %}`
    compares the importer's global names with the imported template's: through a ChainMap
    that cost some hundred function calls an import, three imports a page. The
    environment's globals are complete before the first template loads (below), so a
    copy misses nothing, and like the ChainMap it keeps templates from changing them.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def _make_environment() -> Environment:
    env = _Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.globals.update(
        main_menu=layout.main_menu,
        header_tools=layout.header_tools,
        autosave_messages=layout.autosave_messages,
        locale_names=i18n.LOCALE_NAMES,
        get_locale=i18n.get_locale,
        _=_template_gettext,
    )
    env.filters["datetime"] = _format_datetime
    env.filters["date"] = _format_date
    env.filters["number"] = _format_number
    env.filters["time"] = _format_time
    env.filters["appointment"] = _format_appointment
    return env


environment = _make_environment()


def flash(request: Request, message: str, level: str = "success") -> None:
    """Show a message on the next page (kept in a signed cookie until then)."""
    pending: list[list[str]] = request.scope.setdefault("state", {}).setdefault("new_flashes", [])
    pending.append([level, message])


def encode_flashes(flashes: list[list[str]]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(flashes).encode()).decode()
    return f"{payload}.{sign(payload)}"


def decode_flashes(cookie: str | None) -> list[list[str]]:
    if not cookie or "." not in cookie:
        return []
    payload, signature = cookie.rsplit(".", 1)
    if sign(payload) != signature:
        return []
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return []
    return [list(map(str, item))[:2] for item in data if isinstance(item, list)][:10]


def take_flashes(request: Request) -> list[list[str]]:
    """Messages waiting for this page; they are removed once shown."""
    waiting = decode_flashes(request.cookies.get(FLASH_COOKIE))
    if waiting:
        request.state.flashes_shown = True
    waiting.extend(request.scope.setdefault("state", {}).pop("new_flashes", []))
    return waiting


def _unread_messages(db: Any, actor: Any) -> int:
    """How many in-app messages wait for the logged-in person (for the page header)."""
    # Only within the request's own open transaction: an error page is drawn after the
    # request's session was rolled back and closed, and must not open a new one.
    if db is None or actor is None or not db.in_transaction():
        return 0
    from app.notify import unread_count, unread_may_have_changed

    # Counted with the login check, unless this request has read or sent messages since.
    if actor.unread_notifications is not None and not unread_may_have_changed(db):
        return int(actor.unread_notifications)
    return unread_count(db, user_id=actor.id)


def _visitor_csrf_token(request: Request) -> str:
    """A working CSRF token for pages rendered before the login check ran.

    An unknown address or a wrong method is answered by routing, before any dependency,
    so its error page would carry an empty token and its language switch would fail. The
    visitor's anonymous token works there whether or not someone is logged in.
    """
    from app.middleware import set_cookie_header  # the middleware imports this module

    state = request.scope.setdefault("state", {})
    anon = request.cookies.get(ANON_COOKIE) or state.get("anon_token")
    if not anon or len(anon) > 100:
        anon = new_token()
        state.setdefault("set_cookies", []).append(set_cookie_header(ANON_COOKIE, anon))
    state["anon_token"] = anon
    state["csrf_token"] = csrf_token_for("a:" + anon)
    return str(state["csrf_token"])


def render(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page, or only one named block of it for an htmx request."""
    state = request.state
    actor = getattr(state, "actor", None)
    values: dict[str, Any] = {
        "request": request,
        "actor": actor,
        "unread_messages": lambda: _unread_messages(getattr(state, "db", None), actor),
        "csrf_token": getattr(state, "csrf_token", "") or _visitor_csrf_token(request),
        "locale": i18n.get_locale(),
        "is_htmx": is_htmx(request),
        "flashes": [],
        "dev_mode": getattr(state, "dev_mode", False),
    }
    values.update(context or {})
    template = environment.get_template(template_name)
    if block and is_htmx(request):
        # A block rendered alone skips the page's top-level imports; give it the macros.
        for name, path in MACRO_MODULES.items():
            values.setdefault(name, environment.get_template(path).module)
        ctx = template.new_context(values)
        html = "".join(template.blocks[block](ctx))
    else:
        values["flashes"] = take_flashes(request)
        html = template.render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response
