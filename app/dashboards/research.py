"""The admin's research export: pseudonymised item-level answers, consenting trajectories only.

What leaves Dyade: for every completed questionnaire response of a trajectory whose
professional consented to research use, an opaque participant id and trajectory id, the
sector and age band of the focus relationship, the session, phase and days since the
trajectory started, the instrument and its version, and the raw item answers. Never a
name, an email address, the child's pseudonym, a setting, a date or any typed text.

The ids are HMACs of the database ids under a key derived from the installation's secret
key, per organisation: the same person gets the same id in every export (so exports can
be joined over time), nobody can compute an id from a database id without the key, and
two organisations' ids cannot be linked.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import case, distinct, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from app.config import get_settings
from app.deps import Actor
from app.i18n import get_locale
from app.i18n import gettext as _
from app.instruments.loader import builtin_definition
from app.instruments.schema import InstrumentDefinition, render_text
from app.models import FocusRelationship, InstrumentResponse, ReflectionSession, Trajectory

#: The columns before the item answers, in order.
ID_COLUMNS: Final = (
    "participant",
    "trajectory",
    "sector",
    "age_band",
    "session",
    "phase",
    "day",
    "instrument",
    "version",
)


@dataclass(frozen=True)
class ResearchExport:
    """Rows of the export (one per completed response) and what the columns mean."""

    columns: list[str]
    rows: list[list[Any]]
    labels: dict[str, str]
    value_labels: dict[str, dict[float, str]]
    trajectories: int
    participants: int


@dataclass(frozen=True)
class ResearchSummary:
    consenting_trajectories: int
    consenting_participants: int
    trajectories: int


def pseudonym(kind: str, organisation_id: int, record_id: int) -> str:
    """A stable opaque id for one professional ("P") or trajectory ("T") of one organisation."""
    secret = get_settings().secret_key.encode()
    key = hmac.new(secret, b"research-pseudonym", hashlib.sha256).digest()
    message = f"{kind}:{organisation_id}:{record_id}".encode()
    return kind + hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def summary(session: Session, *, actor: Actor) -> ResearchSummary:
    """How many trajectories of the organisation the export covers."""
    consenting = col(Trajectory.research_consent).is_(True)
    trajectories, consenting_trajectories, participants = session.execute(
        sql_select(
            func.count(col(Trajectory.id)),
            func.count(case((consenting, col(Trajectory.id)))),
            func.count(distinct(case((consenting, col(Trajectory.professional_id))))),
        ).where(col(Trajectory.organisation_id) == actor.organisation_id)
    ).one()
    return ResearchSummary(int(consenting_trajectories), int(participants), int(trajectories))


def _definition(key: str, version: int) -> InstrumentDefinition | None:
    try:
        return builtin_definition(key, version)
    except KeyError:
        return None


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def research_export(session: Session, *, actor: Actor) -> ResearchExport:
    """The pseudonymised item answers of the organisation's consenting trajectories."""
    org = actor.organisation_id
    records = session.execute(
        sql_select(
            col(Trajectory.id),
            col(Trajectory.professional_id),
            col(Trajectory.created_at),
            col(FocusRelationship.sector),
            col(FocusRelationship.age_band),
            col(ReflectionSession.position),
            col(ReflectionSession.phase),
            col(InstrumentResponse.instrument_key),
            col(InstrumentResponse.instrument_version),
            col(InstrumentResponse.completed_at),
            col(InstrumentResponse.answers),
        )
        .join(Trajectory, col(Trajectory.id) == col(InstrumentResponse.trajectory_id))
        .join(ReflectionSession, col(ReflectionSession.id) == col(InstrumentResponse.session_id))
        .join(FocusRelationship, col(FocusRelationship.id) == col(Trajectory.focus_relationship_id))
        .where(
            col(InstrumentResponse.organisation_id) == org,
            col(Trajectory.organisation_id) == org,
            col(Trajectory.research_consent).is_(True),
            col(InstrumentResponse.completed_at).is_not(None),
        )
        .order_by(
            col(Trajectory.id),
            col(ReflectionSession.position),
            col(InstrumentResponse.step_key),
        )
    ).all()

    # Item columns: every item of every instrument version present, in the definition's
    # order (unknown instruments: the answered keys, sorted).
    item_columns: dict[tuple[str, str], str] = {}
    labels = {
        "participant": _("Participant (pseudonymous id)"),
        "trajectory": _("Trajectory (pseudonymous id)"),
        "sector": _("Sector of the focus relationship"),
        "age_band": _("Age band of the child or client"),
        "session": _("Session number in the programme"),
        "phase": _("Phase of the programme"),
        "day": _("Days since the trajectory started"),
        "instrument": _("Questionnaire"),
        "version": _("Questionnaire version"),
    }
    value_labels: dict[str, dict[float, str]] = {}
    locale = get_locale()
    seen: set[tuple[str, int]] = set()
    for record in records:
        key, version, answers = record[7], record[8], record[10] or {}
        if (key, version) in seen:
            keys = [k for k in answers if (key, k) not in item_columns]
        else:
            seen.add((key, version))
            definition = _definition(key, version)
            keys = [item.key for item in definition.items] if definition else sorted(answers)
            keys += sorted(k for k in answers if k not in keys)
            if definition is not None:
                for item in definition.items:
                    name = f"{key}_{item.key}"
                    text = render_text(item, locale, None, _("the child"))
                    labels.setdefault(name, f"{definition.title.get(locale)}: {text}"[:250])
                    if definition.scale is not None and definition.scale.anchors:
                        value_labels.setdefault(
                            name,
                            {float(a.value): a.label.get(locale) for a in definition.scale.anchors},
                        )
        for item_key in keys:
            item_columns.setdefault((key, item_key), f"{key}_{item_key}")

    columns = [*ID_COLUMNS, *item_columns.values()]
    position = {column: index for index, column in enumerate(columns)}
    rows: list[list[Any]] = []
    participants: set[int] = set()
    trajectories: set[int] = set()
    for (
        trajectory_id,
        professional_id,
        started,
        sector,
        age_band,
        session_position,
        phase,
        key,
        version,
        completed_at,
        answers,
    ) in records:
        participants.add(professional_id)
        trajectories.add(trajectory_id)
        day = (_naive_utc(completed_at).date() - _naive_utc(started).date()).days
        row: list[Any] = [
            pseudonym("P", org, professional_id),
            pseudonym("T", org, trajectory_id),
            sector,
            age_band,
            session_position,
            phase,
            day,
            key,
            version,
        ]
        row += [None] * (len(columns) - len(row))
        for item_key, value in (answers or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                row[position[item_columns[(key, item_key)]]] = value
        rows.append(row)
    return ResearchExport(
        columns=columns,
        rows=rows,
        labels={c: labels[c] for c in columns if c in labels},
        value_labels=value_labels,
        trajectories=len(trajectories),
        participants=len(participants),
    )


def _measure(column: str, export: ResearchExport) -> str:
    if column in ("participant", "trajectory", "sector", "phase", "instrument"):
        return "nominal"
    if column == "age_band" or column in export.value_labels:
        return "ordinal"
    return "scale"


def to_sav(export: ResearchExport) -> bytes:
    """The export as an SPSS .sav file, with variable and value labels."""
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame(export.rows, columns=export.columns)
    for column in export.columns:
        if column in ID_COLUMNS[:4] or column in ("phase", "instrument"):
            frame[column] = frame[column].astype(str)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "research.sav"
        pyreadstat.write_sav(
            frame,
            str(path),
            file_label="Dyade research export",
            column_labels={c: export.labels.get(c) for c in export.columns},
            variable_value_labels={
                c: labels for c, labels in export.value_labels.items() if c in frame.columns
            },
            variable_measure={c: _measure(c, export) for c in export.columns},
        )
        return path.read_bytes()
