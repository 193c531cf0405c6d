"""'What changed': three words then and now, subscale change since intake, the diary per phase."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.instruments.loader import builtin_definition
from app.instruments.reliable_change import ChangeClass, ReliableChange, reliable_change
from app.models import (
    DiaryEntry,
    InstrumentResponse,
    NarrativeAnswer,
    ReflectionSession,
    Trajectory,
)
from app.programmes.schema import ProgrammeDefinition
from app.reflection.baselines import Parameters, organisation_parameters


@dataclass
class SubscaleChange:
    instrument_key: str
    instrument_title: str
    subscale_key: str
    label: str
    higher_is_better: bool
    baseline: float | None
    latest: float | None
    latest_phase: str
    change: ReliableChange | None

    @property
    def difference(self) -> float | None:
        if self.baseline is None or self.latest is None:
            return None
        return self.latest - self.baseline

    @property
    def reading(self) -> str:
        """The change in plain words."""
        if self.latest is None:
            return _("Only one measurement so far; the change shows after the next one.")
        if self.change is None:
            return _("There is not enough reference data yet to judge this change.")
        if self.change.classification is ChangeClass.IMPROVED:
            text = _("A reliable improvement: larger than measurement noise alone explains.")
        elif self.change.classification is ChangeClass.DETERIORATED:
            text = _(
                "A reliable change for the worse: larger than measurement noise alone "
                "explains. Worth talking about with your coach."
            )
        else:
            text = _(
                "No reliable change: the difference is within what measurement noise can cause."
            )
        if self.change.provisional:
            text += " " + _("(Based on provisional reference values.)")
        return text


@dataclass
class ThreeWords:
    session_title: str
    phase: str
    words: list[str]


@dataclass
class DiaryPhase:
    phase: str
    count: int
    mean_valence: float | None


@dataclass
class WhatChanged:
    three_words: list[ThreeWords] = field(default_factory=list)
    changes: list[SubscaleChange] = field(default_factory=list)
    diary: list[DiaryPhase] = field(default_factory=list)


def what_changed(
    session: Session, *, trajectory: Trajectory, programme: ProgrammeDefinition, locale: str
) -> WhatChanged:
    """Everything the professional sees after a session, in a fixed number of queries."""
    result = WhatChanged()
    sessions = {
        s.id: s
        for s in session.exec(
            select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory.id)
        ).all()
    }
    titles = {t.key: t.title.get(locale) for t in programme.sessions}  # type: ignore[arg-type]
    three_word_steps = {
        (t.key, step.key)
        for t in programme.sessions
        for step in t.steps
        if step.type == "three_words"
    }
    answers = session.exec(
        select(NarrativeAnswer).where(col(NarrativeAnswer.session_id).in_(list(sessions)))
    ).all()
    for answer in sorted(answers, key=lambda a: sessions[a.session_id].position):
        owner = sessions[answer.session_id]
        if (owner.template_key, answer.step_key) in three_word_steps and answer.submitted_at:
            result.three_words.append(
                ThreeWords(titles[owner.template_key], owner.phase, [w for w in answer.words if w])
            )
    responses = session.exec(
        select(InstrumentResponse).where(
            InstrumentResponse.trajectory_id == trajectory.id,
            col(InstrumentResponse.completed_at).is_not(None),
        )
    ).all()
    by_instrument: dict[str, list[InstrumentResponse]] = defaultdict(list)
    for response in sorted(responses, key=lambda r: sessions[r.session_id].position):
        by_instrument[response.instrument_key].append(response)
    organisation = organisation_parameters(
        session,
        organisation_id=trajectory.organisation_id,
        pairs=[(key, _first(series).instrument_version) for key, series in by_instrument.items()],
    )
    for key, series in by_instrument.items():
        result.changes.extend(_instrument_changes(organisation, key, series, locale))
    for phase, count, mean in session.exec(
        select(DiaryEntry.phase, func.count(), func.avg(_valence()))
        .where(DiaryEntry.trajectory_id == trajectory.id)
        .group_by(col(DiaryEntry.phase))
    ).all():
        result.diary.append(
            DiaryPhase(phase, int(count), float(mean) if mean is not None else None)
        )
    order: dict[str, int] = {p.phase: i for i, p in enumerate(programme.sessions)}
    result.diary.sort(key=lambda d: order.get(d.phase, 99))
    return result


def _valence() -> Any:
    column: Any = DiaryEntry.values
    return column["valence"].as_integer()


def _first(series: list[InstrumentResponse]) -> InstrumentResponse:
    """The measurement later ones are compared with: the intake's, else the earliest."""
    return next((r for r in series if r.phase == "baseline"), series[0])


def _instrument_changes(
    organisation: dict[tuple[str, int], Parameters],
    key: str,
    series: list[InstrumentResponse],
    locale: str,
) -> list[SubscaleChange]:
    first = _first(series)
    later = [r for r in series if r is not first]
    last = later[-1] if later else None
    definition = builtin_definition(key, first.instrument_version)
    changes = []
    for subscale in definition.subscales:
        pre = first.scores.get(subscale.key)
        post = last.scores.get(subscale.key) if last else None
        change = None
        if pre is not None and post is not None:
            parameters = organisation[(key, first.instrument_version)][subscale.key]
            if parameters is not None:
                change = reliable_change(
                    pre, post, parameters, higher_is_better=subscale.higher_is_better
                )
        changes.append(
            SubscaleChange(
                instrument_key=key,
                instrument_title=definition.title.get(locale),  # type: ignore[arg-type]
                subscale_key=subscale.key,
                label=subscale.label.get(locale),  # type: ignore[arg-type]
                higher_is_better=subscale.higher_is_better,
                baseline=pre,
                latest=post,
                latest_phase=last.phase if last else first.phase,
                change=change,
            )
        )
    return changes
