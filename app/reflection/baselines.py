"""The organisation's own change parameters: SD and reliability per subscale, from its
baseline answers, worked out again only when those answers change.

Every page that judges a change since the intake (the coach's trajectory page and
caseload, the report, the professional's "what changed") compares it with the
organisation's own baseline sample: up to BASELINE_SAMPLE completed intake responses per
questionnaire version, the first by id (app/instruments/reliable_change.py has the rule).
Reading and scoring that sample on every page made a coach's trajectory page take about
70 ms instead of 15, and a caseload of two about 100 ms instead of 10, in an organisation
with 300 intakes (docs/benchmarks.md).

So each process keeps the parameters it worked out, with a fingerprint of the sample it
used: how many completed baseline responses there are, the highest id and the latest
change. A page reads the fingerprints with one grouped query, and the sample only for a
questionnaire whose fingerprint changed: two statements whatever the cache holds (the
second reads nothing when nothing changed). Several processes or machines each keep
their own copy; the fingerprint comes from the database, so each one notices a new,
removed or changed intake on its next page (a change through its `updated_at`, which the
app sets when it saves answers).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, tuple_
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from app.instruments.loader import builtin_definition
from app.instruments.reliable_change import ChangeParameters, change_parameters
from app.models import InstrumentResponse

# How many of the organisation's baseline responses estimate its own SD and alpha.
BASELINE_SAMPLE = 2000
# Organisations times questionnaire versions kept per process (a few bytes each).
CACHE_LIMIT = 4096

#: The parameters of one questionnaire version, by subscale key (None: no change index).
Parameters = dict[str, ChangeParameters | None]


@dataclass(frozen=True)
class _Entry:
    fingerprint: tuple[Any, ...]
    parameters: Parameters


_cache: dict[tuple[int, str, int], _Entry] = {}
#: The fingerprint of a questionnaire without completed baseline responses.
_NONE: tuple[Any, ...] = (0, None, None)
_lock = threading.Lock()

_BASELINE = (
    col(InstrumentResponse.phase) == "baseline",
    col(InstrumentResponse.completed_at).is_not(None),
)
_PAIR = tuple_(col(InstrumentResponse.instrument_key), col(InstrumentResponse.instrument_version))

# Built once: making a statement and its cache key costs about as much as running it.
_FINGERPRINTS = (
    sql_select(
        col(InstrumentResponse.instrument_key),
        col(InstrumentResponse.instrument_version),
        func.count(),
        func.max(col(InstrumentResponse.id)),
        func.max(col(InstrumentResponse.updated_at)),
    )
    .where(
        col(InstrumentResponse.organisation_id) == bindparam("organisation_id"),
        _PAIR.in_(bindparam("pairs", expanding=True)),
        *_BASELINE,
    )
    .group_by(col(InstrumentResponse.instrument_key), col(InstrumentResponse.instrument_version))
)


def _sample_query() -> Any:
    """Number the baseline rows per instrument and version, keep the first BASELINE_SAMPLE
    of each (by id, so that every page and process uses the same sample)."""
    position = (
        func.row_number()
        .over(
            partition_by=(
                col(InstrumentResponse.instrument_key),
                col(InstrumentResponse.instrument_version),
            ),
            order_by=col(InstrumentResponse.id),
        )
        .label("position")
    )
    numbered = (
        sql_select(
            col(InstrumentResponse.instrument_key),
            col(InstrumentResponse.instrument_version),
            col(InstrumentResponse.answers),
            position,
        )
        .where(
            col(InstrumentResponse.organisation_id) == bindparam("organisation_id"),
            _PAIR.in_(bindparam("pairs", expanding=True)),
            *_BASELINE,
        )
        .subquery()
    )
    return sql_select(
        numbered.c.instrument_key, numbered.c.instrument_version, numbered.c.answers
    ).where(numbered.c.position <= BASELINE_SAMPLE)


_SAMPLE = _sample_query()


def organisation_parameters(
    session: Session, *, organisation_id: int, pairs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], Parameters]:
    """The change parameters of each (questionnaire key, version), for this organisation:
    its own from MIN_ORG_BASELINE complete baselines on, else the definition's.

    Two statements however many questionnaires, and even when none is asked for, so
    that a page's query count does not depend on its data or on this process's cache.
    """
    wanted = sorted(set(pairs))
    connection = session.connection()
    fingerprints: dict[tuple[str, int], tuple[Any, ...]] = {
        (key, version): (count, top, latest)
        for key, version, count, top, latest in connection.execute(
            _FINGERPRINTS, {"organisation_id": organisation_id, "pairs": wanted}
        ).all()
    }
    found: dict[tuple[str, int], Parameters] = {}
    stale: list[tuple[str, int]] = []
    for pair in wanted:
        entry = _cache.get((organisation_id, *pair))
        if entry is not None and entry.fingerprint == fingerprints.get(pair, _NONE):
            found[pair] = entry.parameters
        else:
            stale.append(pair)
    samples: dict[tuple[str, int], list[Any]] = {pair: [] for pair in stale}
    for key, version, answers in connection.execute(
        _SAMPLE, {"organisation_id": organisation_id, "pairs": stale}
    ).all():
        samples[(key, version)].append(answers)
    for pair in stale:
        found[pair] = parameters = _work_out(pair, samples[pair])
        with _lock:
            if len(_cache) >= CACHE_LIMIT:
                _cache.clear()
            _cache[(organisation_id, *pair)] = _Entry(fingerprints.get(pair, _NONE), parameters)
    return found


def _work_out(pair: tuple[str, int], sample: list[Any]) -> Parameters:
    definition = builtin_definition(*pair)
    if definition.scale is None:
        return {}
    return {s.key: change_parameters(definition, s.key, sample) for s in definition.subscales}


def forget() -> None:
    """Empty this process's cache: for a database emptied and filled again under a running
    process (as the tests do, their ids starting at 1 again), where a fingerprint of new
    answers could equal one of the old."""
    with _lock:
        _cache.clear()
