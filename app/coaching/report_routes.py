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
from app.templating import render

router = APIRouter(route_class=CommitInThreadRoute)


def _readable(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory_id: int,
    reason: str,
    action: str,
) -> Trajectory | Response:
    """The trajectory for its owner, its assigned coach, or an admin with a reason.

    Every read is audited as `action`, the owner's too: a report is an export.
    """
    trajectory = session.get(Trajectory, trajectory_id)
    if (
        trajectory is not None
        and trajectory.organisation_id == actor.organisation_id
        and trajectory.professional_id == actor.id
    ):
        audit.record(
            session,
            actor=actor,
            action=action,
            request=request,
            role="professional",
            trajectory=trajectory,
            detail=f"trajectory={trajectory.id}",
        )
        return trajectory
    return coach_trajectory(request, session, actor, trajectory_id, reason, action=action)


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
    trajectory = _readable(request, session, actor, trajectory_id, reason, "report.view")
    if isinstance(trajectory, Response):
        return trajectory
    with i18n.using_locale(_professional_locale(session, trajectory)):
        report = load_report(session, trajectory=trajectory, locale=i18n.get_locale())
        context = {"report": report, "view": report.view, "reason": reason, **_charts(report)}
        return render(request, "coaching/report.html", context)


@router.get("/trajectories/{trajectory_id}/report.pdf")
def report_download(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id, reason: str = ""
) -> Response:
    trajectory = _readable(request, session, actor, trajectory_id, reason, "report.download")
    if isinstance(trajectory, Response):
        return trajectory
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
