"""Uploading an instrument: checked in full, stored whole, seen only by its organisation."""

from __future__ import annotations

import hashlib
import html

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.definition_files import MAX_UPLOAD_BYTES
from app.deps import Actor
from app.errors import NotFound
from app.models import AuditEvent, OrganisationInstrument
from app.questionnaires import service
from tests.conftest import Cast, Client

FILE_NAME = "bond-v1.toml"

VALID = """\
key = "bond"
version = 1
kind = "questionnaire"
licence = "Licensed to Basisschool Het Anker for internal use."
scoring = "mean"
title = { nl = "Band met het kind", en = "Bond with the child" }

[instructions]
nl = "Denk bij elke zin aan {name}."
en = "For each statement, think of {name}."

[scale]
min = 1
max = 4
anchors = [
    { value = 1, label = { nl = "nooit", en = "never" } },
    { value = 4, label = { nl = "altijd", en = "always" } },
]

[[subscales]]
key = "warmth"
label = { nl = "Warmte", en = "Warmth" }
higher_is_better = true
min_answered = 1

[[subscales]]
key = "friction"
label = { nl = "Wrijving", en = "Friction" }
higher_is_better = false
min_answered = 1

[[items]]
key = "warm_1"
subscale = "warmth"
text.nl = "{name} zoekt mij op als het even tegenzit."
text.en = "{name} comes to me when things are hard."
text.sectors.family_home.nl = "{name} komt thuis naar mij toe als het even tegenzit."
text.sectors.family_home.en = "At home, {name} comes to me when things are hard."

[[items]]
key = "fric_1"
subscale = "friction"
keying = "positive"
text.nl = "Met {name} loopt een kleinigheid snel uit de hand."
text.en = "With {name}, small things quickly get out of hand."
"""


def upload(client: Client, data: bytes, filename: str = FILE_NAME, field: str = "definition"):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/instruments",
        data={"csrf_token": client.csrf()},
        files={field: (filename, data, "application/toml")},
        follow_redirects=False,
    )


def stored(db: Session) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(OrganisationInstrument)).one()


def page_text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.text)


def test_upload_page_has_a_labelled_file_input(client: Client, cast: Cast) -> None:
    response = client.login_as(cast.admin).get("/admin/instruments/upload")
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.text
    assert '<label for="field-definition">' in response.text
    assert 'id="field-definition" name="definition" type="file"' in response.text


def test_a_good_file_is_stored_with_its_version_and_listed(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.admin)
    response = upload(client, VALID.encode())
    assert response.status_code == 303
    assert response.headers["location"] == "/instruments"

    row = db.exec(select(OrganisationInstrument)).one()
    assert (row.organisation_id, row.key, row.version, row.kind) == (
        cast.org.id,
        "bond",
        1,
        "questionnaire",
    )
    assert (row.title_nl, row.title_en) == ("Band met het kind", "Bond with the child")
    assert row.source == VALID
    assert row.sha256 == hashlib.sha256(VALID.encode()).hexdigest()
    assert row.uploaded_by_id == cast.admin.id
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "instrument.upload")).one()
    assert event.actor_id == cast.admin.id
    assert "bond v1" in event.detail

    listing = client.get("/instruments")
    assert "Band met het kind" in listing.text
    assert "Warmte" in listing.text and "Wrijving" in listing.text
    assert "/instruments/preview?instrument=bond-v1" in listing.text


def test_the_flash_names_the_new_instrument(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    response = upload(client, VALID.encode())
    listing = client.get(response.headers["location"])
    assert "Band met het kind" in page_text(listing)
    assert 'class="flash' in listing.text


def test_coaches_of_the_organisation_can_preview_an_upload(client: Client, cast: Cast) -> None:
    upload(client.login_as(cast.admin), VALID.encode())
    client.login_as(cast.coach)
    assert "Band met het kind" in client.get("/instruments").text
    response = client.get(
        "/instruments/preview",
        params={"instrument": "bond-v1", "locale": "en", "sector": "family_home", "name": "Noor"},
    )
    assert response.status_code == 200
    assert "At home, Noor comes to me when things are hard." in page_text(response)


def test_another_organisation_never_sees_an_upload(client: Client, cast: Cast, make_client) -> None:  # type: ignore[no-untyped-def]
    upload(client.login_as(cast.admin), VALID.encode())
    outsider = make_client().login_as(cast.outsider_admin)
    assert "Band met het kind" not in outsider.get("/instruments").text
    assert outsider.get("/instruments/preview?instrument=bond-v1").status_code == 404
    tried = outsider.post_form("/instruments/preview", {"instrument": "bond-v1"})
    assert tried.status_code == 404
    other_coach = make_client().login_as(cast.outsider_coach)
    assert other_coach.get("/instruments/preview?instrument=bond-v1").status_code == 404


def test_another_organisation_may_upload_the_same_key_and_version(
    client: Client, cast: Cast, make_client, db: Session
) -> None:  # type: ignore[no-untyped-def]
    assert upload(client.login_as(cast.admin), VALID.encode()).status_code == 303
    outsider = make_client().login_as(cast.outsider_admin)
    assert upload(outsider, VALID.encode()).status_code == 303
    assert stored(db) == 2


def test_a_byte_order_mark_and_a_browser_path_are_accepted(
    client: Client, cast: Cast, db: Session
) -> None:
    client.login_as(cast.admin)
    response = upload(client, b"\xef\xbb\xbf" + VALID.encode(), filename="C:\\fakepath\\x.toml")
    assert response.status_code == 303
    assert db.exec(select(OrganisationInstrument)).one().source == VALID


TOO_BIG = b"# " + b"x" * MAX_UPLOAD_BYTES + b"\n"

BAD_UPLOADS = {
    "toml syntax": (
        VALID.replace("version = 1\n", "version = \n").encode(),
        ["invalid TOML", "line 2"],
    ),
    "rule problem": (
        VALID.replace('subscale = "friction"', 'subscale = "frictoin"').encode(),
        ['item "fric_1"', 'unknown subscale "frictoin"'],
    ),
    # An INTEGER column overflowed on PostgreSQL (a 500) and the preview could not find it.
    "version out of range": (
        VALID.replace("version = 1", "version = 2147483648").encode(),
        ["version should be between 1 and 9999"],
    ),
    "shape problem": (
        VALID.replace('kind = "questionnaire"', 'kind = "survey"').encode(),
        ['kind "survey" is not allowed'],
    ),
    "too large": (TOO_BIG, [f"file is {len(TOO_BIG)} bytes", "the limit is 262144 bytes"]),
    "not utf-8": (
        VALID.replace("Wrijving", "Wr\u00ffving").encode("latin-1"),
        ["not UTF-8", "0xff"],
    ),
    "built-in key": (
        VALID.replace('key = "bond"', 'key = "relationship"').encode(),
        ['key "relationship" is already used by a built-in instrument'],
    ),
    "title too long": (
        VALID.replace('en = "Bond with the child"', 'en = "' + "b" * 201 + '"').encode(),
        ['"en" title is 201 characters long; the limit is 200'],
    ),
    "empty file": (b"", ['missing required field "key"']),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_a_bad_file_is_explained_and_nothing_is_stored(
    client: Client, cast: Cast, db: Session, case: str
) -> None:
    data, expected = BAD_UPLOADS[case]
    client.login_as(cast.admin)
    response = upload(client, data)
    assert response.status_code == 422
    text = page_text(response)
    assert 'class="error-summary"' in text
    assert 'href="#field-definition"' in text
    assert FILE_NAME in text
    for fragment in expected:
        assert fragment in text
    assert stored(db) == 0
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "instrument.upload")).all() == []


def test_the_same_key_and_version_twice_is_refused(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.admin)
    assert upload(client, VALID.encode()).status_code == 303
    changed = VALID.replace("Band met het kind", "Band met het kind (nieuw)")
    response = upload(client, changed.encode())
    assert response.status_code == 422
    assert '"bond" version 1 has already been uploaded' in page_text(response)
    assert stored(db) == 1
    assert db.exec(select(OrganisationInstrument)).one().title_nl == "Band met het kind"

    newer = changed.replace("version = 1", "version = 2")
    assert upload(client, newer.encode()).status_code == 303
    assert stored(db) == 2


def test_two_uploads_of_the_same_version_at_once_store_one(
    client: Client, cast: Cast, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.login_as(cast.admin)
    assert upload(client, VALID.encode()).status_code == 303
    # The second request checked before the first had committed: it saw no earlier upload.
    monkeypatch.setattr(service, "_upload_problems", lambda *_args: iter(()))

    response = upload(client, VALID.encode())

    assert response.status_code == 422
    assert '"bond" version 1 has already been uploaded' in page_text(response)
    assert stored(db) == 1


def test_a_file_far_over_the_limit_reports_its_real_size(
    client: Client, cast: Cast, db: Session
) -> None:
    data = b"# " + b"x" * (3 * MAX_UPLOAD_BYTES)
    response = upload(client.login_as(cast.admin), data)
    assert response.status_code == 422
    assert f"file is {len(data)} bytes" in page_text(response)
    assert stored(db) == 0


def test_no_file_chosen_asks_for_one(client: Client, cast: Cast, db: Session) -> None:
    client.login_as(cast.admin)
    response = upload(client, b"", filename="")
    assert response.status_code == 422
    assert 'href="#field-definition"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert stored(db) == 0


def test_a_stored_file_that_no_longer_passes_is_listed_but_not_previewed(
    client: Client, cast: Cast, db: Session
) -> None:
    db.add(
        OrganisationInstrument(
            organisation_id=cast.org.id,  # type: ignore[arg-type]
            key="bond",
            version=1,
            kind="questionnaire",
            title_nl="Band met het kind",
            title_en="Bond with the child",
            source=VALID.replace('subscale = "friction"', 'subscale = "gone"'),
            sha256="0" * 64,
        )
    )
    db.commit()
    client.login_as(cast.admin)
    listing = client.get("/instruments")
    assert listing.status_code == 200
    assert 'unknown subscale "gone"' in page_text(listing)
    assert client.get("/instruments/preview?instrument=bond-v1").status_code == 404


def test_get_instrument_finds_built_ins_and_own_uploads_only(
    client: Client, cast: Cast, db: Session
) -> None:
    upload(client.login_as(cast.admin), VALID.encode())
    own = Actor.for_user(
        cast.coach, roles=frozenset({"coach"}), session_id=0, session_token_hash=""
    )
    other = Actor.for_user(
        cast.outsider_coach, roles=frozenset({"coach"}), session_id=0, session_token_hash=""
    )
    assert service.get_instrument(db, actor=own, key="bond", version=1).title.nl == (
        "Band met het kind"
    )
    assert service.get_instrument(db, actor=other, key="relationship", version=1).kind == (
        "questionnaire"
    )
    with pytest.raises(NotFound):
        service.get_instrument(db, actor=other, key="bond", version=1)
    with pytest.raises(NotFound):
        service.get_instrument(db, actor=own, key="bond", version=2)
