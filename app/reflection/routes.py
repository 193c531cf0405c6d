"""The professional's pages: relationships, trajectory overview and the session wizard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup, escape

from app import audit, i18n, ratelimit
from app.coaching.coding import released_profiles
from app.coaching.service import (
    feedback_for_professional,
    feedback_targets,
    mark_feedback_read,
)
from app.config import get_settings
from app.db import CommitInThreadRoute, SessionDep, db_only
from app.deps import Actor, CurrentActor, Id, ProfessionalActor
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import FormDep, parse_id, parse_version
from app.htmx import is_htmx, redirect
from app.i18n import N_, Locale
from app.i18n import gettext as _
from app.instruments.schema import Sector as InstrumentSector
from app.models import (
    AgeBand,
    FocusRelationship,
    ReflectionSession,
    Sector,
    SessionStatus,
    Trajectory,
    TrajectoryStatus,
)
from app.notify import mark_read
from app.programmes.schema import render_probes, render_prompt
from app.questionnaires.service import Answers, build_form, read_answers
from app.reflection import service
from app.reflection.policies import (
    SessionPage,
    own_relationship,
    readable_session,
    readable_session_page,
    readable_trajectory,
)
from app.reflection.service import StepState
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)
#: The session wizard's steps and autosaves, the app's busiest requests: a router of their
#: own that app/main.py tries first (routing tries the routes one by one, twice).
wizard_router = APIRouter(route_class=CommitInThreadRoute)


def _relationship_form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    relationship_id: int | None,
    status: int = 200,
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "relationship_id": relationship_id,
        "sectors": [s.value for s in Sector],
        "age_bands": [a.value for a in AgeBand],
    }
    return render(request, "reflection/relationship_form.html", context, status_code=status)


@router.get("/relationships")
@db_only
def relationships(request: Request, session: SessionDep, actor: ProfessionalActor) -> Response:
    rows = service.list_relationships(session, actor=actor)
    return render(request, "reflection/relationships.html", {"rows": rows})


@router.get("/relationships/new")
@db_only
def new_relationship(request: Request, actor: ProfessionalActor) -> Response:
    return _relationship_form(request, {}, {}, relationship_id=None)


@router.post("/relationships")
@db_only
def create_relationship(
    request: Request, session: SessionDep, actor: ProfessionalActor, form: FormDep
) -> Response:
    try:
        relationship = service.save_relationship(session, actor=actor, values=form.values)
    except InvalidInput as exc:
        return _relationship_form(
            request, form.values, exc.errors, relationship_id=None, status=422
        )
    flash(request, _("%(name)s has been added.", name=relationship.pseudonym))
    return redirect(request, "/relationships")


@router.get("/relationships/{relationship_id}/edit")
@db_only
def edit_relationship(
    request: Request, session: SessionDep, actor: ProfessionalActor, relationship_id: Id
) -> Response:
    relationship = own_relationship(session, actor, relationship_id)
    values = {
        "pseudonym": relationship.pseudonym,
        "sector": relationship.sector,
        "age_band": relationship.age_band,
        "setting": relationship.setting,
        "known_since": relationship.known_since.isoformat() if relationship.known_since else "",
        "is_contrast": "1" if relationship.is_contrast else "",
    }
    return _relationship_form(request, values, {}, relationship_id=relationship_id)


@router.post("/relationships/{relationship_id}")
@db_only
def update_relationship(
    request: Request,
    session: SessionDep,
    actor: ProfessionalActor,
    form: FormDep,
    relationship_id: Id,
) -> Response:
    try:
        service.save_relationship(
            session, actor=actor, values=form.values, relationship_id=relationship_id
        )
    except InvalidInput as exc:
        return _relationship_form(
            request, form.values, exc.errors, relationship_id=relationship_id, status=422
        )
    flash(request, _("Your changes have been saved."))
    return redirect(request, "/relationships")


@router.post("/relationships/{relationship_id}/archive")
@db_only
def archive_relationship(
    request: Request, session: SessionDep, actor: ProfessionalActor, relationship_id: Id
) -> Response:
    relationship = service.archive_relationship(
        session, actor=actor, relationship_id=relationship_id
    )
    flash(request, _("%(name)s has been archived.", name=relationship.pseudonym))
    return redirect(request, "/relationships")


@router.post("/relationships/{relationship_id}/restore")
@db_only
def restore_relationship(
    request: Request, session: SessionDep, actor: ProfessionalActor, relationship_id: Id
) -> Response:
    relationship = service.restore_relationship(
        session, actor=actor, relationship_id=relationship_id
    )
    flash(request, _("%(name)s is back among your relationships.", name=relationship.pseudonym))
    return redirect(request, "/relationships")


@router.post("/relationships/{relationship_id}/trajectories")
@db_only
def start_trajectory(
    request: Request,
    session: SessionDep,
    actor: ProfessionalActor,
    form: FormDep,
    relationship_id: Id,
) -> Response:
    contrast = form.get("contrast_id")
    try:
        trajectory = service.start_trajectory(
            session,
            actor=actor,
            relationship_id=relationship_id,
            contrast_id=parse_id(contrast) if contrast else None,
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(request, exc.message, "error")
        return redirect(request, "/relationships")
    return redirect(request, f"/trajectories/{trajectory.id}")


# ---------------------------------------------------------------- trajectory overview


def _audit_coach_view(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory: Trajectory,
    what: str,
    relationship: FocusRelationship | None = None,
) -> None:
    """Audit the assigned coach's read or change (the owner's own use is not audited)."""
    if actor.id != trajectory.professional_id:
        audit.record(
            session,
            actor=actor,
            action=what,
            request=request,
            trajectory=trajectory,
            relationship=relationship,
            role="coach",
            # Typing the interview during a meeting is done for the professional.
            on_behalf_of_user_id=trajectory.professional_id
            if what == "narrative.coach_entered"
            else None,
            detail=f"trajectory={trajectory.id}",
        )


@router.get("/trajectories/{trajectory_id}")
@db_only
def trajectory_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id
) -> Response:
    trajectory = readable_trajectory(session, actor, trajectory_id)
    _audit_coach_view(request, session, actor, trajectory, "trajectory.view")
    programme = service.programme_of(trajectory)
    sessions = service.trajectory_sessions(session, trajectory)
    relationship = own_or_coached_relationship(session, trajectory)
    templates = {t.key: t for t in programme.sessions}
    is_owner = actor.id == trajectory.professional_id
    feedback = feedback_for_professional(session, trajectory=trajectory)
    if is_owner:
        # Reading the page is reading the feedback on it.
        mark_read(session, user_id=actor.id, link=f"/trajectories/{trajectory.id}#feedback")
        mark_feedback_read(session, trajectory=trajectory)
    context = {
        "trajectory": trajectory,
        "relationship": relationship,
        "sessions": [(s, templates[s.template_key]) for s in sessions],
        "is_owner": is_owner,
        "feedback": feedback,
        "feedback_targets": feedback_targets(
            session,
            feedback=feedback,
            sessions=sessions,
            programme=programme,
            locale=i18n.get_locale(),
        ),
        "has_profile": bool(released_profiles(session, trajectory=trajectory)),
        "locale": i18n.get_locale(),
    }
    return render(request, "reflection/trajectory.html", context)


@router.get("/trajectories/{trajectory_id}/profile")
@db_only
def profile_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id
) -> Response:

    trajectory = readable_trajectory(session, actor, trajectory_id)
    _audit_coach_view(request, session, actor, trajectory, "profile.view")
    if actor.id == trajectory.professional_id:
        mark_read(session, user_id=actor.id, link=f"/trajectories/{trajectory.id}/profile")
    return render(
        request,
        "reflection/profile.html",
        {
            "trajectory": trajectory,
            "relationship": own_or_coached_relationship(session, trajectory),
            "profile": _profile_for(session, trajectory),
            "words": _key_words(session, trajectory),
        },
    )


def _profile_for(session: SessionDep, trajectory: Trajectory) -> Any:
    """The newest released profile as a chart, showing the change since the one before."""
    from app.coaching.routes import profile_svg

    released = released_profiles(session, trajectory=trajectory)
    if not released:
        return None
    latest = released[-1]
    earlier = next(
        (c.ratings for c in reversed(released[:-1]) if c.session_id != latest.session_id), None
    )
    return profile_svg(latest.ratings, earlier, i18n.get_locale())


def _key_words(session: SessionDep, trajectory: Trajectory) -> list[str]:
    """The professional's own three words (latest), shown until a profile is released."""
    from sqlmodel import col, select

    from app.models import NarrativeAnswer, ReflectionSession

    rows = session.exec(
        select(NarrativeAnswer.words)
        .join(ReflectionSession, col(ReflectionSession.id) == col(NarrativeAnswer.session_id))
        .where(
            ReflectionSession.trajectory_id == trajectory.id,
            NarrativeAnswer.step_key == "three_words",
        )
        .order_by(col(ReflectionSession.position).desc())
    ).all()
    for words in rows:
        if any(words):
            return [w for w in words if w]
    return []


def own_or_coached_relationship(session: SessionDep, trajectory: Trajectory) -> Any:
    relationship = session.get(FocusRelationship, trajectory.focus_relationship_id)
    assert relationship is not None
    return relationship


@router.post("/sessions/{session_id}/open")
@db_only
def open_session(
    request: Request, session: SessionDep, actor: CurrentActor, session_id: Id
) -> Response:
    reflection_session, trajectory = readable_session(session, actor, session_id)
    if actor.id == trajectory.professional_id:
        raise NotFound()  # only the coach opens a session that waits for the coach
    try:
        service.open_session(session, actor=actor, reflection_session=reflection_session)
    except DomainError as exc:
        flash(request, exc.message, "error")
    else:
        _audit_coach_view(request, session, actor, trajectory, "session.open")
        flash(request, _("The session is open for the professional now."))
    return redirect(request, f"/trajectories/{trajectory.id}")


# ---------------------------------------------------------------- the wizard


def _writable(actor: Actor, trajectory: Trajectory, step_type: str) -> bool:
    """The professional answers every step; a coach may only type narrative answers."""
    if actor.id == trajectory.professional_id:
        return True
    return step_type in ("narrative", "three_words")


@router.get("/sessions/{session_id}")
@db_only
def resume_session(
    request: Request, session: SessionDep, actor: CurrentActor, session_id: Id
) -> Response:
    reflection_session, trajectory = readable_session(session, actor, session_id)
    if reflection_session.status in service.DONE:
        return redirect(request, f"/sessions/{session_id}/summary")
    template = service.session_template(trajectory, reflection_session)
    step = reflection_session.current_step or template.steps[0].key
    return redirect(request, f"/sessions/{session_id}/steps/{step}")


def _step_dots(steps: list[StepState], current: str, session_id: int, locale: Locale) -> Markup:
    """The progress list: a link to every step, the current one marked, the done ones said.

    Built here rather than in the template: a `_()` with a value costs Jinja some twenty
    function calls, and this is the page's only loop apart from the questions. Every value
    is escaped; the messages come from our own catalogue, trusted as Jinja's gettext is.
    """
    done_word = i18n.markup(N_("done"))  # outside the f-string, where Babel finds it
    done = f'<span class="visually-hidden"> ({done_word})</span>'
    # Translated once; each step fills in only its number (an int, nothing to escape).
    step_number = i18n.gettext(N_("Step %(n)s:"))
    items = []
    for s in steps:
        key = s.template.key
        here = key == current
        classes = ("is-done" if s.done else "") + (" is-current" if here else "")
        aria = ' aria-current="step"' if here else ""
        items.append(
            f'<li class="{classes}">\n'
            f'  <a href="/sessions/{session_id}/steps/{escape(key)}"{aria}>\n'
            f'    <span class="visually-hidden">{step_number % {"n": int(s.number)}}</span>'
            f" {escape(s.template.title.get(locale))}{done if s.done else ''}\n"
            "  </a>\n"
            "</li>"
        )
    return Markup("\n".join(items))  # noqa: S704 - every value above is escaped # nosec B704


def _step_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    step_key: str,
    page: SessionPage | None = None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    conflict: Any = None,
    answers_in: Answers | None = None,
) -> Response:
    template = service.session_template(trajectory, reflection_session)
    index, step = service.find_step(template, step_key)
    if page is not None:  # read with the session already
        answers, responses, relationship = page.answers, page.responses, page.relationship
    else:
        answers, responses = service.load_answers(session, reflection_session)
        relationship = own_or_coached_relationship(session, trajectory)
    locale = i18n.get_locale()
    name = relationship.pseudonym
    sector = sector_of(relationship)
    steps = [
        StepState(
            template=s,
            number=i + 1,
            total=len(template.steps),
            done=service.step_done(s, answers.get(s.key), responses.get(s.key)),
        )
        for i, s in enumerate(template.steps)
    ]
    state = steps[index]
    state.answer = answers.get(step.key)
    state.response = responses.get(step.key)
    if step.type == "instrument":
        state.instrument = service.instrument_for(step, state.response)
        if answers_in is None:
            stored = state.response.answers if state.response else {}
            answers_in = Answers(posted={k: [str(v)] for k, v in stored.items()})
        state.extra["form"] = build_form(
            state.instrument,
            locale=locale,
            sector=sector,
            name=name,
            answers=answers_in,
        )
    context = {
        "trajectory": trajectory,
        "rsession": reflection_session,
        "session_template": template,
        "relationship": relationship,
        "steps": steps,
        "step_dots": _step_dots(steps, step.key, reflection_session.id or 0, locale),
        "state": state,
        "step": step,
        "prompt": render_prompt(step, locale, sector, name),
        "probes": render_probes(step, locale, sector, name),
        "previous": steps[index - 1].template.key if index > 0 else None,
        "next": steps[index + 1].template.key if index + 1 < len(steps) else None,
        "values": values or {},
        "errors": errors or {},
        "conflict": conflict,
        "editable": reflection_session.status in (SessionStatus.open, SessionStatus.in_progress)
        and trajectory.status != TrajectoryStatus.stopped
        and _writable(actor, trajectory, step.type),
        "coach_mode": actor.id != trajectory.professional_id,
        "profile": _profile_for(session, trajectory) if step.type == "reflection" else None,
        "key_words": _key_words(session, trajectory) if step.type == "reflection" else [],
        "locale": locale,
    }
    response = render(request, "reflection/step.html", context, status_code=status, block="wizard")
    if is_htmx(request):
        response.headers["HX-Push-Url"] = f"/sessions/{reflection_session.id}/steps/{step.key}"
    return response


@wizard_router.get("/sessions/{session_id}/steps/{step_key}")
@db_only
def step_page(
    request: Request, session: SessionDep, actor: CurrentActor, session_id: Id, step_key: str
) -> Response:
    page = readable_session_page(session, actor, session_id)
    reflection_session, trajectory = page.reflection_session, page.trajectory
    if reflection_session.status in (SessionStatus.locked, SessionStatus.waiting):
        flash(request, _("This session is not open yet."), "error")
        return redirect(request, f"/trajectories/{trajectory.id}")
    _audit_coach_view(request, session, actor, trajectory, "session.view", page.relationship)
    return _step_page(request, session, actor, reflection_session, trajectory, step_key, page)


@wizard_router.post("/sessions/{session_id}/steps/{step_key}")
@db_only
def submit_step(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    form: FormDep,
    session_id: Id,
    step_key: str,
) -> Response:
    reflection_session, trajectory = readable_session(session, actor, session_id)
    template = service.session_template(trajectory, reflection_session)
    index, step = service.find_step(template, step_key)
    action = form.get("action") or "next"
    if not _writable(actor, trajectory, step.type):
        raise NotFound()
    if reflection_session.status in service.DONE:
        # A double submit or a back-button resubmit of a finished session.
        flash(request, _("This session is already finished. Your answers were saved."))
        return redirect(request, f"/sessions/{session_id}/summary")
    keep = {**form.values, "words": form.get_list("words")}
    if step.type == "instrument" and action != "back":
        return _submit_instrument(
            request, session, actor, reflection_session, trajectory, template, index, form, action
        )
    try:
        if action == "back":
            if step.type != "instrument" and form.get("text"):
                _save_quietly(session, actor, reflection_session, trajectory, step, form)
            target = template.steps[max(index - 1, 0)].key
        else:
            service.submit_step(
                session,
                actor=actor,
                reflection_session=reflection_session,
                trajectory=trajectory,
                step=step,
                values=form.values,
                lists=form.lists,
            )
            if actor.id != trajectory.professional_id:
                _audit_coach_view(request, session, actor, trajectory, "narrative.coach_entered")
            if action == "later":
                flash(request, _("Saved. You can carry on later, also on another device."))
                return redirect(request, f"/trajectories/{trajectory.id}")
            if index + 1 < len(template.steps):
                target = template.steps[index + 1].key
            else:
                return _finish(request, session, actor, reflection_session, trajectory)
    except InvalidInput as exc:
        return _step_page(
            request,
            session,
            actor,
            reflection_session,
            trajectory,
            step_key,
            values=keep,
            errors=exc.errors,
            status=422,
        )
    except service.VersionConflict as exc:
        return _step_page(
            request,
            session,
            actor,
            reflection_session,
            trajectory,
            step_key,
            values=keep,
            status=409,
            conflict=exc.answer,
        )
    except service.SessionClosed as exc:
        flash(request, exc.message, "error")
        return redirect(request, f"/trajectories/{trajectory.id}")
    reflection_session.current_step = target
    session.add(reflection_session)
    if is_htmx(request):
        return _step_page(request, session, actor, reflection_session, trajectory, target)
    return redirect(request, f"/sessions/{session_id}/steps/{target}")


def _submit_instrument(
    request: Request,
    session: SessionDep,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    template: Any,
    index: int,
    form: FormDep,
    action: str,
) -> Response:
    """Store the answers given; all must be answered (and valid) to go on."""
    step = template.steps[index]
    relationship = own_or_coached_relationship(session, trajectory)
    try:
        service.ensure_editable(reflection_session, trajectory)
    except service.SessionClosed as exc:
        flash(request, exc.message, "error")
        return redirect(request, f"/trajectories/{trajectory.id}")
    _answers, responses = service.load_answers(session, reflection_session)
    definition = service.instrument_for(step, responses.get(step.key))
    answers = read_answers(
        definition,
        form.lists,
        name=relationship.pseudonym,
        locale=i18n.get_locale(),
        sector=sector_of(relationship),
    )
    valid = {k: v for k, v in answers.values.items() if isinstance(v, int)}
    service.save_instrument_answers(
        session,
        reflection_session=reflection_session,
        trajectory=trajectory,
        step=step,
        answers=valid,
        complete=answers.ok,
    )
    if not answers.ok and action != "later":
        return _step_page(
            request,
            session,
            actor,
            reflection_session,
            trajectory,
            step.key,
            status=422,
            answers_in=answers,
        )
    if action == "later":
        flash(request, _("Saved. You can carry on later, also on another device."))
        return redirect(request, f"/trajectories/{trajectory.id}")
    if index + 1 >= len(template.steps):
        return _finish(request, session, actor, reflection_session, trajectory)
    target = template.steps[index + 1].key
    reflection_session.current_step = target
    session.add(reflection_session)
    if is_htmx(request):
        return _step_page(request, session, actor, reflection_session, trajectory, target)
    return redirect(request, f"/sessions/{reflection_session.id}/steps/{target}")


def _autosave_limited(session: SessionDep, actor: Actor) -> ratelimit.RateLimited | None:
    """Count one autosave of this login session; the error when it saves far too often."""
    limit = ratelimit.Limit(get_settings().autosave_max_per_minute, timedelta(minutes=1))
    try:
        ratelimit.check(
            session,
            key=f"autosave:session:{actor.session_id}",
            limit=limit,
            message=_(
                "Not saved yet: too many saves in a short time. Your text stays here and is "
                "saved again in a moment."
            ),
        )
    except ratelimit.RateLimited as exc:
        return exc
    return None


@wizard_router.post("/sessions/{session_id}/steps/{step_key}/answers")
@db_only
def save_item(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    form: FormDep,
    session_id: Id,
    step_key: str,
) -> Response:
    """htmx: store one answered question at once, so nothing is lost between pages."""
    reflection_session, trajectory = readable_session(session, actor, session_id)
    template = service.session_template(trajectory, reflection_session)
    _position, step = service.find_step(template, step_key)
    if step.type != "instrument" or actor.id != trajectory.professional_id:
        raise NotFound()
    limited = _autosave_limited(session, actor)
    if limited is not None:
        # htmx leaves the page as it is on an error: the choice stays and the step's own
        # submit sends it again.
        headers = {"Retry-After": str(limited.retry_after)}
        return HTMLResponse(limited.message, status_code=429, headers=headers)
    _answers, responses = service.load_answers(session, reflection_session)
    definition = service.instrument_for(step, responses.get(step.key))
    answers = read_answers(definition, form.lists)
    posted = {k for k in answers.posted if answers.posted[k]}
    valid = {k: v for k, v in answers.values.items() if isinstance(v, int) and k in posted}
    if not valid or answers.form_errors:
        return HTMLResponse(_("Not saved: choose one of the answers given."), status_code=422)
    try:
        service.save_instrument_answers(
            session,
            reflection_session=reflection_session,
            trajectory=trajectory,
            step=step,
            answers=valid,
            complete=False,
        )
    except service.SessionClosed as exc:
        return HTMLResponse(exc.message, status_code=409)
    return HTMLResponse(_("Saved"))


def _save_quietly(
    session: SessionDep,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    step: Any,
    form: FormDep,
) -> None:
    """Going back keeps what was typed, without asking for it to be complete."""
    # A tampered counter counts as a first save: a stored answer then shows as a conflict,
    # with both texts.
    base = parse_version(form.get("version")) or 0
    service.save_draft(
        session,
        actor=actor,
        reflection_session=reflection_session,
        trajectory=trajectory,
        step=step,
        text=form.get("text"),
        base_version=base,
        words=form.get_list("words") if step.type == "three_words" else None,
    )


def _finish(
    request: Request,
    session: SessionDep,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
) -> Response:
    missing = service.complete_session(
        session, reflection_session=reflection_session, trajectory=trajectory
    )
    if missing:
        flash(request, _("A few steps still need an answer before you can finish."), "error")
        return redirect(request, f"/sessions/{reflection_session.id}/steps/{missing[0]}")
    flash(request, _("Well done: this session is finished."))
    return redirect(request, f"/sessions/{reflection_session.id}/summary")


@wizard_router.post("/sessions/{session_id}/steps/{step_key}/draft")
@db_only
def autosave(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    form: FormDep,
    session_id: Id,
    step_key: str,
) -> Response:
    reflection_session, trajectory = readable_session(session, actor, session_id)
    template = service.session_template(trajectory, reflection_session)
    _position, step = service.find_step(template, step_key)
    if step.type not in service.TEXT_TYPES or not _writable(actor, trajectory, step.type):
        raise NotFound()
    limited = _autosave_limited(session, actor)
    if limited is not None:
        return JSONResponse(
            {"error": limited.message, "retry_after": limited.retry_after},
            status_code=429,
            headers={"Retry-After": str(limited.retry_after)},
        )
    base = parse_version(form.get("version"))
    if base is None:
        return JSONResponse({"error": _("Something is wrong with this request")}, status_code=400)
    try:
        answer = service.save_draft(
            session,
            actor=actor,
            reflection_session=reflection_session,
            trajectory=trajectory,
            step=step,
            text=form.get("text"),
            base_version=base,
            words=form.get_list("words") if step.type == "three_words" else None,
        )
    except service.VersionConflict as exc:
        return JSONResponse(
            {
                "conflict": True,
                "version": exc.answer.version,
                "text": exc.answer.text,
                "words": exc.answer.words,
                "message": exc.message,
            },
            status_code=409,
        )
    except InvalidInput as exc:
        return JSONResponse({"error": exc.message}, status_code=422)
    except service.SessionClosed as exc:
        return JSONResponse({"error": exc.message}, status_code=409)
    if actor.id != trajectory.professional_id:
        _audit_coach_view(request, session, actor, trajectory, "narrative.coach_entered")
    saved = answer.saved_at
    return JSONResponse(
        {
            "version": answer.version,
            "saved_at": saved.isoformat(),
            "message": _("Saved at %(time)s", time=_local_time(saved)),
        }
    )


def _local_time(moment: datetime) -> str:
    # "HH:mm" is the same in every locale: no need for Babel's pattern machinery here.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored times are UTC
    return moment.astimezone(i18n.local_zone()).strftime("%H:%M")


@router.get("/sessions/{session_id}/summary")
@db_only
def summary(request: Request, session: SessionDep, actor: CurrentActor, session_id: Id) -> Response:
    from app.reflection.changes import what_changed

    reflection_session, trajectory = readable_session(session, actor, session_id)
    _audit_coach_view(request, session, actor, trajectory, "summary.view")
    programme = service.programme_of(trajectory)
    locale = i18n.get_locale()
    feedback = feedback_for_professional(session, trajectory=trajectory)
    if actor.id == trajectory.professional_id:
        # The feedback is on this page too: reading it here counts as reading it.
        mark_read(session, user_id=actor.id, link=f"/trajectories/{trajectory.id}#feedback")
        mark_feedback_read(session, trajectory=trajectory)
    context = {
        "trajectory": trajectory,
        "rsession": reflection_session,
        "session_template": programme.session(reflection_session.template_key),
        "relationship": own_or_coached_relationship(session, trajectory),
        "changed": what_changed(session, trajectory=trajectory, programme=programme, locale=locale),
        "phase_titles": {t.phase: t.title.get(locale) for t in programme.sessions},
        "is_owner": actor.id == trajectory.professional_id,
        "feedback": feedback,
        "feedback_targets": feedback_targets(
            session,
            feedback=feedback,
            sessions=service.trajectory_sessions(session, trajectory),
            programme=programme,
            locale=locale,
        ),
    }
    return render(request, "reflection/summary.html", context)


def sector_of(relationship: Any) -> InstrumentSector:
    """The relationship's sector as the instrument wording knows it."""
    return cast(InstrumentSector, relationship.sector)
