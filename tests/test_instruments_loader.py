"""Loading and validating instrument definition files: every broken case says where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.definition_files import MAX_UPLOAD_BYTES
from app.instruments import (
    DefinitionError,
    load_definition,
    parse_definition_bytes,
    render_instructions,
    render_text,
    validate_files,
)

SOURCE = "sample-v1.toml"

VALID = """\
key = "sample"
version = 1
kind = "questionnaire"
licence = "Test only."
scoring = "mean"
title = { nl = "Voorbeeld", en = "Sample" }

[instructions]
nl = "Denk aan {name}."
en = "Think of {name}."

[instructions.sectors.education]
nl = "Denk aan {name} in de klas."
en = "Think of {name} in class."

[scale]
min = 1
max = 5
anchors = [
    { value = 1, label = { nl = "nooit", en = "never" } },
    { value = 5, label = { nl = "altijd", en = "always" } },
]

[[subscales]]
key = "closeness"
label = { nl = "Nabijheid", en = "Closeness" }
higher_is_better = true
min_answered = 2
sd = 0.6
reliability = 0.8

[[subscales]]
key = "conflict"
label = { nl = "Conflict", en = "Conflict" }
higher_is_better = false
min_answered = 2

[[items]]
key = "close_1"
subscale = "closeness"
keying = "positive"
text.nl = "{name} lacht naar me."
text.en = "{name} smiles at me."
text.sectors.childcare.nl = "{name} lacht naar me op de groep."
text.sectors.childcare.en = "{name} smiles at me in the group."

[[items]]
key = "close_2"
subscale = "closeness"
keying = "negative"
text.nl = "{name} ontloopt me."
text.en = "{name} avoids me."

[[items]]
key = "conf_1"
subscale = "conflict"
text.nl = "We botsen."
text.en = "We clash."

[[items]]
key = "conf_2"
subscale = "conflict"
text.nl = "{name} wordt boos."
text.en = "{name} gets angry."

[[items]]
key = "conf_3"
subscale = "conflict"
text.nl = "Ik zucht."
text.en = "I sigh."
"""

DIARY = """\
key = "log"
version = 2
kind = "diary"
licence = "Test only."
title = { nl = "Logboek", en = "Log" }
instructions = { nl = "Schrijf over {name}.", en = "Write about {name}." }

[scales.intensity]
min = 0
max = 4
anchors = [
    { value = 0, label = { nl = "niet", en = "not" } },
    { value = 4, label = { nl = "heel", en = "very" } },
]

[[groups]]
key = "emotions"
text = { nl = "Wat voelde je?", en = "What did you feel?" }

[[fields]]
key = "anger"
type = "scale"
scale = "intensity"
group = "emotions"
text = { nl = "Boosheid", en = "Anger" }

[[fields]]
key = "behaviour"
type = "tags"
text = { nl = "Wat deed {name}?", en = "What did {name} do?" }
options = [{ key = "withdrew", label = { nl = "trok zich terug", en = "withdrew" } }]

[[fields]]
key = "child_felt"
type = "text"
max_length = 500
text = { nl = "Wat voelde {name}?", en = "What did {name} feel?" }
"""


SCALE_BLOCK = """\
[scale]
min = 1
max = 5
anchors = [
    { value = 1, label = { nl = "nooit", en = "never" } },
    { value = 5, label = { nl = "altijd", en = "always" } },
]
"""
assert SCALE_BLOCK in VALID


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the definition"
    return text.replace(old, new, 1)


def _problems(text: str, source: str = SOURCE) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definition(text, source_name=source)
    return [str(problem) for problem in caught.value.problems]


def test_the_valid_samples_load() -> None:
    definition = load_definition(VALID, source_name=SOURCE)
    assert definition.key == "sample"
    assert [s.key for s in definition.subscales] == ["closeness", "conflict"]
    diary = load_definition(DIARY, source_name="log-v2.toml")
    assert [f.key for f in diary.fields] == ["anger", "behaviour", "child_felt"]


# (case id, text to replace, replacement, expected problem line)
QUESTIONNAIRE_CASES: list[tuple[str, str, str, str]] = [
    (
        "unknown subscale",
        'key = "conf_3"\nsubscale = "conflict"',
        'key = "conf_3"\nsubscale = "confict"',
        'sample-v1.toml: item "conf_3": unknown subscale "confict"',
    ),
    (
        "duplicate item key",
        'key = "conf_2"',
        'key = "conf_1"',
        'sample-v1.toml: item "conf_1": key is used 2 times; keys must be unique',
    ),
    (
        "duplicate subscale key",
        'key = "conflict"',
        'key = "closeness"',
        'sample-v1.toml: subscale "closeness": key is used 2 times; keys must be unique',
    ),
    (
        "missing en translation of an item",
        'text.en = "{name} avoids me."\n',
        "",
        'sample-v1.toml: item "close_2": missing "en" translation of text',
    ),
    (
        "missing nl translation of the title",
        'title = { nl = "Voorbeeld", en = "Sample" }',
        'title = { en = "Sample" }',
        'sample-v1.toml: title: missing "nl" translation',
    ),
    (
        "missing en translation of a subscale label",
        'label = { nl = "Conflict", en = "Conflict" }',
        'label = { nl = "Conflict" }',
        'sample-v1.toml: subscale "conflict": missing "en" translation of label',
    ),
    (
        "missing en translation of an anchor",
        '{ value = 5, label = { nl = "altijd", en = "always" } }',
        '{ value = 5, label = { nl = "altijd" } }',
        'sample-v1.toml: scale: missing "en" translation of anchors[value=5].label',
    ),
    (
        "empty translation",
        'text.nl = "We botsen."',
        'text.nl = "  "',
        'sample-v1.toml: item "conf_1": empty "nl" translation of text',
    ),
    (
        "missing translation in a sector override",
        'text.sectors.childcare.en = "{name} smiles at me in the group."\n',
        "",
        'sample-v1.toml: item "close_1": missing "en" translation of text.sectors.childcare',
    ),
    (
        "keying not allowed",
        'keying = "negative"',
        'keying = "reversed"',
        'sample-v1.toml: item "close_2": keying "reversed" is not allowed; '
        "use 'positive' or 'negative'",
    ),
    (
        "scale min not below max",
        "min = 1\nmax = 5",
        "min = 5\nmax = 5",
        "sample-v1.toml: scale: min (5) must be less than max (5)",
    ),
    (
        "anchor outside the scale",
        '{ value = 5, label = { nl = "altijd", en = "always" } },',
        '{ value = 5, label = { nl = "altijd", en = "always" } },\n'
        '    { value = 7, label = { nl = "x", en = "x" } },',
        "sample-v1.toml: scale: anchor 7 is outside the scale 1 to 5",
    ),
    (
        "missing end anchor",
        '    { value = 5, label = { nl = "altijd", en = "always" } },\n',
        "",
        "sample-v1.toml: scale: no anchor label for the highest point (5)",
    ),
    (
        "reliability of 1",
        "reliability = 0.8",
        "reliability = 1.0",
        'sample-v1.toml: subscale "closeness": reliability 1.0 must be between 0 and 1',
    ),
    (
        "reliability of 0",
        "reliability = 0.8",
        "reliability = 0",
        'sample-v1.toml: subscale "closeness": reliability 0.0 must be between 0 and 1',
    ),
    (
        "negative sd",
        "sd = 0.6",
        "sd = -0.6",
        'sample-v1.toml: subscale "closeness": sd -0.6 must be greater than 0',
    ),
    (
        "impossibly large sd",
        "sd = 0.6",
        "sd = 6",
        'sample-v1.toml: subscale "closeness": sd 6.0 is impossible for a mean score',
    ),
    (
        "sd without reliability",
        "reliability = 0.8\n",
        "",
        'sample-v1.toml: subscale "closeness": give sd and reliability together',
    ),
    (
        "sd that is not a number",
        "sd = 0.6",
        'sd = "0.6"',
        'sample-v1.toml: subscale "closeness": "sd" should be a number',
    ),
    (
        "min_answered above the item count",
        "min_answered = 2\nsd",
        "min_answered = 3\nsd",
        'sample-v1.toml: subscale "closeness": min_answered is 3 but the subscale has only 2',
    ),
    (
        "min_answered below 1",
        "min_answered = 2\nsd",
        "min_answered = 0\nsd",
        'sample-v1.toml: subscale "closeness": min_answered must be at least 1, not 0',
    ),
    (
        "subscale without items",
        "min_answered = 2\n\n[[items]]",
        'min_answered = 1\n\n[[subscales]]\nkey = "warmth"\n'
        'label = { nl = "Warmte", en = "Warmth" }\nhigher_is_better = true\n'
        "min_answered = 1\n\n[[items]]",
        'sample-v1.toml: subscale "warmth": has no items',
    ),
    (
        "unknown sector in an item override",
        'childcare.nl = "{name} lacht naar me op de groep."\ntext.sectors.childcare.en',
        'school.nl = "{name} lacht naar me op de groep."\ntext.sectors.school.en',
        'sample-v1.toml: item "close_1": unknown sector "school" in text overrides',
    ),
    (
        "unknown sector in the instructions",
        "[instructions.sectors.education]",
        "[instructions.sectors.primary_school]",
        'sample-v1.toml: instructions: unknown sector "primary_school" in text overrides',
    ),
    (
        "unknown placeholder",
        'text.nl = "{name} ontloopt me."',
        'text.nl = "{naam} ontloopt me."',
        'sample-v1.toml: item "close_2": text (nl) uses unknown placeholder "{naam}"; '
        "only {name} is allowed",
    ),
    (
        "placeholder with attribute access",
        'text.en = "{name} avoids me."',
        'text.en = "{name.__class__} avoids me."',
        'sample-v1.toml: item "close_2": text (en) uses unknown placeholder "{name.__class__}"',
    ),
    (
        "placeholder with format options",
        'text.en = "{name} avoids me."',
        'text.en = "{name!r:>99} avoids me."',
        'sample-v1.toml: item "close_2": text (en) must write the placeholder exactly as {name}',
    ),
    (
        "unmatched brace",
        'text.en = "We clash."',
        'text.en = "We clash {."',
        'sample-v1.toml: item "conf_1": text (en) has an unmatched "{" or "}"',
    ),
    (
        "misspelt field",
        "higher_is_better = false",
        "higher_is_beter = false",
        'sample-v1.toml: subscale "conflict": unknown field "higher_is_beter"',
    ),
    (
        "missing required field",
        "higher_is_better = false\n",
        "",
        'sample-v1.toml: subscale "conflict": missing required field "higher_is_better"',
    ),
    (
        "version as text",
        "version = 1",
        'version = "1"',
        'sample-v1.toml: "version" should be a whole number',
    ),
    (
        "unknown kind",
        'kind = "questionnaire"',
        'kind = "survey"',
        'sample-v1.toml: kind "survey" is not allowed',
    ),
    (
        "unknown scoring rule",
        'scoring = "mean"',
        'scoring = "median"',
        'sample-v1.toml: scoring "median" is not allowed',
    ),
    (
        "questionnaire without a scale",
        SCALE_BLOCK,
        "",
        "sample-v1.toml: a questionnaire needs a [scale] table",
    ),
    (
        "unknown top-level table",
        "[scale]",
        "[scael]",
        'sample-v1.toml: unknown field "scael" (check the spelling)',
    ),
    (
        "anchor labelled twice",
        '{ value = 5, label = { nl = "altijd", en = "always" } },',
        '{ value = 5, label = { nl = "altijd", en = "always" } },\n'
        '    { value = 5, label = { nl = "steeds", en = "ever" } },',
        "sample-v1.toml: scale: anchor 5 is labelled more than once",
    ),
    (
        "bad key",
        'key = "sample"',
        'key = "Sample Scale"',
        'sample-v1.toml: key "Sample Scale" should be lower-case letters',
    ),
    (
        "key too long for the database",
        'key = "sample"',
        'key = "' + "s" * 61 + '"',
        "sample-v1.toml: key is 61 characters long; the limit is 60",
    ),
    (
        "item key too long",
        'key = "close_1"',
        'key = "' + "c" * 61 + '"',
        'sample-v1.toml: item "' + "c" * 60 + '…": key is 61 characters long; the limit is 60',
    ),
    (
        "version too high for the database",
        "version = 1",
        "version = 2147483648",
        "sample-v1.toml: version should be between 1 and 9999, not 2147483648",
    ),
    (
        "a scale too wide for radio buttons",
        "min = 1\nmax = 5",
        "min = 1\nmax = 100000000000",
        "sample-v1.toml: scale: 1 to 100000000000 is 100000000000 answer points; "
        "a scale can have at most 11",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [case[1:] for case in QUESTIONNAIRE_CASES],
    ids=[case[0] for case in QUESTIONNAIRE_CASES],
)
def test_it_names_file_part_and_problem(old: str, new: str, expected: str) -> None:
    problems = _problems(_replace(VALID, old, new))
    assert any(problem.startswith(expected) for problem in problems), problems


DIARY_CASES: list[tuple[str, str, str, str]] = [
    (
        "a diary scale too wide",
        "min = 0\nmax = 4",
        "min = 0\nmax = 40",
        'log-v2.toml: scale "intensity": 0 to 40 is 41 answer points',
    ),
    (
        "unknown scale",
        'scale = "intensity"',
        'scale = "strength"',
        'log-v2.toml: field "anger": unknown scale "strength"',
    ),
    (
        "scale field without a scale",
        'scale = "intensity"\n',
        "",
        'log-v2.toml: field "anger": a "scale" field needs scale =',
    ),
    (
        "unknown group",
        'group = "emotions"',
        'group = "feelings"',
        'log-v2.toml: field "anger": unknown group "feelings"',
    ),
    (
        "tags without options",
        'options = [{ key = "withdrew", label = { nl = "trok zich terug", en = "withdrew" } }]',
        "",
        'log-v2.toml: field "behaviour": a tags field needs at least one',
    ),
    (
        "option missing a translation",
        'label = { nl = "trok zich terug", en = "withdrew" }',
        'label = { nl = "trok zich terug" }',
        'log-v2.toml: field "behaviour": missing "en" translation of options["withdrew"].label',
    ),
    (
        "text field without max_length",
        "max_length = 500\n",
        "",
        'log-v2.toml: field "child_felt": a text field needs max_length',
    ),
    (
        "unknown field type",
        'type = "text"',
        'type = "essay"',
        'log-v2.toml: field "child_felt": type "essay" is not allowed',
    ),
    (
        "duplicate field key",
        'key = "child_felt"',
        'key = "anger"',
        'log-v2.toml: field "anger": key is used 2 times',
    ),
    (
        "diary scale min not below max",
        "min = 0\nmax = 4",
        "min = 4\nmax = 0",
        'log-v2.toml: scale "intensity": min (4) must be less than max (0)',
    ),
    (
        "diary with items",
        '[[fields]]\nkey = "anger"',
        '[[items]]\nkey = "x"\nsubscale = "y"\ntext = { nl = "x", en = "x" }\n\n'
        '[[fields]]\nkey = "anger"',
        "log-v2.toml: a diary uses [scales] and [[fields]]",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [case[1:] for case in DIARY_CASES],
    ids=[case[0] for case in DIARY_CASES],
)
def test_it_checks_diary_fields(old: str, new: str, expected: str) -> None:
    problems = _problems(_replace(DIARY, old, new), source="log-v2.toml")
    assert any(problem.startswith(expected) for problem in problems), problems


def test_it_reports_toml_syntax_errors_with_the_line() -> None:
    broken = _replace(VALID, 'key = "conf_2"', "key = conf_2")
    line = broken.splitlines().index("key = conf_2") + 1
    with pytest.raises(DefinitionError) as caught:
        load_definition(broken, source_name=SOURCE)
    [problem] = caught.value.problems
    assert problem.line == line
    assert str(problem).startswith(f"sample-v1.toml: line {line}: invalid TOML: ")


def test_it_reports_every_problem_at_once() -> None:
    broken = _replace(
        VALID, 'key = "conf_3"\nsubscale = "conflict"', 'key = "conf_3"\nsubscale = "x"'
    )
    broken = _replace(broken, 'text.nl = "{name} ontloopt me."', 'text.nl = "{naam}"')
    problems = _problems(broken)
    assert len(problems) >= 2
    assert any('item "conf_3": unknown subscale "x"' in p for p in problems)
    assert any('item "close_2": text (nl) uses unknown placeholder' in p for p in problems)


def test_it_checks_the_file_name_against_key_and_version() -> None:
    problems = _problems(VALID, source="sample-v2.toml")
    assert problems == [
        'sample-v2.toml: file name should be "sample-v1.toml" to match key "sample" and version 1'
    ]


def test_text_without_a_file_name_skips_the_file_name_check() -> None:
    assert load_definition(VALID, source_name="<editor>").key == "sample"
    assert load_definition(VALID).key == "sample"


def test_it_reads_files_and_names_them(tmp_path: Path) -> None:
    good = tmp_path / "sample-v1.toml"
    good.write_text(VALID, encoding="utf-8")
    bad = tmp_path / "broken-v1.toml"
    broken = _replace(VALID, 'key = "sample"', 'key = "broken"')
    bad.write_text(
        _replace(broken, 'subscale = "conflict"\ntext.nl = "Ik', 'subscale = "x"\ntext.nl = "Ik')
    )
    assert load_definition(good).key == "sample"
    problems = validate_files([good, bad])
    assert problems
    assert all(problem.source == "broken-v1.toml" for problem in problems)
    assert validate_files([good]) == []


def test_it_reports_an_unreadable_file(tmp_path: Path) -> None:
    problems = validate_files([tmp_path / "missing-v1.toml"])
    assert len(problems) == 1
    assert str(problems[0]).startswith("missing-v1.toml: cannot read file")


def test_it_reports_the_same_key_and_version_twice(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for folder in (first, second):
        (folder / "sample-v1.toml").write_text(VALID, encoding="utf-8")
    problems = validate_files([first / "sample-v1.toml", second / "sample-v1.toml"])
    assert [str(p) for p in problems] == [
        'sample-v1.toml: key "sample" version 1 is also defined in sample-v1.toml'
    ]


def test_uploads_are_parsed_from_bytes_with_any_file_name() -> None:
    definition = parse_definition_bytes(VALID.encode(), "my upload.toml")
    assert definition.file_name == "sample-v1.toml"


def test_uploads_may_start_with_a_byte_order_mark() -> None:
    assert parse_definition_bytes(b"\xef\xbb\xbf" + VALID.encode(), "x.toml").key == "sample"


def test_uploads_over_256_kib_are_refused() -> None:
    data = VALID.encode() + b"#" * MAX_UPLOAD_BYTES
    with pytest.raises(DefinitionError) as caught:
        parse_definition_bytes(data, "big.toml")
    assert "the limit is 262144 bytes (256 KiB)" in str(caught.value)


def test_uploads_that_are_not_utf8_are_refused() -> None:
    data = VALID.replace("Voorbeeld", "Vóórbeeld").encode("latin-1")
    with pytest.raises(DefinitionError) as caught:
        parse_definition_bytes(data, "latin.toml")
    assert str(caught.value).startswith("latin.toml: file is not UTF-8 text (byte 0xf3")


# (locale, sector, expected text of close_1)
RENDER_CASES = [
    ("nl", None, "Sam lacht naar me."),
    ("en", None, "Sam smiles at me."),
    ("nl", "childcare", "Sam lacht naar me op de groep."),
    ("en", "childcare", "Sam smiles at me in the group."),
    ("nl", "education", "Sam lacht naar me."),  # no override: the neutral text
]


@pytest.mark.parametrize(("locale", "sector", "expected"), RENDER_CASES)
def test_render_text_picks_the_sector_wording(
    locale: str, sector: str | None, expected: str
) -> None:
    definition = load_definition(VALID)
    item = definition.item("close_1")
    assert render_text(item, locale, sector, "Sam") == expected  # type: ignore[arg-type]


def test_render_instructions_picks_the_sector_wording() -> None:
    definition = load_definition(VALID)
    assert render_instructions(definition, "nl", "education", "Sam") == "Denk aan Sam in de klas."
    assert render_instructions(definition, "en", "youth_care", "Sam") == "Think of Sam."


def test_render_text_inserts_the_name_literally() -> None:
    item = load_definition(VALID).item("close_1")
    assert render_text(item, "en", None, "{name}{0}") == "{name}{0} smiles at me."


def test_render_text_rejects_unknown_locale_and_sector() -> None:
    item = load_definition(VALID).item("close_1")
    with pytest.raises(ValueError, match="unknown locale"):
        render_text(item, "de", None, "Sam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown sector"):
        render_text(item, "nl", "school", "Sam")  # type: ignore[arg-type]
