"""Questionnaire pages: the organisation's instruments, a preview with try-out, uploads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app import audit
from app.db import CommitInThreadRoute, SessionDep
from app.definition_files import MAX_UPLOAD_BYTES
from app.deps import Actor, AdminActor, require_roles
from app.forms import FormDep
from app.htmx import redirect
from app.i18n import get_locale
from app.i18n import gettext as _
from app.instruments import SECTORS, DefinitionError, Problem
from app.models import Role
from app.questionnaires import service
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)

#: Admins manage instruments; coaches choose and read them.
StaffActor = Annotated[Actor, Depends(require_roles(Role.admin, Role.coach))]
UPLOAD_FIELD = "definition"


@router.get("/instruments")
def instruments_page(request: Request, session: SessionDep, actor: StaffActor) -> Response:
    entries = service.list_instruments(session, actor=actor)
    context = {"entries": entries, "kind_labels": service.KIND_LABELS}
    return render(request, "questionnaires/list.html", context)


def _preview_page(request: Request, preview: service.Preview, status: int = 200) -> Response:
    context = {
        "preview": preview,
        "kind_labels": service.KIND_LABELS,
        "sectors": SECTORS,
        "rule_labels": service.RULE_LABELS,
    }
    return render(
        request, "questionnaires/preview.html", context, status_code=status, block="preview"
    )


@router.get("/instruments/preview")
def preview_page(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    instrument: str = "",
    locale: str = "",
    sector: str = "",
    name: str = "",
) -> Response:
    preview = service.preview(
        session,
        actor=actor,
        instrument=instrument[:100],
        locale=locale,
        sector=sector,
        name=name[:200],
    )
    return _preview_page(request, preview)


@router.post("/instruments/preview")
def try_out(request: Request, session: SessionDep, actor: StaffActor, form: FormDep) -> Response:
    preview = service.preview(
        session,
        actor=actor,
        instrument=form.get("instrument")[:100],
        locale=form.get("locale"),
        sector=form.get("sector"),
        name=form.get("name")[:200],
        posted=form.lists,
    )
    return _preview_page(request, preview, 200 if preview.tried else 422)


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes
    size: int


async def uploaded_definition(request: Request) -> UploadedFile | None:
    """The chosen definition file (at most just over the size limit of it), if any."""
    form = await request.form()
    upload = form.get(UPLOAD_FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    # One byte past the limit is enough to know a file is too big.
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    size = upload.size if upload.size is not None else len(data)
    return UploadedFile(filename=upload.filename, data=data, size=size)


def _upload_form(
    request: Request,
    errors: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> Response:
    context = {"errors": errors or {}, "problems": problems or [], "limit_kib": 256}
    return render(request, "questionnaires/upload.html", context, status_code=status)


@router.get("/admin/instruments/upload")
def upload_page(request: Request, actor: AdminActor) -> Response:
    return _upload_form(request)


@router.post("/admin/instruments")
def upload(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    uploaded: Annotated[UploadedFile | None, Depends(uploaded_definition)],
) -> Response:
    if uploaded is None:
        errors = {UPLOAD_FIELD: _("Choose a definition file to upload.")}
        return _upload_form(request, errors, status=422)
    try:
        row = service.upload_instrument(
            session,
            actor=actor,
            filename=uploaded.filename,
            data=uploaded.data,
            size=uploaded.size,
        )
    except DefinitionError as exc:
        message = _("The file was not uploaded: it has problems, listed below. Nothing was saved.")
        return _upload_form(request, {UPLOAD_FIELD: message}, exc.problems, 422)
    audit.record(
        session,
        actor=actor,
        action="instrument.upload",
        request=request,
        detail=f"{row.key} v{row.version} sha256={row.sha256}",
    )
    flash(
        request,
        _(
            "“%(title)s” version %(version)s has been added. Only your organisation can use it.",
            title=row.title_en if get_locale() == "en" else row.title_nl,
            version=row.version,
        ),
    )
    return redirect(request, "/instruments")
