"""create_app(): middleware, routers, static files and error handlers — nothing else."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.admin.audit_routes import router as audit_router
from app.admin.routes import router as admin_router
from app.auth.routes import router as auth_router
from app.auth.two_factor_routes import TWO_FACTOR_PAGE
from app.auth.two_factor_routes import router as two_factor_router
from app.coaching.report_routes import router as report_router
from app.coaching.routes import router as coaching_router
from app.config import describe_problems, get_settings
from app.dashboards.routes import router as dashboards_router
from app.deps import authenticate
from app.errors import CsrfFailed, DomainError, LoginRequired, TwoFactorEnrolmentRequired
from app.home.routes import router as home_router
from app.htmx import is_htmx, redirect
from app.i18n import gettext as _
from app.instruments.loader import load_builtin
from app.middleware import ConcurrencyLimit, DyadeMiddleware, add_security_headers
from app.privacy.routes import router as privacy_router
from app.programmes.loader import load_builtin_programmes
from app.questionnaires.routes import router as questionnaires_router
from app.reflection.diary_routes import router as diary_router
from app.reflection.routes import router as reflection_router
from app.reflection.routes import wizard_router
from app.reminders.routes import router as reminders_router
from app.reminders.scheduler import start_in_process_scheduler
from app.templating import flash, render

log = logging.getLogger("app")
STATIC_DIR = Path(__file__).parent / "static"


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Fail at start-up, not on the first request, on bad configuration or a broken
    # built-in instrument definition.
    get_settings()
    load_builtin()
    load_builtin_programmes()
    _freeze_start_up_objects()
    scheduler = start_in_process_scheduler()
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()


@functools.cache  # once per process: the tests start the app many times
def _freeze_start_up_objects() -> None:
    """Leave the objects made at start-up out of every later garbage collection.

    Modules, classes, definitions and caches live as long as the process, but each full
    collection walked all of them again: about 230,000 objects, some 170 ms on the
    benchmark machine, every 150 or so coach trajectory pages (1.1 ms a page on average,
    and a pause for whoever asked at that moment). Python's gc.freeze() is made for this.
    """
    gc.collect()
    gc.freeze()


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    headers = {}
    if is_htmx(request):
        # htmx fragments for errors go to the page's message area, not into the target.
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
    context = {"status": status, "title": title, "message": message}
    return render(
        request, "errors/error.html", context, status_code=status, block="fragment", headers=headers
    )


async def _login_required(request: Request, _exc: Exception) -> Response:
    if is_htmx(request):
        headers = {"HX-Retarget": "#session-dialog", "HX-Reswap": "innerHTML"}
        context = {"next": "/", "form": {}, "errors": {}, "relogin": True}
        return render(
            request, "auth/login.html", context, status_code=401, block="relogin", headers=headers
        )
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    next_param = quote(target if request.method == "GET" else "/", safe="/")
    return RedirectResponse(f"/login?next={next_param}", status_code=303)


async def _enrolment_required(request: Request, _exc: Exception) -> Response:
    flash(
        request,
        _("Your organisation asks you to set up two-factor login before you carry on."),
    )
    return redirect(request, TWO_FACTOR_PAGE)


async def _csrf_failed(request: Request, _exc: Exception) -> Response:
    return _error_page(
        request,
        403,
        _("This form has expired"),
        _("For your safety we did not save this. Go back, reload the page and try again."),
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return _status_page(request, exc.status_code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _status_page(request, exc.status_code, "")


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # A malformed id in the path means there is no such object.
    if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
        return _status_page(request, 404, "")
    return _status_page(
        request, 400, _("Some of the values sent were not valid. Check them and try again.")
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    response = _status_page(request, 500, "")
    # This handler runs outside DyadeMiddleware (Starlette's outermost error handler).
    add_security_headers(response.headers, request.url.path)
    return response


def _status_page(request: Request, status: int, message: str) -> Response:
    titles = {
        400: _("Something is wrong with this request"),
        403: _("No access"),
        404: _("Page not found"),
        405: _("This action is not possible here"),
        422: _("Please check your input"),
        429: _("Too many attempts"),
        500: _("Something went wrong on our side"),
    }
    messages = {
        403: _("Your account does not have access to this page."),
        404: _("This page does not exist, or you do not have access to it."),
        500: _(
            "We have been notified. Please try again in a moment; what you saved earlier is safe."
        ),
    }
    title = titles.get(status, _("Something is wrong with this request"))
    return _error_page(request, status, title, message or messages.get(status, ""))


def create_app() -> FastAPI:
    """Build the Dyade application (refusing to, with the reasons, on bad configuration)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        reasons = "\n".join(f"  - {line}" for line in describe_problems(exc))
        raise SystemExit(
            f"Dyade cannot start; the configuration has problems:\n{reasons}"
        ) from None
    docs = settings.is_development
    app = FastAPI(
        title="Dyade",
        lifespan=lifespan,
        # Every route: the login check and, for a state change, the CSRF check.
        dependencies=[Depends(authenticate)],
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(DyadeMiddleware)
    # Outermost, so that a waiting request has not yet taken anything.
    app.add_middleware(ConcurrencyLimit, limit=settings.max_concurrent_requests)
    app.mount("/vendor", StaticFiles(packages=[("js_lib_htmx", "static")]), name="vendor")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Routing tries the routers in this order, one route at a time: the busiest pages
    # (the wizard's steps and autosaves, the diary, the coach's pages) first. No route of one
    # router matches a path of another (tests/test_routing.py), so the order changes
    # nothing else.
    app.include_router(wizard_router)
    app.include_router(reflection_router)
    app.include_router(diary_router)
    app.include_router(coaching_router)
    app.include_router(home_router)
    app.include_router(dashboards_router)
    app.include_router(report_router)
    app.include_router(questionnaires_router)
    app.include_router(auth_router)
    app.include_router(two_factor_router)
    app.include_router(admin_router)
    app.include_router(audit_router)
    app.include_router(privacy_router)
    app.include_router(reminders_router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(TwoFactorEnrolmentRequired, _enrolment_required)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    return app


app = create_app()
