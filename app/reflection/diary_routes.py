"""Between sessions: the diary, the daily pulse and the experiment log.

The professional who owns the trajectory writes; the assigned coach may read the lists,
and every such read is audited. Anyone else gets 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit
from app.db import CommitInThreadRoute, SessionDep, db_only
from app.deps import Actor, CurrentActor, Id
from app.errors import InvalidInput
from app.forms import FormDep
from app.htmx import redirect
from app.i18n import gettext as _
from app.models import DiaryEntry, FocusRelationship, Trajectory, TrajectoryStatus
from app.questionnaires.service import Answers
from app.reflection import diary
from app.reflection.diary import DiaryForm
from app.reflection.policies import readable_trajectory
from app.templating import flash, render

router = APIRouter(route_class=CommitInThreadRoute)


def _audit_coach_read(
    request: Request, session: SessionDep, actor: Actor, trajectory: Trajectory, action: str
) -> None:
    if actor.id != trajectory.professional_id:
        audit.record(
            session,
            actor=actor,
            action=action,
            request=request,
            trajectory=trajectory,
            role="coach",
            detail=f"trajectory={trajectory.id}",
        )


def _base_context(
    actor: Actor, trajectory: Trajectory, relationship: FocusRelationship
) -> dict[str, Any]:
    is_owner = actor.id == trajectory.professional_id
    return {
        "trajectory": trajectory,
        "relationship": relationship,
        "is_owner": is_owner,
        "writable": is_owner and trajectory.status != TrajectoryStatus.archived,
        "today": diary.local_today(),
    }


# ---------------------------------------------------------------- diary


@router.get("/trajectories/{trajectory_id}/diary")
@db_only
def diary_list(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id
) -> Response:
    trajectory = readable_trajectory(session, actor, trajectory_id)
    _audit_coach_read(request, session, actor, trajectory, "diary.view")
    relationship = diary.relationship_of(session, trajectory)
    rows = diary.list_diary(session, trajectory=trajectory, relationship=relationship)
    context = {**_base_context(actor, trajectory, relationship), "rows": rows}
    return render(request, "reflection/diary_list.html", context)


def _diary_form_page(
    request: Request,
    actor: Actor,
    trajectory: Trajectory,
    relationship: FocusRelationship,
    form: DiaryForm,
    *,
    occurred_on: str,
    entry: DiaryEntry | None = None,
    status: int = 200,
) -> Response:
    context = {
        **_base_context(actor, trajectory, relationship),
        "form": form,
        "entry": entry,
        "occurred_on": occurred_on,
        "started_on": diary.started_on(trajectory),
        "action": f"/diary/{entry.id}" if entry else f"/trajectories/{trajectory.id}/diary",
    }
    return render(request, "reflection/diary_form.html", context, status_code=status)


@router.get("/trajectories/{trajectory_id}/diary/new")
@db_only
def new_diary_entry(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id
) -> Response:
    trajectory = diary.own_trajectory(session, actor, trajectory_id)
    relationship = diary.relationship_of(session, trajectory)
    form = diary.diary_form(relationship)
    today = diary.local_today().isoformat()
    return _diary_form_page(request, actor, trajectory, relationship, form, occurred_on=today)


@router.post("/trajectories/{trajectory_id}/diary")
@db_only
def create_diary_entry(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = diary.own_trajectory(session, actor, trajectory_id)
    relationship = diary.relationship_of(session, trajectory)
    try:
        diary.save_diary_entry(
            session,
            trajectory=trajectory,
            relationship=relationship,
            occurred_on=form.get("occurred_on"),
            posted=form.lists,
        )
    except diary.DiaryInvalid as exc:
        page = diary.diary_form(relationship, answers=exc.answers, date_problem=exc.date_problem)
        return _diary_form_page(
            request,
            actor,
            trajectory,
            relationship,
            page,
            occurred_on=form.get("occurred_on"),
            status=422,
        )
    flash(request, _("Your diary moment has been saved."))
    return redirect(request, f"/trajectories/{trajectory.id}/diary")


@router.get("/diary/{entry_id}/edit")
@db_only
def edit_diary_entry(
    request: Request, session: SessionDep, actor: CurrentActor, entry_id: Id
) -> Response:
    entry, trajectory = diary.own_entry(session, actor, entry_id)
    relationship = diary.relationship_of(session, trajectory)
    form = diary.diary_form(relationship, entry=entry)
    return _diary_form_page(
        request,
        actor,
        trajectory,
        relationship,
        form,
        occurred_on=entry.occurred_on.isoformat(),
        entry=entry,
    )


@router.post("/diary/{entry_id}")
@db_only
def update_diary_entry(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep, entry_id: Id
) -> Response:
    entry, trajectory = diary.own_entry(session, actor, entry_id)
    relationship = diary.relationship_of(session, trajectory)
    try:
        diary.save_diary_entry(
            session,
            trajectory=trajectory,
            relationship=relationship,
            occurred_on=form.get("occurred_on"),
            posted=form.lists,
            entry=entry,
        )
    except diary.DiaryInvalid as exc:
        page = diary.diary_form(
            relationship, entry=entry, answers=exc.answers, date_problem=exc.date_problem
        )
        return _diary_form_page(
            request,
            actor,
            trajectory,
            relationship,
            page,
            occurred_on=form.get("occurred_on"),
            entry=entry,
            status=422,
        )
    flash(request, _("Your changes have been saved."))
    return redirect(request, f"/trajectories/{trajectory.id}/diary")


@router.get("/diary/{entry_id}/delete")
@db_only
def confirm_delete_diary_entry(
    request: Request, session: SessionDep, actor: CurrentActor, entry_id: Id
) -> Response:
    entry, trajectory = diary.own_entry(session, actor, entry_id)
    relationship = diary.relationship_of(session, trajectory)
    context = {
        **_base_context(actor, trajectory, relationship),
        "row": diary.list_row(entry, relationship),
    }
    return render(request, "reflection/diary_delete.html", context)


@router.post("/diary/{entry_id}/delete")
@db_only
def delete_diary_entry(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep, entry_id: Id
) -> Response:
    entry, trajectory = diary.own_entry(session, actor, entry_id)
    if form.get("confirm") != "yes":
        # Only the confirmation page sends "confirm"; anything else goes there first.
        return redirect(request, f"/diary/{entry_id}/delete")
    diary.delete_diary_entry(session, trajectory=trajectory, entry=entry)
    flash(request, _("The diary moment has been deleted."))
    return redirect(request, f"/trajectories/{trajectory.id}/diary")


# ---------------------------------------------------------------- daily pulse


def _pulse_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory: Trajectory,
    *,
    answers: Answers | None = None,
    status: int = 200,
) -> Response:
    relationship = diary.relationship_of(session, trajectory)
    context = _base_context(actor, trajectory, relationship)
    today = context["today"]
    stored = diary.pulse_of_day(session, trajectory, today)
    form = None
    if context["writable"]:
        form = diary.pulse_form(relationship, stored=stored, answers=answers)
    context.update(
        {
            "form": form,
            "stored": stored,
            "days": diary.recent_pulses(session, trajectory=trajectory, today=today),
            "pulse_days": diary.PULSE_DAYS,
        }
    )
    return render(request, "reflection/pulse.html", context, status_code=status)


@router.get("/trajectories/{trajectory_id}/pulse")
@db_only
def pulse_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id
) -> Response:
    trajectory = readable_trajectory(session, actor, trajectory_id)
    _audit_coach_read(request, session, actor, trajectory, "pulse.view")
    return _pulse_page(request, session, actor, trajectory)


@router.post("/trajectories/{trajectory_id}/pulse")
@db_only
def save_pulse(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = diary.own_trajectory(session, actor, trajectory_id)
    relationship = diary.relationship_of(session, trajectory)
    try:
        diary.save_pulse(
            session,
            trajectory=trajectory,
            relationship=relationship,
            posted=form.lists,
            day=diary.local_today(),
        )
    except diary.PulseInvalid as exc:
        return _pulse_page(request, session, actor, trajectory, answers=exc.answers, status=422)
    flash(request, _("Today's check-in has been saved."))
    return redirect(request, f"/trajectories/{trajectory.id}/pulse")


# ---------------------------------------------------------------- experiment log


def _experiments_page(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory: Trajectory,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    relationship = diary.relationship_of(session, trajectory)
    context = _base_context(actor, trajectory, relationship)
    context.update(
        {
            "experiment": diary.chosen_experiment(session, trajectory=trajectory),
            "entries": diary.experiment_log(session, trajectory=trajectory),
            "values": {"occurred_on": context["today"].isoformat()} if values is None else values,
            "errors": errors or {},
            "how_it_went": diary.HOW_IT_WENT,
            "limit": diary.WHAT_I_DID_LIMIT,
            "started_on": diary.started_on(trajectory),
        }
    )
    return render(request, "reflection/experiments.html", context, status_code=status)


@router.get("/trajectories/{trajectory_id}/experiments")
@db_only
def experiments_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id
) -> Response:
    trajectory = readable_trajectory(session, actor, trajectory_id)
    _audit_coach_read(request, session, actor, trajectory, "experiments.view")
    return _experiments_page(request, session, actor, trajectory)


@router.post("/trajectories/{trajectory_id}/experiments")
@db_only
def log_experiment(
    request: Request, session: SessionDep, actor: CurrentActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = diary.own_trajectory(session, actor, trajectory_id)
    try:
        diary.log_experiment(session, trajectory=trajectory, values=form.values)
    except InvalidInput as exc:
        return _experiments_page(
            request, session, actor, trajectory, values=form.values, errors=exc.errors, status=422
        )
    flash(request, _("Saved in your experiment log."))
    return redirect(request, f"/trajectories/{trajectory.id}/experiments")
