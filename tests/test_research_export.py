"""The admin's research export: consenting trajectories only, pseudonymised, CSV and SPSS."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

import httpx
import pyreadstat
from sqlmodel import Session, select

from app.instruments.loader import builtin_definition
from app.models import (
    AuditEvent,
    FocusRelationship,
    InstrumentResponse,
    Organisation,
    ReflectionSession,
    Trajectory,
    User,
    utcnow,
)
from tests.conftest import Cast, Client, make_user

STRAIN = builtin_definition("strain")


def answered_trajectory(
    db: Session, org: Organisation, professional: User, *, consent: bool, seed: int
) -> Trajectory:
    """A trajectory with a completed strain questionnaire at the intake, and a typed note."""
    focus = FocusRelationship(
        organisation_id=org.id,  # type: ignore[arg-type]
        professional_id=professional.id,  # type: ignore[arg-type]
        pseudonym="Geheimpje",
        sector="youth_care",
        setting="Groep Zonnebloem",
        age_band="12-15",
    )
    db.add(focus)
    db.flush()
    trajectory = Trajectory(
        organisation_id=org.id,  # type: ignore[arg-type]
        professional_id=professional.id,  # type: ignore[arg-type]
        focus_relationship_id=focus.id,  # type: ignore[arg-type]
        programme_key="llinc",
        programme_version=1,
        research_consent=consent,
        coach_summary="Vertrouwelijke samenvatting",
    )
    db.add(trajectory)
    db.flush()
    intake = ReflectionSession(
        organisation_id=org.id,  # type: ignore[arg-type]
        trajectory_id=trajectory.id,  # type: ignore[arg-type]
        position=1,
        template_key="intake",
        phase="baseline",
        status="completed",
    )
    db.add(intake)
    db.flush()
    answers = {item.key: 1 + (seed + i) % 5 for i, item in enumerate(STRAIN.items)}
    answers.pop(STRAIN.items[-1].key)  # one item left unanswered
    db.add(
        InstrumentResponse(
            organisation_id=org.id,  # type: ignore[arg-type]
            session_id=intake.id,  # type: ignore[arg-type]
            trajectory_id=trajectory.id,  # type: ignore[arg-type]
            step_key="strain",
            phase="baseline",
            instrument_key="strain",
            instrument_version=1,
            answers=answers,
            scores={"work_exhaustion": 50.0},
            completed_at=utcnow(),
        )
    )
    db.flush()
    return trajectory


def research_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))


def test_only_consenting_trajectories_leave_and_nobody_is_named(
    client: Client, cast: Cast, db: Session
) -> None:
    agreed = answered_trajectory(db, cast.org, cast.professional, consent=True, seed=0)
    second = answered_trajectory(db, cast.org, cast.professional, consent=True, seed=1)
    answered_trajectory(db, cast.org, cast.unassigned_professional, consent=False, seed=2)
    elsewhere = answered_trajectory(db, cast.other_org, cast.outsider, consent=True, seed=3)
    db.commit()
    client.login_as(cast.admin)

    page = client.get("/admin/research")
    assert page.status_code == 200
    assert 'id="research-trajectories">2 ' in page.text
    assert 'id="research-participants">1<' in page.text

    response = client.get("/admin/research/export.csv")
    rows = research_rows(response)
    assert len(rows) == 2  # the two consenting trajectories; not the third, not elsewhere
    for secret in (
        "Geheimpje", "Zonnebloem", "Vertrouwelijke", "Pim", "prof@anker", "Pia", "Olaf",
    ):  # fmt: skip
        assert secret not in response.text
    first, other = rows
    # One person, two trajectories: the same participant code, two trajectory codes.
    assert first["participant"] == other["participant"]
    assert first["trajectory"] != other["trajectory"]
    for row in rows:
        assert row["participant"].startswith("P") and len(row["participant"]) == 17
        assert str(cast.professional.id) != row["participant"]
        assert str(agreed.id) not in (row["trajectory"], row["participant"])
        assert (row["sector"], row["age_band"], row["phase"]) == ("youth_care", "12-15", "baseline")
        assert (row["session"], row["day"], row["instrument"]) == ("1", "0", "strain")
    item_keys = [f"strain_{item.key}" for item in STRAIN.items]
    assert [c for c in rows[0] if c.startswith("strain_")] == item_keys
    expected = [str(1 + i % 5) for i in range(len(STRAIN.items) - 1)] + [""]
    assert [first[k] for k in item_keys] == expected
    # The codes are stable: a second export gives the same ones.
    again = research_rows(client.get("/admin/research/export.csv"))
    assert [(r["participant"], r["trajectory"]) for r in again] == [
        (r["participant"], r["trajectory"]) for r in rows
    ]
    # The other organisation's admin gets only their own, under codes of their own.
    theirs = research_rows(client.login_as(cast.outsider_admin).get("/admin/research/export.csv"))
    assert len(theirs) == 1 and theirs[0]["participant"] != first["participant"]
    assert second.id != elsewhere.id


def test_the_spss_file_holds_the_same_rows_with_labels(
    client: Client, cast: Cast, db: Session
) -> None:
    answered_trajectory(db, cast.org, cast.professional, consent=True, seed=0)
    answered_trajectory(db, cast.org, cast.multi, consent=True, seed=4)
    db.commit()
    client.login_as(cast.admin)
    expected = research_rows(client.get("/admin/research/export.csv"))
    response = client.get("/admin/research/export.sav")
    assert response.status_code == 200
    assert response.content[:4] == b"$FL2"  # the SPSS system file signature
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.sav"
        path.write_bytes(response.content)
        frame, meta = pyreadstat.read_sav(str(path))
    assert list(frame.columns) == list(expected[0].keys())
    for row, wanted in zip(frame.to_dict("records"), expected, strict=True):
        for column, text in wanted.items():
            value = row[column]
            if isinstance(value, float):
                assert (math.isnan(value) and text == "") or value == float(text), column
            else:
                assert str(value) == text, column
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["participant"] == "Deelnemer (pseudonieme code)"
    first_item = f"strain_{STRAIN.items[0].key}"
    assert "{name}" not in (labels[first_item] or "")
    assert meta.variable_value_labels[first_item][1.0] == "nooit"


def test_every_download_is_audited(client: Client, cast: Cast, db: Session) -> None:
    answered_trajectory(db, cast.org, cast.professional, consent=True, seed=0)
    db.commit()
    client.login_as(cast.admin)
    client.get("/admin/research")  # looking at the page is not a download
    client.get("/admin/research/export.csv")
    client.get("/admin/research/export.sav")
    events = db.exec(
        select(AuditEvent).where(AuditEvent.action == "research.export").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_id, e.actor_role, e.detail.split(":")[0]) for e in events] == [
        (cast.admin.id, "admin", "csv"),
        (cast.admin.id, "admin", "sav"),
    ]
    assert "1 responses, 1 trajectories, 1 professionals" in events[0].detail


def test_an_export_without_consent_is_empty_but_works(
    client: Client, cast: Cast, db: Session
) -> None:
    answered_trajectory(db, cast.org, cast.professional, consent=False, seed=0)
    db.commit()
    client.login_as(cast.admin)
    assert research_rows(client.get("/admin/research/export.csv")) == []
    response = client.get("/admin/research/export.sav")
    assert response.status_code == 200 and response.content[:4] == b"$FL2"


def test_only_admins_get_the_research_export(client: Client, cast: Cast, db: Session) -> None:
    extra = make_user(db, cast.org, "sup2@anker.example", "S", [], "")
    db.commit()
    for user in (cast.supervisor, cast.coach, cast.professional, extra):
        client.login_as(user)
        for url in ("/admin/research", "/admin/research/export.csv", "/admin/research/export.sav"):
            assert client.get(url).status_code == 403, (user.email, url)
