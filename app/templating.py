"""Jinja2 environment and the one render function every page goes through."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app import i18n
from app.htmx import is_htmx
from app.security import sign

TEMPLATE_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "dyade_flash"
MACRO_MODULES = {
    "forms": "macros/forms.html",
    "labels": "macros/labels.html",
    "instrument_macros": "macros/instrument.html",
}


def _format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    from babel.dates import format_datetime

    return format_datetime(value, format=fmt, locale=i18n.get_locale(), tzinfo=i18n.local_zone())


def _format_date(value: date | None, fmt: str = "long") -> str:
    if value is None:
        return ""
    from babel.dates import format_date

    return format_date(value, format=fmt, locale=i18n.get_locale())


def _format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    from babel.dates import format_time

    return format_time(value, format="HH:mm", tzinfo=i18n.local_zone(), locale=i18n.get_locale())


def _format_number(value: float | None, digits: int = 1, sign: bool = False) -> str:
    """A number with the locale's decimal mark ("3,5" in Dutch); "–" for no value."""
    if value is None:
        return "–"
    from babel.numbers import format_decimal

    pattern = ("+" if sign else "") + "0." + "0" * digits if digits else "0"
    if sign:
        pattern += ";-" + pattern[1:]
    return format_decimal(value, format=pattern, locale=i18n.get_locale())


def _make_environment() -> Environment:
    env = Environment(
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
        locale_names=i18n.LOCALE_NAMES,
        get_locale=i18n.get_locale,
    )
    env.filters["datetime"] = _format_datetime
    env.filters["date"] = _format_date
    env.filters["number"] = _format_number
    env.filters["time"] = _format_time
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
    values: dict[str, Any] = {
        "request": request,
        "actor": getattr(state, "actor", None),
        "csrf_token": getattr(state, "csrf_token", ""),
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
            values.setdefault(name, environment.get_template(path).make_module(values))
        ctx = template.new_context(values)
        html = "".join(template.blocks[block](ctx))
    else:
        values["flashes"] = take_flashes(request)
        html = template.render(values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response
