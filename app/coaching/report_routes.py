"""The trajectory report: a print-friendly page and a PDF, in the professional's language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import audit, i18n
from app.coaching.report import TrajectoryReport, load_report
from app.coaching.report_pdf import report_pdf
from app.coaching.routes import _series_chart, coach_trajectory, profile_svg
from app.db import CommitInThreadRoute, SessionDep
from app.deps import Actor, CurrentActor, Id
from app.models import Trajectory, User
from app.reflection.policies import is_assigned_coach
from app.templating import render

router = APIRouter(route_class=CommitInThreadRoute)


def _readable(
    request: Request, session: SessionDep, actor: Actor, trajectory_id: int, reason: str
) -> tuple[Trajectory, str] | Response:
    """The trajectory and the actor's role in it: owner, assigned coach, or admin with a reason."""
    trajectory = session.get(Trajectory, trajectory_id)
    if (
        trajectory is not None
        and trajectory.organisation_id == actor.organisation_id
        and trajectory.professional_id == actor.id
    ):
        return trajectory, "professional"
    found = coach_trajectory(request, session, actor, trajectory_id, reason)
    if isinstance(found, Response):
        return found
    role = "coach" if is_assigned_coach(session, actor, found.professional_id) else "admin"
    return found, role


def _audit(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory: Trajectory,
    *,
    action: str,
    role: str,
    reason: str,
) -> None:
    detail = f"trajectory={trajectory.id}"
    if role == "admin":
        detail += f"; reason: {reason.strip()[:400]}"
    audit.record(
        session,
        actor=actor,
        action=action,
        request=request,
        role=role,
        subject_user_id=trajectory.professional_id,
        detail=detail,
    )


def _charts(report: TrajectoryReport) -> dict[str, Any]:
    profile = report.profile
    earlier = report.earlier_profile
    return {
        "charts": [(item, _series_chart(item.series, report.locale)) for item in report.subscales],
        "profile_chart": profile_svg(
            profile.ratings, earlier.ratings if earlier else None, report.locale
        )
        if profile is not None and profile.ratings
        else None,
    }


def _professional_locale(session: SessionDep, trajectory: Trajectory) -> str:
    professional = session.get(User, trajectory.professional_id)
    return professional.locale if professional is not None else "nl"


@router.get("/trajectories/{trajectory_id}/report")
def report_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id, reason: str = ""
) -> Response:
    found = _readable(request, session, actor, trajectory_id, reason)
    if isinstance(found, Response):
        return found
    trajectory, role = found
    _audit(request, session, actor, trajectory, action="report.view", role=role, reason=reason)
    with i18n.using_locale(_professional_locale(session, trajectory)):
        report = load_report(session, trajectory=trajectory, locale=i18n.get_locale())
        context = {"report": report, "view": report.view, "reason": reason, **_charts(report)}
        return render(request, "coaching/report.html", context)


@router.get("/trajectories/{trajectory_id}/report.pdf")
def report_download(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id, reason: str = ""
) -> Response:
    found = _readable(request, session, actor, trajectory_id, reason)
    if isinstance(found, Response):
        return found
    trajectory, role = found
    _audit(request, session, actor, trajectory, action="report.download", role=role, reason=reason)
    with i18n.using_locale(_professional_locale(session, trajectory)):
        report = load_report(session, trajectory=trajectory, locale=i18n.get_locale())
        content = report_pdf(report, **_charts(report))
    # No pseudonym in the file name: names of downloads end up in folders and mail.
    filename = f"dyade-report-{trajectory.id}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
