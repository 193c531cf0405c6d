"""The organisation's change parameters: worked out from its baseline answers once, and
again whenever those answers change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from app.instruments.loader import builtin_definition
from app.instruments.reliable_change import MIN_ORG_BASELINE, change_parameters
from app.instruments.scoring import score_response
from app.models import InstrumentResponse, utcnow
from app.reflection import baselines
from tests.conftest import Cast, Client
from tests.test_coaching import count_queries
from tests.test_reflection import do_intake, start

PAIR = ("relationship", 1)


@pytest.fixture
def intake_response(make_client: type[Client], cast: Cast, db: Session) -> InstrumentResponse:
    """A professional's completed intake; its relationship response stands in for others'."""
    professional = make_client().login_as(cast.professional)
    _trajectory, sessions = start(professional, db)
    do_intake(professional, sessions["intake"].id)
    response = db.exec(
        select(InstrumentResponse).where(InstrumentResponse.instrument_key == "relationship")
    ).one()
    return response


def _add_baselines(db: Session, like: InstrumentResponse, count: int, start: int = 0) -> None:
    """`count` more completed baseline responses, varied so that SD and alpha exist."""
    definition = builtin_definition(*PAIR)
    for n in range(start, start + count):
        level = 1 + n % 5
        answers = {
            i.key: min(5, max(1, level + (k % 3) - 1)) for k, i in enumerate(definition.items)
        }
        db.add(
            InstrumentResponse(
                organisation_id=like.organisation_id,
                session_id=like.session_id,
                trajectory_id=like.trajectory_id,
                step_key=f"baseline_{n}",
                phase="baseline",
                instrument_key=PAIR[0],
                instrument_version=PAIR[1],
                answers=answers,
                scores={k: v.value for k, v in score_response(definition, answers).items()},
                completed_at=utcnow(),
            )
        )
    db.commit()


def _parameters(db: Session, organisation_id: int) -> baselines.Parameters:
    return baselines.organisation_parameters(db, organisation_id=organisation_id, pairs=[PAIR])[
        PAIR
    ]


def test_the_parameters_are_the_organisations_own_from_30_baselines(
    intake_response: InstrumentResponse, db: Session
) -> None:
    org = intake_response.organisation_id
    closeness = _parameters(db, org)["closeness"]
    assert closeness is not None and closeness.provisional  # one intake: the file's figures
    _add_baselines(db, intake_response, MIN_ORG_BASELINE)
    closeness = _parameters(db, org)["closeness"]
    assert closeness is not None and not closeness.provisional
    # The same figures as working them out from every baseline answer directly.
    rows = db.exec(
        select(InstrumentResponse.answers).where(
            InstrumentResponse.phase == "baseline", InstrumentResponse.instrument_key == PAIR[0]
        )
    ).all()
    assert closeness == change_parameters(builtin_definition(*PAIR), "closeness", list(rows))


def test_the_sample_is_read_again_only_when_the_baseline_answers_change(
    intake_response: InstrumentResponse, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = intake_response.organisation_id
    _add_baselines(db, intake_response, MIN_ORG_BASELINE + 5)
    worked_out: list[object] = []
    original = baselines._work_out
    monkeypatch.setattr(
        baselines, "_work_out", lambda *args: worked_out.append(args[0]) or original(*args)
    )
    first = _parameters(db, org)
    assert _parameters(db, org) is first and len(worked_out) == 1  # from the cache

    # An answer changed (an intake finished again, later): worked out anew, other figures.
    changed = db.exec(
        select(InstrumentResponse).where(InstrumentResponse.step_key == "baseline_3")
    ).one()
    changed.answers = dict.fromkeys(changed.answers, 1)
    changed.updated_at = utcnow() + timedelta(seconds=1)
    db.add(changed)
    db.commit()
    after_edit = _parameters(db, org)
    assert len(worked_out) == 2 and after_edit["closeness"] != first["closeness"]

    # A response removed (a person's data erased): worked out anew.
    db.delete(changed)
    db.commit()
    _parameters(db, org)
    assert len(worked_out) == 3

    # A response added: worked out anew; the answers of a later phase do not count.
    _add_baselines(db, intake_response, 1, start=100)
    _parameters(db, org)
    assert len(worked_out) == 4
    later = db.exec(
        select(InstrumentResponse).where(InstrumentResponse.step_key == "baseline_100")
    ).one()
    later.phase = "post"
    later.updated_at = utcnow() + timedelta(seconds=2)
    db.add(later)
    db.commit()
    _parameters(db, org)
    assert len(worked_out) == 5  # it left the baseline sample
    _parameters(db, org)
    assert len(worked_out) == 5


def test_two_statements_whatever_the_cache_holds(
    intake_response: InstrumentResponse, db: Session
) -> None:
    org = intake_response.organisation_id
    cold = count_queries(lambda: _parameters(db, org))
    warm = count_queries(lambda: _parameters(db, org))
    nothing = count_queries(
        lambda: baselines.organisation_parameters(db, organisation_id=org, pairs=[])
    )
    assert cold == warm == nothing == 2


def test_another_organisations_answers_are_not_used(
    intake_response: InstrumentResponse, db: Session, cast: Cast
) -> None:
    _add_baselines(db, intake_response, MIN_ORG_BASELINE)
    assert cast.other_org.id is not None
    closeness = _parameters(db, cast.other_org.id)["closeness"]
    assert closeness is not None and closeness.provisional
