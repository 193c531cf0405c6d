"""The trajectory report: scores, three words, the released profile, the coach's summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from app.coaching.coding import released_profiles
from app.coaching.service import (
    DiaryPhaseSummary,
    SubscaleSeries,
    TrajectoryView,
    load_trajectory_view,
)
from app.i18n import Locale
from app.models import Coding, Trajectory
from app.reflection.changes import SubscaleChange, ThreeWords


@dataclass
class SubscaleReport:
    series: SubscaleSeries
    change: SubscaleChange


@dataclass
class TrajectoryReport:
    view: TrajectoryView
    locale: Locale
    programme_title: str
    started_on: date
    completed_on: date | None
    last_session_on: date | None
    subscales: list[SubscaleReport]
    three_words: list[ThreeWords]
    diary: list[DiaryPhaseSummary]
    profile: Coding | None
    earlier_profile: Coding | None

    @property
    def session_titles(self) -> dict[str, str]:
        return {t.key: t.title.get(self.locale) for t in self.view.programme.sessions}


def load_report(session: Session, *, trajectory: Trajectory, locale: Locale) -> TrajectoryReport:
    """Everything in the report; only profiles released to the professional are included."""
    # The view's series already judge change with the organisation's own baseline data.
    view = load_trajectory_view(session, trajectory=trajectory)
    profiles = released_profiles(session, trajectory=trajectory)
    latest = profiles[-1] if profiles else None
    earlier = next(
        (c for c in reversed(profiles) if latest and c.session_id != latest.session_id), None
    )
    completed = [s.completed_at for s in view.sessions if s.completed_at]
    return TrajectoryReport(
        view=view,
        locale=locale,
        programme_title=view.programme.title.get(locale),
        started_on=trajectory.created_at.date(),
        completed_on=trajectory.completed_at.date() if trajectory.completed_at else None,
        last_session_on=max(completed).date() if completed else None,
        subscales=[SubscaleReport(s, _change(s, locale)) for s in view.series if s.points],
        three_words=_three_words(view, locale),
        diary=view.diary_by_phase(),
        profile=latest,
        earlier_profile=earlier,
    )


def _change(series: SubscaleSeries, locale: Locale) -> SubscaleChange:
    first, last = series.points[0], series.points[-1]
    later = len(series.points) > 1
    return SubscaleChange(
        instrument_key=series.instrument_key,
        instrument_title=series.instrument_title[locale],
        subscale_key=series.subscale_key,
        label=series.label[locale],
        higher_is_better=series.higher_is_better,
        baseline=first.value,
        latest=last.value if later else None,
        latest_phase=last.phase,
        change=last.change if later else None,
    )


def _three_words(view: TrajectoryView, locale: Locale) -> list[ThreeWords]:
    steps = {
        (t.key, step.key)
        for t in view.programme.sessions
        for step in t.steps
        if step.type == "three_words"
    }
    titles = {t.key: t.title.get(locale) for t in view.programme.sessions}
    by_session = {s.id: s for s in view.sessions}
    found = []
    for answer in view.answers:
        owner = by_session[answer.session_id]
        if (owner.template_key, answer.step_key) in steps and answer.submitted_at:
            words = [w for w in answer.words if w]
            if words:
                found.append(
                    (owner.position, ThreeWords(titles[owner.template_key], owner.phase, words))
                )
    return [words for _position, words in sorted(found, key=lambda pair: pair[0])]
