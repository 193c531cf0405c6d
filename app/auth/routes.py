"""Login, logout, password reset, invitations, language and the own account page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import i18n
from app.auth import service
from app.db import CommitInThreadRoute, SessionDep
from app.deps import CurrentActor, Id, OptionalActor, client_address, no_csrf_when_anonymous, public
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import FormDep
from app.htmx import is_htmx, redirect
from app.i18n import gettext as _
from app.middleware import delete_cookie_header, set_cookie_header
from app.models import TokenPurpose, User, UserSession
from app.ratelimit import RateLimited
from app.reminders.routes import reminder_context
from app.security import SECOND_STEP_COOKIE, SESSION_COOKIE, csrf_token_for, token_digest
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)


def safe_next(target: str | None) -> str:
    """Only local paths are followed after login, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target[:500]
    return "/"


def _set_cookie(request: Request, header: str) -> None:
    request.scope.setdefault("state", {}).setdefault("set_cookies", []).append(header)


@router.get("/", name="home_redirect")
@public
def root(actor: OptionalActor) -> Response:
    from fastapi.responses import RedirectResponse

    return RedirectResponse("/home" if actor else "/login", status_code=303)


@router.get("/login", name="login")
@public
def login_page(request: Request, actor: OptionalActor, next: str = "/") -> Response:
    if actor is not None and not is_htmx(request):
        return redirect(request, safe_next(next))
    return render(request, "auth/login.html", {"next": safe_next(next), "form": {}, "errors": {}})


@router.post("/login")
@public
def login(request: Request, session: SessionDep, form: FormDep) -> Response:
    email = form.get("email")
    next_url = safe_next(form.get("next"))
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = _("Fill in your email address.")
    if not form.get("password"):
        errors["password"] = _("Fill in your password.")
    form.check_length("email", service.MAX_EMAIL_LENGTH)
    errors.update(form.errors)
    status = 422
    if not errors:
        try:
            user = service.authenticate_user(
                session,
                email=email,
                password=form.get("password")[:1024],
                address=client_address(request),
            )
        except DomainError as exc:
            errors["form"] = exc.message
            status = exc.status_code
        else:
            chosen = request.cookies.get(i18n.LOCALE_COOKIE)
            if chosen in i18n.LOCALES and chosen != user.locale:
                # A language picked on the login page is an explicit choice; keep it.
                user.locale = chosen
                session.add(user)
            if user.two_factor_enabled:
                return second_step(request, session, user, next_url)
            return finish_login(request, session, user, next_url, two_factor=False)
    context = {"next": next_url, "form": {"email": email}, "errors": errors}
    block = "relogin" if form.get("relogin") else "login_form"
    return render(request, "auth/login.html", context, status_code=status, block=block)


def finish_login(
    request: Request, session: SessionDep, user: User, next_url: str, *, two_factor: bool
) -> Response:
    """Start the login session, set its cookie and go on (or close the re-login dialog)."""
    token = service.start_session(
        session,
        user=user,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        two_factor=two_factor,
    )
    _set_cookie(request, set_cookie_header(SESSION_COOKIE, token))
    _set_cookie(request, set_cookie_header(i18n.LOCALE_COOKIE, user.locale, max_age=31536000))
    if is_htmx(request):
        # The "log in again" dialog: the page stays, only its CSRF token changes.
        i18n.set_locale(user.locale)
        return render(
            request,
            "auth/login.html",
            {"csrf_token_new": csrf_token_for("s:" + token_digest(token))},
            block="relogin_done",
        )
    return redirect(request, next_url)


def second_step(request: Request, session: SessionDep, user: User, next_url: str) -> Response:
    """The password was right; the login waits for a code (a cookie holds the pending step)."""
    step = service.issue_token(session, user=user, purpose=TokenPurpose.second_factor)
    # The code page speaks the person's language already.
    _set_cookie(request, set_cookie_header(i18n.LOCALE_COOKIE, user.locale, max_age=31536000))
    _set_cookie(
        request,
        set_cookie_header(SECOND_STEP_COOKIE, step, max_age=service.SECOND_STEP_MINUTES * 60),
    )
    if is_htmx(request):
        i18n.set_locale(user.locale)
        context = {"next": next_url, "errors": {}}
        return render(request, "auth/login_code.html", context, block="relogin_code")
    return redirect(request, "/login/code?next=" + quote(next_url, safe="/"))


@router.post("/logout")
@public
@no_csrf_when_anonymous
def logout(request: Request, session: SessionDep, actor: OptionalActor) -> Response:
    if actor is not None:
        service.end_session(session, token_hash=actor.session_token_hash)
    _set_cookie(request, delete_cookie_header(SESSION_COOKIE))
    flash(request, _("You are logged out."))
    return redirect(request, "/login")


@router.get("/password/forgot")
@public
def forgot_page(request: Request) -> Response:
    return render(request, "auth/forgot.html", {"form": {}, "errors": {}, "sent": False})


@router.post("/password/forgot")
@public
def forgot(request: Request, session: SessionDep, form: FormDep) -> Response:
    email = form.require("email", _("Fill in your email address."))
    form.check_length("email", service.MAX_EMAIL_LENGTH)
    if not form.ok:
        context = {"form": {"email": form.get("email")}, "errors": form.errors, "sent": False}
        return render(request, "auth/forgot.html", context, status_code=422)
    try:
        service.request_password_reset(session, email=email, address=client_address(request))
    except RateLimited as exc:
        context = {"form": {"email": email}, "errors": {"form": exc.message}, "sent": False}
        headers = {"Retry-After": str(exc.retry_after)}
        return render(request, "auth/forgot.html", context, status_code=429, headers=headers)
    return render(request, "auth/forgot.html", {"form": {}, "errors": {}, "sent": True})


def _token_page(
    request: Request, session: SessionDep, token: str, purpose: TokenPurpose
) -> Response:
    try:
        check = service.check_token(session, token=token, purpose=purpose)
    except service.InvalidToken as exc:
        return render(request, "auth/token_invalid.html", {"message": exc.message}, status_code=400)
    context: dict[str, object] = {
        "purpose": purpose.value,
        "token": token,
        "user": check.user,
        "errors": {},
    }
    return render(request, "auth/set_password.html", context)


def _redeem(
    request: Request, session: SessionDep, form: FormDep, token: str, purpose: TokenPurpose
) -> Response:
    try:
        user = service.redeem_token(
            session,
            token=token,
            purpose=purpose,
            password=form.get("password"),
            confirmation=form.get("password_confirmation"),
        )
    except service.InvalidToken as exc:
        return render(request, "auth/token_invalid.html", {"message": exc.message}, status_code=400)
    except InvalidInput as exc:
        check = service.check_token(session, token=token, purpose=purpose)
        context = {
            "purpose": purpose.value,
            "token": token,
            "user": check.user,
            "errors": exc.errors,
        }
        return render(request, "auth/set_password.html", context, status_code=422)
    with i18n.using_locale(user.locale):
        flash(request, _("Your password is set. You can log in now."))
    return redirect(request, "/login")


@router.get("/password/reset/{token}")
@public
def reset_page(request: Request, session: SessionDep, token: str) -> Response:
    return _token_page(request, session, token, TokenPurpose.password_reset)


@router.post("/password/reset/{token}")
@public
def reset(request: Request, session: SessionDep, form: FormDep, token: str) -> Response:
    return _redeem(request, session, form, token, TokenPurpose.password_reset)


@router.get("/invitation/{token}")
@public
def invitation_page(request: Request, session: SessionDep, token: str) -> Response:
    return _token_page(request, session, token, TokenPurpose.invitation)


@router.post("/invitation/{token}")
@public
def accept_invitation(request: Request, session: SessionDep, form: FormDep, token: str) -> Response:
    return _redeem(request, session, form, token, TokenPurpose.invitation)


@router.post("/language")
@public
def set_language(
    request: Request, session: SessionDep, actor: OptionalActor, form: FormDep
) -> Response:
    locale = form.get("locale")
    if locale not in i18n.LOCALES:
        locale = i18n.get_locale()
    _set_cookie(request, set_cookie_header(i18n.LOCALE_COOKIE, locale, max_age=31536000))
    if actor is not None:
        actor.user.locale = locale
        session.add(actor.user)
    return redirect(request, safe_next(form.get("next")))


@router.get("/account")
def account_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    sessions = service.open_sessions(session, user_id=actor.id)
    context = {
        "sessions": sessions,
        "errors": {},
        "current_session_id": actor.session_id,
        **reminder_context(session, actor),
    }
    return render(request, "auth/account.html", context)


@router.post("/account/password")
def change_password(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep
) -> Response:
    try:
        service.change_password(
            session,
            user=actor.user,
            current=form.get("current_password"),
            password=form.get("password"),
            confirmation=form.get("password_confirmation"),
            keep_session_id=actor.session_id,
        )
    except InvalidInput as exc:
        sessions = service.open_sessions(session, user_id=actor.id)
        context = {
            "sessions": sessions,
            "errors": exc.errors,
            "current_session_id": actor.session_id,
            **reminder_context(session, actor),
        }
        return render(request, "auth/account.html", context, status_code=422)
    flash(request, _("Your password has been changed. You were logged out everywhere else."))
    return redirect(request, "/account")


@router.post("/account/sessions/{session_id}/end")
def end_other_session(
    request: Request, session: SessionDep, actor: CurrentActor, session_id: Id
) -> Response:
    target = session.get(UserSession, session_id)
    if target is None or target.user_id != actor.id:
        raise NotFound()
    service.end_session(session, token_hash=target.token_hash)
    flash(request, _("That login has been ended."))
    return redirect(request, "/login" if session_id == actor.session_id else "/account")


@router.post("/account/sessions/end-others")
def end_other_sessions(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    count = service.end_all_sessions(session, user_id=actor.id, except_session_id=actor.session_id)
    flash(
        request, i18n.ngettext("%(num)s other login ended.", "%(num)s other logins ended.", count)
    )
    return redirect(request, "/account")
