"""The shipped definitions: all valid, shaped as the domain table says, and renderable."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from app.instruments import (
    LOCALES,
    SECTORS,
    InstrumentDefinition,
    builtin_definition,
    load_builtin,
    render_instructions,
    render_text,
    validate_files,
)
from app.instruments.loader import builtin_paths
from app.instruments.schema import DiaryField, FieldGroup, Item

BUILTINS = load_builtin()
SCORED = {key: d for key, d in BUILTINS.items() if d.kind != "diary"}

# (key, kind, scale min, scale max, scoring, {subscale: (items, higher_is_better)})
DOMAIN_TABLE = [
    (
        "relationship",
        "questionnaire",
        1,
        5,
        "mean",
        {"closeness": (6, True), "conflict": (6, False), "dependency": (4, False)},
    ),
    (
        "efficacy",
        "questionnaire",
        1,
        7,
        "mean",
        {
            "learning": (3, True),
            "behaviour": (3, True),
            "engagement": (3, True),
            "emotional_support": (3, True),
        },
    ),
    (
        "strain",
        "questionnaire",
        1,
        5,
        "rescale_0_100",
        {"work_exhaustion": (5, False), "client_exhaustion": (4, False)},
    ),
    (
        "empathy",
        "questionnaire",
        1,
        5,
        "mean",
        {"compassion": (4, True), "empathic_distress": (4, False)},
    ),
    (
        "pulse",
        "pulse",
        1,
        5,
        "mean",
        {
            "closeness": (1, True),
            "conflict": (1, False),
            "efficacy": (1, True),
            "joy": (1, True),
            "anger": (1, False),
            "helplessness": (1, False),
            "involvement": (1, True),
            "exhaustion": (1, False),
        },
    ),
    (
        "alliance",
        "questionnaire",
        1,
        5,
        "mean",
        {"bond": (3, True), "goals": (3, True), "tasks": (3, True), "strain_in_bond": (3, False)},
    ),
]


def test_every_builtin_file_validates() -> None:
    assert validate_files(builtin_paths()) == []


def test_the_expected_instruments_are_shipped() -> None:
    assert set(BUILTINS) == {
        ("relationship", 1),
        ("efficacy", 1),
        ("strain", 1),
        ("empathy", 1),
        ("pulse", 1),
        ("diary", 1),
        ("alliance", 1),
    }


@pytest.mark.parametrize(
    ("key", "kind", "low", "high", "scoring", "subscales"),
    DOMAIN_TABLE,
    ids=[row[0] for row in DOMAIN_TABLE],
)
def test_builtin_matches_the_domain_table(
    key: str,
    kind: str,
    low: int,
    high: int,
    scoring: str,
    subscales: dict[str, tuple[int, bool]],
) -> None:
    definition = builtin_definition(key)
    assert definition.kind == kind
    assert definition.scale is not None
    assert (definition.scale.min, definition.scale.max) == (low, high)
    assert {s.key: definition.scoring_rule(s) for s in definition.subscales} == dict.fromkeys(
        subscales, scoring
    )
    actual = {
        s.key: (len(definition.items_in(s.key)), s.higher_is_better) for s in definition.subscales
    }
    assert actual == subscales


def test_the_diary_has_the_domain_fields() -> None:
    diary = builtin_definition("diary")
    assert diary.kind == "diary"
    valence = diary.field("valence")
    assert valence.required
    valence_scale = diary.scales[str(valence.scale)]
    assert (valence_scale.min, valence_scale.max) == (-3, 3)
    for group, keys in {
        "emotions": ["anger", "helplessness", "anxiety", "joy", "guilt", "pride"],
        "expression": ["genuine", "hidden", "faked", "reappraised"],
    }.items():
        fields = [f for f in diary.fields if f.group == group]
        assert [f.key for f in fields] == keys
        for diary_field in fields:
            scale = diary.scales[str(diary_field.scale)]
            assert (scale.min, scale.max) == (0, 4)
    assert diary.field("child_behaviour").type == "tags"
    assert len(diary.field("child_behaviour").options) >= 5
    child_felt = diary.field("child_felt")
    assert child_felt.type == "text"
    assert render_text(child_felt, "en", None, "Sam") == "What might Sam have felt at that moment?"


def test_keying_is_exercised_by_reverse_keyed_items() -> None:
    negative = {
        (d.key, item.key) for d in SCORED.values() for item in d.items if item.keying == "negative"
    }
    assert ("relationship", "close_4") in negative
    assert ("alliance", "strain_3") in negative


@pytest.mark.parametrize("path", builtin_paths(), ids=lambda p: p.name)
def test_change_statistics_are_marked_provisional(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.match(r"(sd|reliability) = ", line):
            assert line.endswith("# provisional estimate, not normed"), line
    if re.search(r"^sd = ", text, re.MULTILINE):
        assert "PROVISIONAL ESTIMATES, NOT NORMED" in text


def _all_texts(definition: InstrumentDefinition) -> list[str]:
    texts = [definition.title.nl, definition.title.en]
    for locale, sector in itertools.product(LOCALES, (None, *SECTORS)):
        texts.append(render_instructions(definition, locale, sector, "Sam"))
        entries: list[Item | DiaryField | FieldGroup] = [
            *definition.items,
            *definition.fields,
            *definition.groups,
        ]
        texts.extend(render_text(entry, locale, sector, "Sam") for entry in entries)
    return texts


@pytest.mark.parametrize("key", sorted(BUILTINS), ids=lambda k: f"{k[0]}-v{k[1]}")
def test_every_text_renders_in_every_locale_and_sector(key: tuple[str, int]) -> None:
    for text in _all_texts(BUILTINS[key]):
        assert text.strip()
        assert "{" not in text and "}" not in text, text


def test_sector_wording_differs_where_the_setting_does() -> None:
    item = builtin_definition("efficacy").item("engage_1")
    assert "in de klas" in render_text(item, "nl", "education", "Sam")
    assert "op de groep" in render_text(item, "nl", "childcare", "Sam")
    assert "thuis" in render_text(item, "nl", "family_home", "Sam")
    assert (
        render_text(item, "nl", None, "Sam") == "Zorgen dat Sam meedoet met wat jullie samen doen."
    )


def test_dutch_and_english_texts_are_not_copies_of_each_other() -> None:
    for definition in BUILTINS.values():
        for item in definition.items:
            assert item.text.nl != item.text.en, item.key


# Tell-tale phrasings of published questionnaires (STRS, MBI, CBI, ProQOL, WAI): a
# tripwire, not proof. Our items must be written fresh; the review that rewrote the
# items closest to these is in the git history of the definition files.
PUBLISHED_PHRASINGS = [
    "affectionate, warm relationship",
    "always seem to be struggling",
    "drains my energy",
    "overly dependent",
    "reacts strongly to separation",
    "seek comfort from me",
    "in tune with what",
    "treat him/her unfairly",
    "long and difficult day",
    "used up at the end",
    "another day on the job",
    "at the thought of another day",
    "worn out at the end of the working day",
    "give more than you get back",
    "tired of working with",
    "satisfaction from being able to help",
    "the way we are working",
    "genuinely concerned for",
    "mutually agreed upon goals",
    "appreciates me",
]


def test_no_item_reads_like_a_published_questionnaire() -> None:
    for definition in BUILTINS.values():
        for text in _all_texts(definition):
            folded = text.lower().replace("’", "'")
            for phrase in PUBLISHED_PHRASINGS:
                assert phrase not in folded, (definition.key, text)


def test_load_builtin_hands_out_a_copy() -> None:
    first = load_builtin()
    first.clear()
    assert load_builtin() == BUILTINS


def test_builtin_definition_finds_versions() -> None:
    assert builtin_definition("relationship", 1) is BUILTINS[("relationship", 1)]
    assert builtin_definition("relationship").version == 1
    with pytest.raises(KeyError):
        builtin_definition("strs")
    with pytest.raises(KeyError):
        builtin_definition("relationship", 99)


def test_the_app_refuses_to_start_on_a_broken_builtin_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from app.instruments import DefinitionError, loader
    from app.main import app

    for path in builtin_paths():
        text = path.read_text(encoding="utf-8")
        if path.name == "relationship-v1.toml":
            text = text.replace(
                'key = "conf_3"\nsubscale = "conflict"', 'key = "conf_3"\nsubscale = "confict"'
            )
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(loader.INSTRUMENT_FILES, "folder", tmp_path)
    loader.INSTRUMENT_FILES.forget()
    try:
        expected = 'relationship-v1.toml: item "conf_3": unknown subscale "confict"'
        with pytest.raises(DefinitionError, match=re.escape(expected)), TestClient(app):
            pass
    finally:
        monkeypatch.undo()
        loader.INSTRUMENT_FILES.forget()
    assert loader.load_builtin() == BUILTINS
