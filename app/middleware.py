"""ASGI middleware: the request's locale, security headers and cookie bookkeeping, and the
limit on requests in progress."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n
from app.config import get_settings
from app.mail import delivered_after_response
from app.templating import FLASH_COOKIE, decode_flashes, encode_flashes

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# Only the development API docs page loads its viewer from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)


def _cookie_header(name: str, value: str, *, max_age: int | None, http_only: bool = True) -> str:
    settings = get_settings()
    parts = [f"{name}={value}", "Path=/", "SameSite=Lax"]
    if http_only:
        parts.append("HttpOnly")
    if settings.secure_cookies:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def set_cookie_header(name: str, value: str, *, max_age: int | None = None) -> str:
    """A Set-Cookie value with the app's cookie policy (HttpOnly, SameSite=Lax, Secure)."""
    return _cookie_header(name, value, max_age=max_age)


def delete_cookie_header(name: str) -> str:
    """A Set-Cookie value that removes the cookie."""
    return _cookie_header(name, "", max_age=0)


def add_security_headers(out: MutableHeaders, path: str) -> None:
    """CSP, nosniff, referrer policy and no-store: on every response, error pages too."""
    settings = get_settings()
    is_docs = path in ("/docs", "/redoc") and settings.is_development
    out.setdefault("Content-Security-Policy", DOCS_CSP if is_docs else CSP)
    out.setdefault("X-Content-Type-Options", "nosniff")
    out.setdefault("Referrer-Policy", "same-origin")
    out.setdefault("X-Frame-Options", "DENY")
    out.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    out.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if settings.secure_cookies:
        out.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not path.startswith(("/static/", "/vendor/")):
        out["Cache-Control"] = "no-store"


class DyadeMiddleware:
    """Sets the locale before routing and adds headers and cookies to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["dev_mode"] = settings.is_development
        cookies = _request_cookies(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        locale = cookies.get(i18n.LOCALE_COOKIE)
        if locale not in i18n.LOCALES:
            locale = i18n.negotiate(headers.get("accept-language")) or settings.default_locale
        i18n.set_locale(locale)
        path: str = scope["path"]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                add_security_headers(out, path)
                _write_cookies(out, state, cookies)
            await send(message)

        async with delivered_after_response():
            await self.app(scope, receive, send_wrapper)


def _request_cookies(scope: Scope) -> dict[str, str]:
    for key, value in scope["headers"]:
        if key == b"cookie":
            # Starlette's parser keeps the good cookies when another one is malformed.
            return cookie_parser(value.decode("latin-1"))
    return {}


def _write_cookies(out: MutableHeaders, state: dict[str, Any], cookies: dict[str, str]) -> None:
    new_flashes: list[list[str]] = state.get("new_flashes") or []
    if new_flashes:
        unshown = [] if state.get("flashes_shown") else decode_flashes(cookies.get(FLASH_COOKIE))
        out.append(
            "Set-Cookie", set_cookie_header(FLASH_COOKIE, encode_flashes(unshown + new_flashes))
        )
    elif state.get("flashes_shown"):
        out.append("Set-Cookie", delete_cookie_header(FLASH_COOKIE))
    for header in state.get("set_cookies", []):
        out.append("Set-Cookie", header)


class ConcurrencyLimit:
    """At most `limit` requests of this process in progress at once; the others wait.

    Each request holds at most one pooled database connection from its login check to its
    commit, and crosses the thread pool more than once meanwhile. Without a limit, a burst
    of requests can take every connection while the threads sit with requests that wait for
    one: nothing moves until the pool's timeout, and then those requests fail. Waiting here,
    before a request has taken anything, costs nothing but time. Static files do not count.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        # Made in the event loop that first uses it: a semaphore belongs to one loop (and
        # tests start several, one after another).
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/static/", "/vendor/")):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self._semaphore is None or loop is not self._loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.limit), loop
        async with self._semaphore:
            await self.app(scope, receive, send)
