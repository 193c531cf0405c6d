"""Pages for data-subject rights: my data (HTML, JSON, PDF), my consents, erasure by an admin."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit, i18n
from app.coaching.routes import REASON_MIN
from app.db import CommitInThreadRoute, SessionDep
from app.deps import AdminActor, CurrentActor, Id, ProfessionalActor
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import FormDep
from app.htmx import redirect
from app.i18n import gettext as _
from app.models import ConsentPurpose
from app.policies import get_user
from app.privacy import consent, erasure
from app.privacy.export import PersonalData, as_json, load_personal_data
from app.privacy.export_pdf import personal_data_pdf
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)


def _export(request: Request, session: SessionDep, actor: CurrentActor, what: str) -> PersonalData:
    audit.record(
        session,
        actor=actor,
        action="personal_data.export",
        request=request,
        subject_user_id=actor.id,
        detail=f"format={what}",
    )
    return load_personal_data(session, user_id=actor.id, locale=i18n.get_locale())


@router.get("/account/data")
def my_data_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    data = _export(request, session, actor, "html")
    return render(request, "privacy/data.html", {"data": data})


@router.get("/account/data.json")
def my_data_json(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    data = _export(request, session, actor, "json")
    content = json.dumps(as_json(data), ensure_ascii=False, indent=2)
    return Response(
        content.encode("utf-8"),
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dyade-my-data.json"'},
    )


@router.get("/account/data.pdf")
def my_data_pdf(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    data = _export(request, session, actor, "pdf")
    return Response(
        personal_data_pdf(data, locale=i18n.get_locale()),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="dyade-my-data.pdf"'},
    )


@router.get("/admin/users/{user_id}/data.json")
def person_data_json(
    request: Request, session: SessionDep, actor: AdminActor, user_id: Id, reason: str = ""
) -> Response:
    """An admin answers a data request for someone who cannot download it themselves."""
    user = get_user(session, user_id, actor)
    if len(reason.strip()) < REASON_MIN:
        context = {"user": user, "reason": reason[:500], "too_short": bool(reason)}
        return render(request, "admin/data_reason.html", context)
    audit.record(
        session,
        actor=actor,
        action="personal_data.export",
        request=request,
        subject_user_id=user.id,
        detail=f"format=json; reason: {reason.strip()[:400]}",
    )
    data = load_personal_data(session, user_id=user_id, locale=i18n.get_locale())
    content = json.dumps(as_json(data), ensure_ascii=False, indent=2)
    return Response(
        content.encode("utf-8"),
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="dyade-data-{user_id}.json"'},
    )


# ---------------------------------------------------------------- consent


def _consent_page(
    request: Request,
    session: SessionDep,
    actor: ProfessionalActor,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = consent.consent_overview(session, actor=actor)
    context = {
        "rows": rows,
        "errors": errors or {},
        "wording_version": consent.WORDING_VERSION,
        "programme": str(ConsentPurpose.programme),
        "research": str(ConsentPurpose.research),
    }
    return render(request, "privacy/consent.html", context, status_code=status)


@router.get("/account/consent")
def consent_page(request: Request, session: SessionDep, actor: ProfessionalActor) -> Response:
    return _consent_page(request, session, actor)


@router.post("/trajectories/{trajectory_id}/consent")
def change_consent(
    request: Request,
    session: SessionDep,
    actor: ProfessionalActor,
    form: FormDep,
    trajectory_id: Id,
) -> Response:
    give = form.get("choice") == "give"
    try:
        record = consent.change_consent(
            session,
            actor=actor,
            trajectory_id=trajectory_id,
            purpose=form.get("purpose"),
            give=give,
            confirmed=form.get("confirm") == "1",
        )
    except InvalidInput as exc:
        return _consent_page(request, session, actor, exc.errors, 422)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(request, exc.message, "error")
        return redirect(request, "/account/consent")
    audit.record(
        session,
        actor=actor,
        action="consent.give" if give else "consent.withdraw",
        request=request,
        subject_user_id=actor.id,
        detail=f"trajectory={trajectory_id}; purpose={record.purpose}; "
        f"wording=v{record.wording_version}",
    )
    messages = {
        ("programme", True): _("You take part in this programme again."),
        ("programme", False): _(
            "You have stopped this programme. Your coach can no longer read it."
        ),
        ("research", True): _("Thank you: your answers may be used for research."),
        ("research", False): _("Your answers will no longer be used for research."),
    }
    flash(request, messages[(record.purpose, give)])
    return redirect(request, "/account/consent")


# ---------------------------------------------------------------- erasure


def _erase_page(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    user_id: int,
    *,
    confirmation: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    summary = erasure.erasure_summary(session, actor=actor, user_id=user_id)
    problem = ""
    try:
        erasure.check_erasable(actor, summary.user)
    except DomainError as exc:
        problem = exc.message
    context = {
        "summary": summary,
        "problem": problem,
        "confirmation": confirmation[:300],
        "errors": errors or {},
    }
    return render(request, "admin/erase.html", context, status_code=status)


@router.get("/admin/users/{user_id}/erase")
def erase_page(request: Request, session: SessionDep, actor: AdminActor, user_id: Id) -> Response:
    return _erase_page(request, session, actor, user_id)


@router.post("/admin/users/{user_id}/erase")
def erase(
    request: Request, session: SessionDep, actor: AdminActor, form: FormDep, user_id: Id
) -> Response:
    typed = form.get("confirmation")
    try:
        erasure.erase_person(session, actor=actor, user_id=user_id, confirmation=typed)
    except InvalidInput as exc:
        return _erase_page(
            request, session, actor, user_id, confirmation=typed, errors=exc.errors, status=422
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _erase_page(
            request,
            session,
            actor,
            user_id,
            confirmation=typed,
            errors={"status": exc.message},
            status=422,
        )
    # The one trace of the erasure: who did it, when, for which (now anonymous) account.
    audit.record(
        session, actor=actor, action="person.erase", request=request, subject_user_id=user_id
    )
    flash(request, _("The person has been erased. Their data and narratives are gone."))
    return redirect(request, f"/admin/users/{user_id}")
