"""The second login step and setting up two-factor login on the own account page."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit, i18n
from app.auth import service, two_factor
from app.auth.routes import _set_cookie, finish_login, safe_next
from app.db import CommitInThreadRoute, SessionDep
from app.deps import CurrentActor, client_address, enrolment_allowed, public
from app.errors import DomainError, InvalidInput
from app.forms import FormDep
from app.htmx import redirect
from app.i18n import gettext as _
from app.middleware import delete_cookie_header
from app.models import TokenPurpose, utcnow
from app.security import SECOND_STEP_COOKIE
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)
TWO_FACTOR_PAGE = "/account/two-factor"
T = TypeVar("T")
MAX_CODE_LENGTH = 40


def _pending(request: Request, session: SessionDep) -> service.TokenCheck | None:
    """The login waiting for its code, from the step cookie; None when there is none."""
    try:
        return service.check_token(
            session,
            token=request.cookies.get(SECOND_STEP_COOKIE, ""),
            purpose=TokenPurpose.second_factor,
        )
    except service.InvalidToken:
        return None


def _start_again(request: Request) -> Response:
    flash(request, _("Your login took too long. Log in again with your password."), "error")
    _set_cookie(request, delete_cookie_header(SECOND_STEP_COOKIE))
    return redirect(request, "/login")


@router.get("/login/code")
@public
def code_page(request: Request, session: SessionDep, next: str = "/") -> Response:
    if _pending(request, session) is None:
        return _start_again(request)
    return render(request, "auth/login_code.html", {"next": safe_next(next), "errors": {}})


@router.post("/login/code")
@public
def submit_code(request: Request, session: SessionDep, form: FormDep) -> Response:
    next_url = safe_next(form.get("next"))
    relogin = bool(form.get("relogin"))
    pending = _pending(request, session)
    if pending is None:
        if relogin:
            context = {"next": "/", "form": {}, "errors": {}, "relogin": True}
            return render(request, "auth/login.html", context, status_code=401, block="relogin")
        return _start_again(request)
    code = form.get("code")[:MAX_CODE_LENGTH]
    status = 422
    errors: dict[str, str] = {}
    if not code.strip():
        errors["code"] = _("Type the six-digit code your app shows, or a recovery code.")
    else:
        try:
            method = two_factor.check_code(
                session, user=pending.user, code=code, address=client_address(request)
            )
        except DomainError as exc:
            errors["code"] = exc.message
            status = exc.status_code
        else:
            pending.token.used_at = utcnow()
            session.add(pending.token)
            _set_cookie(request, delete_cookie_header(SECOND_STEP_COOKIE))
            if method is two_factor.Method.recovery_code:
                left = two_factor.remaining_recovery_codes(session, user=pending.user) - 1
                with i18n.using_locale(pending.user.locale):
                    flash(
                        request,
                        i18n.ngettext(
                            "You used a recovery code. %(num)s code is left; make new ones "
                            "on your account page.",
                            "You used a recovery code. %(num)s codes are left; make new ones "
                            "on your account page.",
                            max(left, 0),
                        ),
                    )
            return finish_login(request, session, pending.user, next_url, two_factor=True)
    context = {"next": next_url, "errors": errors}
    block = "relogin_code" if relogin else "code_form"
    return render(request, "auth/login_code.html", context, status_code=status, block=block)


# ---------------------------------------------------------------- the own account


def _page(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    user = actor.user
    context = {
        "enabled": user.two_factor_enabled,
        "enrolment": two_factor.pending_enrolment(user),
        "required": actor.two_factor_required,
        "remaining": two_factor.remaining_recovery_codes(session, user=user)
        if user.two_factor_enabled
        else 0,
        "errors": errors or {},
    }
    return render(request, "auth/two_factor.html", context, status_code=status)


@router.get(TWO_FACTOR_PAGE)
@enrolment_allowed
def two_factor_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _page(request, session, actor)


@router.post(TWO_FACTOR_PAGE + "/setup")
@enrolment_allowed
def setup(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    try:
        two_factor.begin_enrolment(session, user=actor.user)
    except DomainError as exc:
        flash(request, exc.message, "error")
    return redirect(request, TWO_FACTOR_PAGE)


def _codes_page(request: Request, codes: list[str]) -> Response:
    return render(request, "auth/recovery_codes.html", {"codes": codes})


def _with_code(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    action: str,
    step: Callable[[str], T],
    form: FormDep,
) -> T | Response:
    """Run a step that needs a code from the app: a wrong code back on the page, else audited."""
    try:
        result = step(form.get("code")[:MAX_CODE_LENGTH])
    except InvalidInput as exc:
        return _page(request, session, actor, exc.errors, 422)
    except DomainError as exc:
        flash(request, exc.message, "error")
        return redirect(request, TWO_FACTOR_PAGE)
    audit.record(session, actor=actor, action=action, request=request, subject_user_id=actor.id)
    return result


@router.post(TWO_FACTOR_PAGE + "/confirm")
@enrolment_allowed
def confirm(request: Request, session: SessionDep, actor: CurrentActor, form: FormDep) -> Response:
    codes = _with_code(
        request,
        session,
        actor,
        "account.two_factor_on",
        lambda code: two_factor.confirm_enrolment(
            session,
            user=actor.user,
            code=code,
            address=client_address(request),
            session_id=actor.session_id,
        ),
        form,
    )
    return codes if isinstance(codes, Response) else _codes_page(request, codes)


@router.post(TWO_FACTOR_PAGE + "/recovery-codes")
def regenerate(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep
) -> Response:
    codes = _with_code(
        request,
        session,
        actor,
        "account.recovery_codes",
        lambda code: two_factor.new_recovery_codes(
            session, user=actor.user, code=code, address=client_address(request)
        ),
        form,
    )
    return codes if isinstance(codes, Response) else _codes_page(request, codes)


@router.post(TWO_FACTOR_PAGE + "/disable")
def disable(request: Request, session: SessionDep, actor: CurrentActor, form: FormDep) -> Response:
    done = _with_code(
        request,
        session,
        actor,
        "account.two_factor_off",
        lambda code: two_factor.disable(
            session,
            user=actor.user,
            code=code,
            address=client_address(request),
            required=actor.two_factor_required,
        ),
        form,
    )
    if isinstance(done, Response):
        return done
    flash(request, _("Two-factor login is off. You log in with your password only."))
    return redirect(request, TWO_FACTOR_PAGE)
