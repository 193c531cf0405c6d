"""The coach's pages: caseload, one whole trajectory, coding, feedback; notifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit, i18n
from app.coaching import coding as coding_service
from app.coaching import service
from app.coaching.scheme import band, coding_scheme
from app.coaching.stats import agreement_between
from app.db import SessionDep
from app.deps import Actor, CoachActor, CurrentActor, Id
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import FormDep, whole_number
from app.htmx import redirect
from app.i18n import gettext as _
from app.models import ReflectionSession, Role, Trajectory
from app.notify import mark_read, recent
from app.reflection.policies import is_assigned_coach, readable_session
from app.templating import flash, render

router = APIRouter()
REASON_MIN = 10


@router.get("/coach")
def caseload(
    request: Request,
    session: SessionDep,
    actor: CoachActor,
    sort: str = "attention",
    flag: str = "",
) -> Response:
    rows = service.sort_and_filter(service.caseload(session, actor=actor), sort=sort, flag=flag)
    context = {"rows": rows, "sort": sort, "flag": flag, "flags": service.FLAGS}
    return render(request, "coaching/caseload.html", context, block="caseload_table")


def coach_trajectory(
    request: Request, session: SessionDep, actor: Actor, trajectory_id: int, reason: str = ""
) -> Trajectory | Response:
    """The trajectory for its assigned coach, or an admin who states a reason; else 404."""
    trajectory = session.get(Trajectory, trajectory_id)
    if trajectory is None or trajectory.organisation_id != actor.organisation_id:
        raise NotFound()
    if is_assigned_coach(session, actor, trajectory.professional_id):
        audit.record(
            session,
            actor=actor,
            action="trajectory.view",
            request=request,
            role="coach",
            subject_user_id=trajectory.professional_id,
            detail=f"trajectory={trajectory.id}",
        )
        return trajectory
    if not actor.has(Role.admin):
        raise NotFound()
    if len(reason.strip()) < REASON_MIN:
        context = {
            "trajectory_id": trajectory_id,
            "reason": reason[:500],
            "too_short": bool(reason),
        }
        return render(request, "coaching/reason.html", context, status_code=200)
    audit.record(
        session,
        actor=actor,
        action="trajectory.view",
        request=request,
        role="admin",
        subject_user_id=trajectory.professional_id,
        detail=f"trajectory={trajectory.id}; reason: {reason.strip()[:400]}",
    )
    return trajectory


def _assigned(
    session: SessionDep, actor: Actor, session_id: int
) -> tuple[ReflectionSession, Trajectory]:
    reflection_session, trajectory = readable_session(session, actor, session_id)
    if not is_assigned_coach(session, actor, trajectory.professional_id):
        raise NotFound()
    return reflection_session, trajectory


@router.get("/coach/trajectories/{trajectory_id}")
def trajectory_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id, reason: str = ""
) -> Response:
    found = coach_trajectory(request, session, actor, trajectory_id, reason)
    if isinstance(found, Response):
        return found
    view = service.load_trajectory_view(session, trajectory=found)
    return render(request, "coaching/trajectory.html", _trajectory_context(view, actor, reason))


def _trajectory_context(view: service.TrajectoryView, actor: Actor, reason: str) -> dict[str, Any]:
    locale = i18n.get_locale()
    scheme = coding_scheme()
    templates = {t.key: t for t in view.programme.sessions}
    codings_by_session: dict[int, list[Any]] = {}
    for c in view.codings:
        codings_by_session.setdefault(c.session_id, []).append(c)
    agreements = {}
    for session_id, codings in codings_by_session.items():
        if len(codings) >= 2:
            agreements[session_id] = agreement_between(
                codings[0].ratings, codings[1].ratings, scheme
            )
    return {
        "view": view,
        "charts": [(series, _series_chart(series, locale)) for series in view.series],
        "locale": locale,
        "templates": templates,
        "scheme": scheme,
        "codings_by_session": codings_by_session,
        "agreements": agreements,
        "is_coach": actor.has(Role.coach),
        "reason": reason,
        "step_titles": {
            (t.key, step.key): step.title.get(locale)
            for t in view.programme.sessions
            for step in t.steps
        },
    }


def _series_chart(series: service.SubscaleSeries, locale: i18n.Locale) -> Any:
    from app.coaching.charts import ChartLabels, ChartPoint, subscale_chart

    points = [
        ChartPoint(
            label=_phase_label(p.phase),
            value=p.value,
            change=p.change.classification if p.change else None,
        )
        for p in series.points
    ]
    return subscale_chart(
        points,
        title=f"{series.instrument_title[locale]}: {series.label[locale]}",
        y_min=series.y_min,
        y_max=series.y_max,
        higher_is_better=series.higher_is_better,
        labels=ChartLabels(
            improved=_("reliably better"),
            no_change=_("no reliable change"),
            deteriorated=_("reliably worse"),
            no_value=_("no value"),
            better=_("better"),
            decimal_mark="," if locale == "nl" else ".",
        ),
        chart_id=f"chart-{series.instrument_key}-{series.subscale_key}",
    )


def _phase_label(phase: str) -> str:
    names = {
        "baseline": _("Intake"),
        "interview": _("Interview"),
        "reflection": _("Reflection"),
        "consolidation": _("Consolidation"),
        "post": _("After six weeks"),
        "follow_up": _("After three months"),
    }
    return names.get(phase, phase)


def profile_svg(
    ratings: dict[str, Any], earlier: dict[str, Any] | None, locale: i18n.Locale
) -> Any:
    """The relationship profile of one coding (and an earlier one, to show the change)."""
    from app.coaching.charts import ProfileLabels, ProfileRow, profile_chart

    scheme = coding_scheme()
    rows = [
        ProfileRow(
            label=d.label.get(locale),
            value=ratings.get(d.key),
            min=d.min,
            max=d.max,
            earlier=(earlier or {}).get(d.key),
            favourable=d.higher_is_favourable,
        )
        for d in scheme.dimensions
    ]
    return profile_chart(
        rows,
        title=_("Relationship profile"),
        labels=ProfileLabels(
            not_rated=_("not rated"),
            earlier=_("earlier"),
            lower_is_favourable=_("lower is better"),
            decimal_mark="," if locale == "nl" else ".",
        ),
    )


@router.get("/coach/sessions/{session_id}/coding")
def coding_page(
    request: Request, session: SessionDep, actor: CoachActor, session_id: Id
) -> Response:
    reflection_session, trajectory = _assigned(session, actor, session_id)
    audit.record(
        session,
        actor=actor,
        action="narrative.view",
        request=request,
        role="coach",
        subject_user_id=trajectory.professional_id,
        detail=f"session={session_id}",
    )
    return _coding(request, session, actor, reflection_session, trajectory)


def _coding(
    request: Request,
    session: SessionDep,
    actor: Actor,
    reflection_session: ReflectionSession,
    trajectory: Trajectory,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    from app.programmes.loader import builtin_programme

    locale = i18n.get_locale()
    programme = builtin_programme(trajectory.programme_key, trajectory.programme_version)
    template = programme.session(reflection_session.template_key)
    mine = coding_service.coding_for(session, actor=actor, reflection_session=reflection_session)
    everyone = coding_service.session_codings(session, reflection_session=reflection_session)
    others = [c for c in everyone if c.coach_id != actor.id]
    earlier = [
        c
        for c in service.load_trajectory_view(session, trajectory=trajectory).codings
        if c.session_id != reflection_session.id and c.coach_id == actor.id
    ]
    scheme = coding_scheme()
    answers = coding_service.narrative_of(session, reflection_session)
    evidence = []
    if mine is not None:
        from sqlmodel import col, select

        from app.models import CodingEvidence

        evidence = list(
            session.exec(
                select(CodingEvidence)
                .where(CodingEvidence.coding_id == mine.id)
                .order_by(col(CodingEvidence.id))
            ).all()
        )
    context = {
        "trajectory": trajectory,
        "rsession": reflection_session,
        "session_template": template,
        "step_titles": {s.key: s.title.get(locale) for s in template.steps},
        "answers": answers,
        "scheme": scheme,
        "band": band,
        "mine": mine,
        "earlier": earlier[-1] if earlier else None,
        "profile_svg": profile_svg(mine.ratings, earlier[-1].ratings if earlier else None, locale)
        if mine and mine.ratings
        else None,
        "agreement": agreement_between(mine.ratings, others[0].ratings, scheme)
        if mine and others
        else None,
        "others": len(others),
        "evidence": evidence,
        "errors": errors or {},
        "values": values
        or ({f"rating-{k}": str(v) for k, v in mine.ratings.items()} if mine else {}),
        "locale": locale,
    }
    return render(request, "coaching/coding.html", context, status_code=status)


@router.post("/coach/sessions/{session_id}/coding")
def save_coding(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, session_id: Id
) -> Response:
    reflection_session, trajectory = _assigned(session, actor, session_id)
    try:
        coding_service.save_ratings(
            session,
            actor=actor,
            reflection_session=reflection_session,
            trajectory=trajectory,
            posted=form.values,
        )
    except InvalidInput as exc:
        return _coding(
            request,
            session,
            actor,
            reflection_session,
            trajectory,
            errors=exc.errors,
            values=form.values,
            status=422,
        )
    flash(request, _("Your ratings have been saved."))
    return redirect(request, f"/coach/sessions/{session_id}/coding")


@router.post("/coach/sessions/{session_id}/evidence")
def add_evidence(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, session_id: Id
) -> Response:
    reflection_session, trajectory = _assigned(session, actor, session_id)
    try:
        coding_service.add_evidence(
            session,
            actor=actor,
            reflection_session=reflection_session,
            trajectory=trajectory,
            step_key=form.get("step_key"),
            quote=form.get("quote"),
            note=form.get("note"),
            dimension=form.get("dimension"),
        )
    except InvalidInput as exc:
        return _coding(
            request,
            session,
            actor,
            reflection_session,
            trajectory,
            errors=exc.errors,
            values=form.values,
            status=422,
        )
    flash(request, _("The passage has been marked."))
    return redirect(request, f"/coach/sessions/{session_id}/coding#evidence")


@router.post("/coach/evidence/{evidence_id}/delete")
def delete_evidence(
    request: Request, session: SessionDep, actor: CoachActor, evidence_id: Id
) -> Response:
    from app.models import Coding

    evidence = coding_service.remove_evidence(session, actor=actor, evidence_id=evidence_id)
    coding = session.get(Coding, evidence.coding_id)
    flash(request, _("The passage is no longer marked."))
    return redirect(
        request, f"/coach/sessions/{coding.session_id if coding else 0}/coding#evidence"
    )


@router.post("/coach/sessions/{session_id}/release")
def release(request: Request, session: SessionDep, actor: CoachActor, session_id: Id) -> Response:
    reflection_session, trajectory = _assigned(session, actor, session_id)
    try:
        coding_service.release_profile(
            session, actor=actor, reflection_session=reflection_session, trajectory=trajectory
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(request, exc.message, "error")
    else:
        audit.record(
            session,
            actor=actor,
            action="profile.release",
            request=request,
            role="coach",
            subject_user_id=trajectory.professional_id,
            detail=f"session={session_id}",
        )
        flash(request, _("The profile is now visible to the professional."))
    return redirect(request, f"/coach/sessions/{session_id}/coding")


@router.post("/coach/sessions/{session_id}/reviewed")
def reviewed(request: Request, session: SessionDep, actor: CoachActor, session_id: Id) -> Response:
    reflection_session, trajectory = _assigned(session, actor, session_id)
    service.mark_reviewed(session, reflection_session=reflection_session)
    flash(request, _("Marked as read."))
    return redirect(request, f"/coach/trajectories/{trajectory.id}")


@router.post("/coach/trajectories/{trajectory_id}/feedback")
def feedback(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = session.get(Trajectory, trajectory_id)
    if (
        trajectory is None
        or trajectory.organisation_id != actor.organisation_id
        or not is_assigned_coach(session, actor, trajectory.professional_id)
    ):
        raise NotFound()
    target = form.get("target")
    session_id = whole_number(target[8:]) if target.startswith("session-") else None
    entry_id = whole_number(target[6:]) if target.startswith("diary-") else None
    try:
        service.give_feedback(
            session,
            actor=actor,
            trajectory=trajectory,
            text=form.get("feedback"),
            session_id=session_id,
            diary_entry_id=entry_id,
        )
    except InvalidInput as exc:
        view = service.load_trajectory_view(session, trajectory=trajectory)
        context = _trajectory_context(view, actor, "")
        context.update(errors=exc.errors, values=form.values)
        return render(request, "coaching/trajectory.html", context, status_code=422)
    audit.record(
        session,
        actor=actor,
        action="feedback.add",
        request=request,
        role="coach",
        subject_user_id=trajectory.professional_id,
        detail=f"trajectory={trajectory.id}",
    )
    flash(request, _("Your feedback has been sent. The professional gets a notification."))
    return redirect(request, f"/coach/trajectories/{trajectory_id}#feedback")


@router.post("/coach/trajectories/{trajectory_id}/summary")
def summary(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = session.get(Trajectory, trajectory_id)
    if (
        trajectory is None
        or trajectory.organisation_id != actor.organisation_id
        or not is_assigned_coach(session, actor, trajectory.professional_id)
    ):
        raise NotFound()
    try:
        service.save_summary(session, trajectory=trajectory, text=form.get("summary"))
    except InvalidInput as exc:
        view = service.load_trajectory_view(session, trajectory=trajectory)
        context = _trajectory_context(view, actor, "")
        context.update(errors=exc.errors, values=form.values)
        return render(request, "coaching/trajectory.html", context, status_code=422)
    flash(request, _("Your summary has been saved."))
    return redirect(request, f"/coach/trajectories/{trajectory_id}#summary")


@router.get("/notifications")
def notifications(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    items = recent(session, user_id=actor.id)
    return render(request, "coaching/notifications.html", {"items": items})


@router.post("/notifications/read")
def notifications_read(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    mark_read(session, user_id=actor.id)
    return redirect(request, "/notifications")
