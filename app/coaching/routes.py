"""The coach's pages: caseload, one whole trajectory, coding, feedback; notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from app import audit, i18n
from app.coaching import coding as coding_service
from app.coaching import service
from app.coaching.scheme import band, coding_scheme
from app.coaching.stats import agreement_between
from app.db import CommitInThreadRoute, SessionDep, db_only
from app.deps import Actor, CoachActor, CurrentActor, Id
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import FormDep, parse_id
from app.htmx import redirect
from app.i18n import N_
from app.i18n import gettext as _
from app.models import (
    FocusRelationship,
    ReflectionSession,
    Role,
    Trajectory,
    TrajectoryStatus,
    User,
)
from app.notify import mark_read, recent
from app.reflection.policies import (
    coached_trajectory,
    is_assigned_coach,
    readable_session,
    trajectory_for_coach,
)
from app.templating import flash, format_date, format_number, render

router = APIRouter(route_class=CommitInThreadRoute)
REASON_MIN = 10


@router.get("/coach")
@db_only
def caseload(
    request: Request,
    session: SessionDep,
    actor: CoachActor,
    sort: str = "attention",
    flag: str = "",
) -> Response:
    rows = service.sort_and_filter(service.caseload(session, actor=actor), sort=sort, flag=flag)
    # Status and attention flags come from each professional's own answers: the view is
    # recorded per person shown (added together, they go to the database as one INSERT).
    for professional_id in dict.fromkeys(row.professional.id for row in rows):
        audit.record(
            session,
            actor=actor,
            action="caseload.view",
            request=request,
            role="coach",
            subject_user_id=professional_id,
        )
    context = {"rows": rows, "sort": sort, "flag": flag, "flags": service.FLAGS}
    return render(request, "coaching/caseload.html", context, block="caseload_table")


def coach_trajectory(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory_id: int,
    reason: str = "",
    action: str = "trajectory.view",
) -> Trajectory | Response:
    """The trajectory for its assigned coach, or an admin who states a reason; else 404.

    The read is audited as `action`; an admin's reason goes with it.
    """
    found = _access(request, session, actor, trajectory_id, reason, action)
    return found if isinstance(found, Response) else found.trajectory


@dataclass(frozen=True)
class _Access:
    """A granted view of a trajectory, with the rows the access check read along with it."""

    trajectory: Trajectory
    role: str  # "coach" or "admin"
    relationship: FocusRelationship
    professional: User


def _access(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory_id: int,
    reason: str,
    action: str = "trajectory.view",
) -> _Access | Response:
    """As coach_trajectory, with the role the access was granted in: "coach" or "admin"."""
    trajectory, relationship, professional, assigned = trajectory_for_coach(
        session, actor, trajectory_id
    )
    if trajectory.status == TrajectoryStatus.stopped and actor.id != trajectory.professional_id:
        raise NotFound()  # consent withdrawn: the coach may no longer read it
    if assigned:
        role = "coach"
    elif not actor.has(Role.admin):
        raise NotFound()
    elif len(reason.strip()) < REASON_MIN:
        context = {
            "trajectory_id": trajectory_id,
            "reason": reason[:500],
            "too_short": bool(reason),
        }
        return render(request, "coaching/reason.html", context, status_code=200)
    else:
        role = "admin"
    audit.record(
        session,
        actor=actor,
        action=action,
        request=request,
        role=role,
        trajectory=trajectory,
        relationship=relationship,
        reason=reason if role == "admin" else "",
        detail=f"trajectory={trajectory.id}",
    )
    return _Access(trajectory, role, relationship, professional)


def _audit_change(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory: Trajectory,
    action: str,
    detail: str,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        request=request,
        role="coach",
        trajectory=trajectory,
        detail=detail,
    )


def _assigned(
    session: SessionDep, actor: Actor, session_id: int
) -> tuple[ReflectionSession, Trajectory]:
    reflection_session, trajectory = readable_session(session, actor, session_id)
    if not is_assigned_coach(session, actor, trajectory.professional_id):
        raise NotFound()
    return reflection_session, trajectory


@router.get("/coach/trajectories/{trajectory_id}")
@db_only
def trajectory_page(
    request: Request, session: SessionDep, actor: CurrentActor, trajectory_id: Id, reason: str = ""
) -> Response:
    found = _access(request, session, actor, trajectory_id, reason)
    if isinstance(found, Response):
        return found
    view = service.load_trajectory_view(
        session, trajectory=found.trajectory, people=(found.professional, found.relationship)
    )
    context = _trajectory_context(view, actor, reason, is_coach=found.role == "coach")
    return render(request, "coaching/trajectory.html", context)


def _refused(
    request: Request,
    session: SessionDep,
    actor: Actor,
    trajectory: Trajectory,
    values: Mapping[str, Any],
    exc: InvalidInput,
) -> Response:
    """The trajectory page again with what the coach sent and what is wrong with it."""
    view = service.load_trajectory_view(session, trajectory=trajectory)
    context = _trajectory_context(view, actor, "", values=values)
    context["errors"] = exc.errors
    return render(request, "coaching/trajectory.html", context, status_code=422)


def _trajectory_context(
    view: service.TrajectoryView,
    actor: Actor,
    reason: str,
    *,
    is_coach: bool = True,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The page's context; `values` are what a form with errors sent back, to show again."""
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
    charts = [(series, _series_chart(series, locale, short_title=True)) for series in view.series]
    names = _fixed_names()
    provisional = i18n.markup(N_("provisional"))
    chart_groups: dict[str, list[Any]] = {}
    for series, svg in charts:
        rows = _table_rows(series, names, provisional)
        chart_groups.setdefault(series.instrument_title[locale], []).append((series, svg, rows))
    session_title = {key: t.title.get(locale) for key, t in templates.items()}
    step_titles = {
        (t.key, step.key): step.title.get(locale)
        for t in view.programme.sessions
        for step in t.steps
    }
    return {
        "view": view,
        "charts": charts,
        # One heading per questionnaire; each chart then names only its scale, so the
        # titles fit the chart instead of being cut off.
        "chart_groups": list(chart_groups.items()),
        "locale": locale,
        "templates": templates,
        # Looked up per narrative column and answer: no method call per row.
        "session_title": session_title,
        "scheme": scheme,
        "codings_by_session": codings_by_session,
        "agreements": agreements,
        "feedback_targets": service.feedback_targets(
            None,  # no query: the view holds the sessions and the diary already
            feedback=view.feedback,
            sessions=view.sessions,
            programme=view.programme,
            locale=locale,
            diary=view.diary,
        ),
        # An admin reading for a stated reason reads only: no coding, feedback or links
        # into the professional's own pages (those answer 404 to anyone but the coach).
        "is_coach": is_coach,
        "reason": reason,
        "step_titles": step_titles,
        "narratives": _narratives(view, templates, step_titles, session_title),
        # The words of labels.phase, .change and .session_status, looked up per table row
        # instead of a macro call per row (hundreds on a long trajectory).
        "phase_names": names["phase"],
        "timeline": _timeline(view, templates, locale),
        # The diary moments newest first (the list and the feedback form's choices are the
        # page's longest loops).
        "diary_moments": _diary_moments(view),
        "diary_choices": _diary_choices(view, (values or {}).get("target")),
        "emotion_names": names["emotion"],
        # Called by the template, which has the phases already (view.diary_by_phase).
        "diary_phase_rows": lambda phases: _diary_phase_rows(phases, names),
        "experiment_items": _experiment_items(view),
        "values": values or {},
        "change_names": names["change"],
        "status_names": names["session_status"],
    }


class _Names(dict[str, Markup]):
    """Translated names of fixed values; an unknown value is shown as itself, as the label
    macros do (or as `fallback`, for labels.change)."""

    def __init__(self, names: dict[str, Markup], fallback: Markup | None = None) -> None:
        super().__init__(names)
        self.fallback = fallback

    def __missing__(self, key: str) -> Markup | str:
        return key if self.fallback is None else self.fallback


def _timeline(view: service.TrajectoryView, templates: dict[str, Any], locale: str) -> Markup:
    """The timeline's items (what happened, in order), as the template wrote them."""
    rows = []
    # A long diary repeats the same few feelings and dates: each text is made once.
    texts: dict[tuple[str, object], Markup] = {}
    dates: dict[object, Markup] = {}
    for when, kind, item in view.timeline():
        if kind in ("session", "session_started"):
            key: tuple[str, object] = (kind, item.template_key)
        elif kind == "diary":
            valence = item.values.get("valence")
            # As the template's `is number` and `"%+d"|format` (JSON holds no other numbers).
            key = (kind, "%+d" % valence if isinstance(valence, int | float) else "?")  # noqa: UP031
        else:
            key = (kind, item.how_it_went)
        text = texts.get(key)
        if text is None:
            text = texts[key] = _timeline_text(key, templates, locale)
        shown = dates.get(when)
        if shown is None:
            shown = dates[when] = escape(format_date(when, "medium"))
        rows.append(
            f'<li class="timeline-{kind}">\n  <span class="when">{shown}</span>\n  {text}\n</li>'
        )
    return Markup("\n".join(rows))  # noqa: S704 - every value above is escaped # nosec B704


class _Narratives(NamedTuple):
    side_by_side: Markup  # the prompts answered in more than one session, side by side
    by_session: dict[int, Markup]  # each session's answers


def _narratives(
    view: service.TrajectoryView,
    templates: dict[str, Any],
    step_titles: dict[tuple[str, str], str],
    session_title: dict[str, str],
) -> _Narratives:
    """The narratives section's answers, as the template wrote them (the page's longest text)."""
    columns = []
    for step_key, pairs in view.repeated_steps():
        title = step_titles.get((pairs[0][0].template_key, step_key), step_key)
        cells = "\n".join(
            '<div class="column">\n'
            f"  <h5>{escape(session_title[owner.template_key])}</h5>\n"
            f'  {_words(answer)}<div class="answer-text">{escape(answer.text)}</div>\n'
            "</div>"
            for owner, answer in pairs
        )
        columns.append(
            f'<div class="side-by-side">\n  <h4>{escape(title)}</h4>\n'
            f'  <div class="columns">\n{cells}\n  </div>\n</div>'
        )
    # The messages outside the f-strings, where Babel finds them.
    by_coach_word, draft_word = i18n.markup(N_("typed by the coach")), i18n.markup(N_("draft"))
    by_coach = f' <span class="tag">{by_coach_word}</span>'
    draft = f' <span class="tag">{draft_word}</span>'
    answer_of: dict[tuple[int | None, str], Any] = {
        (answer.session_id, answer.step_key): answer for answer in view.answers
    }
    by_session = {}
    for s in view.sessions:
        blocks = []
        for step in templates[s.template_key].steps:
            answer = answer_of.get((s.id, step.key))
            if answer is None or step.type in ("instrument", "consent"):
                continue
            tags = (by_coach if answer.coach_entered else "") + (
                "" if answer.submitted_at else draft
            )
            blocks.append(
                '<div class="answer">\n'
                f"  <h4>{escape(step_titles[(s.template_key, step.key)])}{tags}</h4>\n"
                f'  {_words(answer)}<div class="answer-text">{escape(answer.text)}</div>\n'
                "</div>"
            )
        if blocks and s.id is not None:
            by_session[s.id] = Markup("\n".join(blocks))  # noqa: S704 - escaped above # nosec B704
    side_by_side = Markup("\n".join(columns))  # noqa: S704 - escaped above # nosec B704
    return _Narratives(side_by_side, by_session)


def _words(answer: Any) -> str:
    """An answer's three words, if it has any (empty ones left out)."""
    if not answer.words:
        return ""
    spans = "".join(f'<span class="word">{escape(w)}</span>' for w in answer.words if w)
    return f"<p>{spans}</p>"


def _timeline_text(key: tuple[str, object], templates: dict[str, Any], locale: str) -> Markup:
    kind, value = key
    if kind in ("session", "session_started"):
        title = templates[str(value)].title.get(locale)
        message = N_("Finished: %(title)s") if kind == "session" else N_("Started: %(title)s")
        return i18n.markup(message, title=title)
    if kind == "diary":
        return i18n.markup(N_("Diary moment (feeling %(valence)s)"), valence=value)
    return i18n.markup(N_("Experiment tried (went %(score)s of 5)"), score=value)


def _diary_moments(view: service.TrajectoryView) -> Markup:
    """The diary list's items, newest first: when, what happened, what the child felt."""
    child_felt_label = i18n.markup(N_("What the child may have felt:"))
    rows = []
    for entry in reversed(view.diary):
        what_happened = entry.values.get("what_happened")
        child_felt = entry.values.get("child_felt")
        when = escape(format_date(entry.occurred_on, "medium"))
        parts = [f'<li><span class="when">{when}</span>']
        if what_happened:
            parts.append(f'  <div class="answer-text">{escape(what_happened)}</div>')
        if child_felt:
            parts.append(
                f'  <div class="answer-text"><em>{child_felt_label}</em> {escape(child_felt)}</div>'
            )
        rows.append("\n".join([*parts, "</li>"]))
    return Markup("\n".join(rows))  # noqa: S704 - every value above is escaped # nosec B704


def _diary_choices(view: service.TrajectoryView, chosen: object) -> Markup:
    """The feedback form's options for the diary moments, newest first."""
    options = []
    # Diary moments share dates: each date's label is made once.
    labels: dict[object, Markup] = {}
    for entry in reversed(view.diary):
        value = f"diary-{entry.id}"
        label = labels.get(entry.occurred_on)
        if label is None:
            label = labels[entry.occurred_on] = i18n.markup(
                N_("Diary moment of %(date)s"), date=format_date(entry.occurred_on, "medium")
            )
        selected = " selected" if chosen == value else ""
        options.append(f'<option value="{value}"{selected}>{label}</option>')
    return Markup("".join(options))  # noqa: S704 - every value above is escaped # nosec B704


def _diary_phase_rows(phases: list[service.DiaryPhaseSummary], names: dict[str, _Names]) -> Markup:
    """The rows of the diary table: per phase the moments, the mean feeling and the shares."""
    moments = i18n.markup(N_("Moments"))
    mean = i18n.markup(N_("Average feeling (−3 to +3)"))
    masked = i18n.markup(N_("Hidden or faked feelings"))
    emotions = names["emotion"]
    rows = []
    for p in phases:
        shares = "".join(
            f'<td data-label="{name}">{p.emotion_share[key] * 100:.0f}%</td>'
            for key, name in emotions.items()
        )
        rows.append(
            f"<tr><td>{escape(names['phase'][p.phase])}</td>"
            f'<td data-label="{moments}">{p.count}</td>'
            f'<td data-label="{mean}">{format_number(p.mean_valence, 1, True)}</td>\n'
            f"  {shares}\n"
            f'  <td data-label="{masked}">{p.hidden_or_faked_share * 100:.0f}%</td></tr>'
        )
    return Markup("\n".join(rows))  # noqa: S704 - every value above is escaped # nosec B704


def _experiment_items(view: service.TrajectoryView) -> Markup:
    """The experiment log's items, oldest first: when, how it went, what was tried."""
    items = []
    for e in view.experiments:
        when = escape(format_date(e.occurred_on, "medium"))
        went = i18n.markup(N_("went %(score)s of 5"), score=e.how_it_went)
        items.append(
            f'<li><span class="when">{when}</span> — {went}'
            f'<div class="answer-text">{escape(e.what_i_did)}</div></li>'
        )
    return Markup("\n".join(items))  # noqa: S704 - every value above is escaped # nosec B704


def _table_rows(
    series: service.SubscaleSeries, names: dict[str, _Names], provisional: Markup
) -> Markup:
    """The rows of a chart's data table (phase, score, change since intake)."""
    phases, changes = names["phase"], names["change"]
    rows = []
    for p in series.points:
        change: Markup | str = "–"
        if p.change:
            extra = f", {provisional}" if p.change.provisional else ""
            name = escape(changes[p.change.classification.value])
            change = f"{name} (RC {format_number(p.change.rc, 2)}{extra})"
        rows.append(
            f"<tr><td>{escape(phases[p.phase])}</td><td>{format_number(p.value)}</td>\n"
            f"  <td>{change}</td></tr>"
        )
    return Markup("\n".join(rows))  # noqa: S704 - every value above is escaped # nosec B704


def _fixed_names() -> dict[str, _Names]:
    """The same names as macros/labels.html gives, in the current locale."""
    no_change = i18n.markup(N_("no reliable change"))
    return {
        "phase": _Names(
            {
                "baseline": i18n.markup(N_("Intake")),
                "interview": i18n.markup(N_("Interview")),
                "reflection": i18n.markup(N_("Reflection")),
                "consolidation": i18n.markup(N_("Consolidation")),
                "post": i18n.markup(N_("After six weeks")),
                "follow_up": i18n.markup(N_("After three months")),
            }
        ),
        "change": _Names(
            {
                "reliably_improved": i18n.markup(N_("reliably better")),
                "reliably_deteriorated": i18n.markup(N_("reliably worse")),
            },
            fallback=no_change,
        ),
        "emotion": _Names(
            {
                "anger": i18n.markup(N_("Anger")),
                "helplessness": i18n.markup(N_("Helplessness")),
                "anxiety": i18n.markup(N_("Unease or anxiety")),
                "joy": i18n.markup(N_("Joy")),
                "guilt": i18n.markup(N_("Guilt")),
                "pride": i18n.markup(N_("Pride")),
            }
        ),
        "session_status": _Names(
            {
                "locked": i18n.markup(N_("Later")),
                "waiting": i18n.markup(N_("Waiting for your coach")),
                "open": i18n.markup(N_("Ready to start")),
                "in_progress": i18n.markup(N_("Started")),
                "completed": i18n.markup(N_("Finished")),
                "reviewed": i18n.markup(N_("Finished and read by your coach")),
                "skipped": i18n.markup(N_("Skipped")),
            }
        ),
    }


def _series_chart(
    series: service.SubscaleSeries, locale: i18n.Locale, *, short_title: bool = False
) -> Any:
    from app.coaching.charts import ChartPoint, subscale_chart

    labels, phases = _chart_words(locale, i18n.get_locale())
    points = [
        ChartPoint(
            label=phases.get(p.phase, p.phase),
            value=p.value,
            change=p.change.classification if p.change else None,
        )
        for p in series.points
    ]
    return subscale_chart(
        points,
        title=series.label[locale]
        if short_title
        else f"{series.instrument_title[locale]}: {series.label[locale]}",
        y_min=series.y_min,
        y_max=series.y_max,
        higher_is_better=series.higher_is_better,
        labels=labels,
        chart_id=f"chart-{series.instrument_key}-{series.subscale_key}",
    )


@lru_cache(maxsize=8)
def _chart_words(locale: i18n.Locale, current: str) -> tuple[Any, dict[str, str]]:
    """The words every score chart shows, and the phase names: fixed texts from the
    catalogue (read once per process), in the `current` locale, with `locale`'s decimal
    mark (a report may be drawn in the professional's language)."""
    from app.coaching.charts import ChartLabels

    labels = ChartLabels(
        improved=_("reliably better"),
        no_change=_("no reliable change"),
        deteriorated=_("reliably worse"),
        no_value=_("no value"),
        better=_("better"),
        decimal_mark="," if locale == "nl" else ".",
    )
    return labels, _phase_names()


def _phase_names() -> dict[str, str]:
    return {
        "baseline": _("Intake"),
        "interview": _("Interview"),
        "reflection": _("Reflection"),
        "consolidation": _("Consolidation"),
        "post": _("After six weeks"),
        "follow_up": _("After three months"),
    }


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
@db_only
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
        trajectory=trajectory,
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
    # In the order of the interview, also when steps were answered in another order.
    order = {step.key: index for index, step in enumerate(template.steps)}
    answers = sorted(
        coding_service.narrative_of(session, reflection_session),
        key=lambda a: order.get(a.step_key, len(order)),
    )
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
    _audit_change(request, session, actor, trajectory, "coding.save", f"session={session_id}")
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
    _audit_change(
        request, session, actor, trajectory, "coding.evidence_add", f"session={session_id}"
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
    trajectory = session.get(Trajectory, coding.trajectory_id) if coding else None
    if trajectory is not None:
        detail = f"evidence={evidence_id}"
        _audit_change(request, session, actor, trajectory, "coding.evidence_remove", detail)
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
            trajectory=trajectory,
            detail=f"session={session_id}",
        )
        flash(request, _("The profile is now visible to the professional."))
    return redirect(request, f"/coach/sessions/{session_id}/coding")


@router.post("/coach/sessions/{session_id}/reviewed")
def reviewed(request: Request, session: SessionDep, actor: CoachActor, session_id: Id) -> Response:
    reflection_session, trajectory = _assigned(session, actor, session_id)
    service.mark_reviewed(session, reflection_session=reflection_session)
    _audit_change(request, session, actor, trajectory, "session.reviewed", f"session={session_id}")
    flash(request, _("Marked as read."))
    return redirect(request, f"/coach/trajectories/{trajectory.id}")


@router.post("/coach/trajectories/{trajectory_id}/feedback")
def feedback(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = coached_trajectory(session, actor, trajectory_id)
    target = form.get("target")
    session_id = parse_id(target[8:]) if target.startswith("session-") else None
    entry_id = parse_id(target[6:]) if target.startswith("diary-") else None
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
        return _refused(request, session, actor, trajectory, form.values, exc)
    audit.record(
        session,
        actor=actor,
        action="feedback.add",
        request=request,
        role="coach",
        trajectory=trajectory,
        detail=f"trajectory={trajectory.id}",
    )
    flash(request, _("Your feedback has been sent. The professional gets a notification."))
    return redirect(request, f"/coach/trajectories/{trajectory_id}#feedback")


@router.post("/coach/trajectories/{trajectory_id}/schedule")
def schedule(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, trajectory_id: Id
) -> Response:
    from app.models import utcnow
    from app.reminders.scheduling import parse_appointment, schedule_session

    trajectory = coached_trajectory(session, actor, trajectory_id)
    chosen = form.get("schedule_session")
    target = session.get(ReflectionSession, int(chosen)) if chosen.isdigit() else None
    try:
        if target is None or target.trajectory_id != trajectory.id:
            raise InvalidInput({"schedule_session": _("Choose a session that is not finished.")})
        clear = form.get("action") == "clear"
        starts = (
            None
            if clear
            else parse_appointment(
                form.get("schedule_date"), form.get("schedule_time"), now=utcnow()
            )
        )
        outcome = schedule_session(
            session, actor=actor, trajectory=trajectory, reflection_session=target, starts=starts
        )
    except InvalidInput as exc:
        return _refused(request, session, actor, trajectory, form.values, exc)
    messages = {
        "scheduled": _("The session is planned. You and the professional get a calendar invite."),
        "moved": _("The session has moved. You and the professional get an updated invite."),
        "cancelled": _("The appointment is cancelled. You and the professional get a message."),
        "unchanged": _("Nothing changed: the session was already planned at that moment."),
    }
    flash(request, messages[outcome])
    return redirect(request, f"/coach/trajectories/{trajectory_id}#timeline")


@router.post("/coach/trajectories/{trajectory_id}/summary")
def summary(
    request: Request, session: SessionDep, actor: CoachActor, form: FormDep, trajectory_id: Id
) -> Response:
    trajectory = coached_trajectory(session, actor, trajectory_id)
    try:
        service.save_summary(session, trajectory=trajectory, text=form.get("summary"))
    except InvalidInput as exc:
        return _refused(request, session, actor, trajectory, form.values, exc)
    _audit_change(
        request, session, actor, trajectory, "summary.save", f"trajectory={trajectory.id}"
    )
    flash(request, _("Your summary has been saved."))
    return redirect(request, f"/coach/trajectories/{trajectory_id}#summary")


@router.get("/notifications")
@db_only
def notifications(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    items = recent(session, user_id=actor.id)
    return render(request, "coaching/notifications.html", {"items": items})


@router.post("/notifications/read")
def notifications_read(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    mark_read(session, user_id=actor.id)
    return redirect(request, "/notifications")
