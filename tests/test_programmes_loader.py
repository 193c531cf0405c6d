"""Loading and validating programme files: every broken case says where and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.definition_files import MAX_UPLOAD_BYTES
from app.programmes import (
    DefinitionError,
    builtin_programme,
    load_builtin_programmes,
    load_programme,
    parse_programme_bytes,
    render_probes,
    render_prompt,
    validate_programme_files,
)

SOURCE = "sample-v1.toml"

VALID = """\
key = "sample"
version = 1
licence = "Test only."
title = { nl = "Voorbeeld", en = "Sample" }
description = { nl = "Een test.", en = "A test." }

[[sessions]]
key = "intake"
phase = "baseline"
title = { nl = "Start", en = "Start" }
description = { nl = "Begin.", en = "Begin." }

[[sessions.steps]]
key = "consent"
type = "consent"
title = { nl = "Toestemming", en = "Consent" }
prompt = { nl = "Akkoord?", en = "Agree?" }

[[sessions.steps]]
key = "relationship"
type = "instrument"
instrument = "relationship"
title = { nl = "Relatie", en = "Relationship" }
prompt = { nl = "Over {name}.", en = "About {name}." }

[[sessions]]
key = "extra"
phase = "consolidation"
opens = "coach"
optional = true
suggested_days_after_previous = 3
title = { nl = "Extra", en = "Extra" }
description = { nl = "Als je wilt.", en = "If you like." }

[[sessions.steps]]
key = "contrast"
type = "reflection"
required = false
title = { nl = "Een ander", en = "Someone else" }
prompt = { nl = "Denk aan een ander.", en = "Think of someone else." }

[[sessions]]
key = "interview"
phase = "interview"
opens = "coach"
suggested_days_after_previous = 7
title = { nl = "Interview", en = "Interview" }
description = { nl = "Vragen.", en = "Questions." }

[[sessions.steps]]
key = "angry"
type = "narrative"
title = { nl = "Boos", en = "Angry" }
prompt.nl = "Wanneer werd je boos op {name}?"
prompt.en = "When did you get angry with {name}?"
prompt.sectors.education.nl = "Wanneer werd je in de klas boos op {name}?"
prompt.sectors.education.en = "When did you get angry with {name} in class?"
probes = [{ nl = "Wat deed {name}?", en = "What did {name} do?" }]
max_length = 5000

[[sessions.steps]]
key = "experiment"
type = "experiment"
title = { nl = "Experiment", en = "Experiment" }
prompt = { nl = "Wat probeer je met {name}?", en = "What will you try with {name}?" }
"""

STEP_ANGRY = 'session "interview", step "angry"'


def _problems(text: str, source: str = SOURCE) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_programme(text, source_name=source)
    return [str(problem) for problem in caught.value.problems]


def _broken(old: str, new: str) -> str:
    assert VALID.count(old) == 1, f"test set-up: {old!r} is not unique in VALID"
    return VALID.replace(old, new)


def test_the_sample_is_valid() -> None:
    programme = load_programme(VALID, source_name=SOURCE)
    assert [session.key for session in programme.sessions] == ["intake", "extra", "interview"]
    assert programme.step("interview", "angry").max_length == 5000


def test_a_first_session_opened_by_a_coach_is_allowed() -> None:
    text = _broken('phase = "baseline"', 'phase = "baseline"\nopens = "coach"')
    assert load_programme(text, source_name=SOURCE).sessions[0].opens == "coach"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'key = "interview"',
            'key = "intake"',
            'session "intake": key is used 2 times; keys must be unique',
            id="duplicate-session",
        ),
        pytest.param(
            'key = "experiment"',
            'key = "angry"',
            'session "interview", step "angry": key is used 2 times; keys must be unique',
            id="duplicate-step",
        ),
        pytest.param(
            'type = "narrative"',
            'type = "story"',
            f"{STEP_ANGRY}: type \"story\" is not allowed; use 'consent', 'instrument', "
            "'narrative', 'three_words', 'reflection' or 'experiment'",
            id="unknown-step-type",
        ),
        pytest.param(
            'instrument = "relationship"\n',
            "",
            'session "intake", step "relationship": an "instrument" step needs '
            'instrument = "<key of a built-in instrument>"',
            id="instrument-missing",
        ),
        pytest.param(
            'instrument = "relationship"',
            'instrument = "relashionship"',
            'session "intake", step "relationship": unknown instrument "relashionship"; '
            "use one of alliance, efficacy, empathy, pulse, relationship, strain",
            id="instrument-unknown",
        ),
        pytest.param(
            'instrument = "relationship"',
            'instrument = "diary"',
            'session "intake", step "relationship": instrument "diary" is a diary, '
            "which cannot be a step",
            id="instrument-diary",
        ),
        pytest.param(
            "max_length = 5000",
            'max_length = 5000\ninstrument = "strain"',
            f'{STEP_ANGRY}: only "instrument" steps take an instrument, not a "narrative" step',
            id="instrument-on-narrative",
        ),
        pytest.param(
            'prompt.en = "When did you get angry with {name}?"\n',
            "",
            f'{STEP_ANGRY}: missing "en" translation of prompt',
            id="missing-en",
        ),
        pytest.param(
            'prompt.sectors.education.nl = "Wanneer werd je in de klas boos op {name}?"\n',
            "",
            f'{STEP_ANGRY}: missing "nl" translation of prompt.sectors.education',
            id="missing-nl-in-sector",
        ),
        pytest.param(
            'probes = [{ nl = "Wat deed {name}?", en = "What did {name} do?" }]',
            'probes = [{ nl = "Wat deed {name}?" }]',
            f'{STEP_ANGRY}: missing "en" translation of probes[#1]',
            id="missing-en-in-probe",
        ),
        pytest.param(
            'title = { nl = "Boos", en = "Angry" }',
            'title = { nl = "  ", en = "Angry" }',
            f'{STEP_ANGRY}: empty "nl" translation of title',
            id="empty-title",
        ),
        pytest.param(
            'description = { nl = "Vragen.", en = "Questions." }',
            'description = { nl = "Vragen.", en = "" }',
            'session "interview": empty "en" translation of description',
            id="empty-session-description",
        ),
        pytest.param(
            'title = { nl = "Voorbeeld", en = "Sample" }',
            "",
            'missing required field "title"',
            id="missing-programme-title",
        ),
        pytest.param(
            'prompt.sectors.education.nl = "Wanneer werd je in de klas boos op {name}?"\n'
            'prompt.sectors.education.en = "When did you get angry with {name} in class?"',
            'prompt.sectors.school.nl = "Wanneer werd je in de klas boos op {name}?"\n'
            'prompt.sectors.school.en = "When did you get angry with {name} in class?"',
            f'{STEP_ANGRY}: unknown sector "school" in prompt overrides; use one of '
            "education, childcare, disability, youth_care, family_home",
            id="unknown-sector",
        ),
        pytest.param(
            'prompt.nl = "Wanneer werd je boos op {name}?"',
            'prompt.nl = "Wanneer werd je boos op {naam}?"',
            f'{STEP_ANGRY}: prompt (nl) uses unknown placeholder "{{naam}}"; '
            "only {name} is allowed",
            id="unknown-placeholder",
        ),
        pytest.param(
            'en = "What did {name} do?"',
            'en = "What did {child} do?"',
            f'{STEP_ANGRY}: probe 1 (en) uses unknown placeholder "{{child}}"; '
            "only {name} is allowed",
            id="unknown-placeholder-in-probe",
        ),
        pytest.param(
            'prompt.sectors.education.en = "When did you get angry with {name} in class?"',
            'prompt.sectors.education.en = "When did you get angry with {name!r} in class?"',
            f"{STEP_ANGRY}: prompt for sector education (en) must write the placeholder "
            "exactly as {name}, without format options",
            id="placeholder-with-conversion",
        ),
        pytest.param(
            'title = { nl = "Boos", en = "Angry" }',
            'title = { nl = "Boos op {name}", en = "Angry" }',
            f"{STEP_ANGRY}: title (nl) cannot use {{name}} or braces; only prompts can",
            id="placeholder-in-title",
        ),
        pytest.param(
            'prompt = { nl = "Wat probeer je met {name}?", en = "What will you try with {name}?" }',
            'prompt = { nl = "Wat probeer je met {name}?", en = "What will you try with {name}?" }'
            '\ninstrument = "strain"',
            'session "interview", step "experiment": only "instrument" steps take an '
            'instrument, not an "experiment" step',
            id="instrument-on-experiment",
        ),
        pytest.param(
            "max_length = 5000",
            "max_length = 0",
            f"{STEP_ANGRY}: max_length 0 must be between 1 and 50000",
            id="max-length-zero",
        ),
        pytest.param(
            "max_length = 5000",
            "max_length = 50001",
            f"{STEP_ANGRY}: max_length 50001 must be between 1 and 50000",
            id="max-length-too-long",
        ),
        pytest.param(
            'type = "consent"',
            'type = "consent"\nmax_length = 100',
            'session "intake", step "consent": a "consent" step takes no text, so no max_length',
            id="max-length-on-consent",
        ),
        pytest.param(
            'instrument = "relationship"',
            'instrument = "relationship"\nprobes = [{ nl = "En?", en = "And?" }]',
            'session "intake", step "relationship": an "instrument" step takes no text, '
            "so no probes",
            id="probes-on-instrument",
        ),
        pytest.param(
            'type = "consent"',
            'type = "consent"\nrequired = false',
            'session "intake", step "consent": a consent step must be required',
            id="consent-not-required",
        ),
        pytest.param(
            'phase = "baseline"',
            'phase = "baseline"\noptional = true',
            'session "intake": the first session cannot be optional',
            id="first-session-optional",
        ),
        pytest.param(
            'phase = "baseline"',
            'phase = "baseline"\nsuggested_days_after_previous = 2',
            'session "intake": the first session has no previous session; '
            "leave suggested_days_after_previous at 0",
            id="first-session-days",
        ),
        pytest.param(
            'phase = "interview"',
            'phase = "talk"',
            'session "interview": phase "talk" is not allowed; use \'baseline\', '
            "'interview', 'reflection', 'consolidation', 'post' or 'follow_up'",
            id="unknown-phase",
        ),
        pytest.param(
            'opens = "coach"\nsuggested',
            'opens = "manual"\nsuggested',
            "session \"interview\": opens \"manual\" is not allowed; use 'auto' or 'coach'",
            id="unknown-opens",
        ),
        pytest.param(
            "suggested_days_after_previous = 7",
            "suggested_days_after_previous = -1",
            'session "interview": suggested_days_after_previous must be 0 or more, not -1',
            id="negative-days",
        ),
        pytest.param(
            "max_length = 5000",
            "max_length = 5000\nrequird = true",
            f'{STEP_ANGRY}: unknown field "requird" (check the spelling)',
            id="unknown-field",
        ),
        pytest.param(
            "max_length = 5000",
            'max_length = 5000\nrequired = "yes"',
            f'{STEP_ANGRY}: "required" should be true or false',
            id="wrong-type",
        ),
        pytest.param(
            'key = "angry"',
            'key = "Angry-1"',
            'session "interview", step "Angry-1": key should be lower-case letters, digits '
            "and _ and start with a letter",
            id="bad-step-key",
        ),
        pytest.param(
            'licence = "Test only."',
            'licence = " "',
            "licence is empty; say who wrote the texts and on what terms",
            id="empty-licence",
        ),
    ],
)
def test_each_broken_case_names_the_problem(old: str, new: str, expected: str) -> None:
    assert f"{SOURCE}: {expected}" in _problems(_broken(old, new))


def test_a_session_without_steps_is_reported() -> None:
    text = VALID.split("[[sessions]]")[0] + (
        '[[sessions]]\nkey = "intake"\nphase = "baseline"\n'
        'title = { nl = "Start", en = "Start" }\ndescription = { nl = "Begin.", en = "Begin." }\n'
    )
    assert _problems(text) == [
        f'{SOURCE}: session "intake": a session needs at least one [[sessions.steps]] entry'
    ]


def test_a_programme_without_sessions_is_reported() -> None:
    text = VALID.split("[[sessions]]")[0]
    assert _problems(text) == [f"{SOURCE}: a programme needs at least one [[sessions]] entry"]


def test_all_problems_of_a_file_are_reported_together() -> None:
    text = _broken("max_length = 5000", "max_length = 0").replace(
        'key = "experiment"', 'key = "angry"'
    )
    assert _problems(text) == [
        f'{SOURCE}: session "interview", step "angry": key is used 2 times; keys must be unique',
        f"{SOURCE}: {STEP_ANGRY}: max_length 0 must be between 1 and 50000",
    ]


def test_a_file_name_must_match_key_and_version() -> None:
    assert _problems(VALID, source="sample-v2.toml") == [
        'sample-v2.toml: file name should be "sample-v1.toml" to match key "sample" and version 1'
    ]


def test_toml_syntax_errors_name_the_line() -> None:
    problems = _problems('key = "sample"\nversion = \n')
    assert len(problems) == 1
    assert problems[0].startswith(f"{SOURCE}: line 2: invalid TOML: ")


def test_an_upload_is_checked_without_its_file_name() -> None:
    programme = parse_programme_bytes(VALID.encode(), "whatever.toml")
    assert programme.file_name == "sample-v1.toml"


def test_an_upload_must_be_utf8() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_programme_bytes(VALID.encode("utf-16"), "upload.toml")
    assert "is not UTF-8 text" in str(caught.value)


def test_an_upload_must_not_be_too_large() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_programme_bytes(b"#" * (MAX_UPLOAD_BYTES + 1), "big.toml")
    assert "the limit is 262144 bytes (256 KiB)" in str(caught.value)


def test_validate_files_reports_the_same_programme_twice(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / SOURCE, tmp_path / "b" / SOURCE
    first.write_text(VALID, encoding="utf-8")
    second.write_text(VALID, encoding="utf-8")
    assert validate_programme_files([first]) == []
    problems = [str(problem) for problem in validate_programme_files([first, second])]
    assert problems == [f'{SOURCE}: key "sample" version 1 is also defined in {SOURCE}']


def test_validate_files_reports_an_unreadable_file(tmp_path: Path) -> None:
    problems = validate_programme_files([tmp_path / "missing-v1.toml"])
    assert len(problems) == 1
    assert str(problems[0]).startswith("missing-v1.toml: cannot read file: ")


# --- the model -----------------------------------------------------------------------------


def test_text_limits_default_by_step_type() -> None:
    programme = load_programme(VALID, source_name=SOURCE)
    assert programme.step("interview", "angry").text_limit == 5000
    assert programme.step("interview", "experiment").text_limit == 1000
    assert programme.step("extra", "contrast").text_limit == 20000
    assert programme.step("intake", "consent").text_limit is None
    assert programme.step("intake", "relationship").text_limit is None


def test_lookups_raise_key_error_for_unknown_keys() -> None:
    programme = load_programme(VALID, source_name=SOURCE)
    with pytest.raises(KeyError, match="no session"):
        programme.session("nope")
    with pytest.raises(KeyError, match="no step"):
        programme.step("intake", "nope")
    with pytest.raises(KeyError, match="no session"):
        programme.prerequisites("nope")


def test_an_auto_session_waits_only_for_earlier_non_optional_sessions() -> None:
    programme = load_programme(VALID, source_name=SOURCE)
    assert programme.prerequisites("intake") == ()
    assert programme.prerequisites("extra") == ("intake",)
    assert programme.prerequisites("interview") == ("intake",)


def test_suggested_days_count_from_the_previous_non_optional_session() -> None:
    programme = load_programme(VALID, source_name=SOURCE)
    # "extra" is optional, so the interview counts from the intake, not from "extra".
    assert programme.suggested_offsets() == {"intake": 0, "extra": 3, "interview": 7}


def test_definitions_are_frozen() -> None:
    programme = load_programme(VALID, source_name=SOURCE)
    with pytest.raises(ValidationError):
        programme.sessions[0].optional = True  # type: ignore[misc]


def test_instrument_keys_lists_each_instrument_once() -> None:
    assert load_programme(VALID, source_name=SOURCE).instrument_keys() == ("relationship",)


# --- rendering ---------------------------------------------------------------------------


def test_render_prompt_fills_in_the_name() -> None:
    step = load_programme(VALID, source_name=SOURCE).step("interview", "angry")
    assert render_prompt(step, "nl", None, "Sam") == "Wanneer werd je boos op Sam?"
    assert render_prompt(step, "en", None, "Sam") == "When did you get angry with Sam?"


def test_render_prompt_uses_the_sector_override_and_falls_back_to_neutral() -> None:
    step = load_programme(VALID, source_name=SOURCE).step("interview", "angry")
    assert (
        render_prompt(step, "nl", "education", "Sam") == "Wanneer werd je in de klas boos op Sam?"
    )
    assert (
        render_prompt(step, "en", "education", "Sam") == "When did you get angry with Sam in class?"
    )
    assert render_prompt(step, "nl", "childcare", "Sam") == "Wanneer werd je boos op Sam?"


def test_render_prompt_does_not_interpret_braces_in_the_name() -> None:
    step = load_programme(VALID, source_name=SOURCE).step("interview", "angry")
    assert render_prompt(step, "en", None, "{name}") == "When did you get angry with {name}?"


def test_render_prompt_refuses_unknown_locale_or_sector() -> None:
    step = load_programme(VALID, source_name=SOURCE).step("interview", "angry")
    with pytest.raises(ValueError, match="unknown sector"):
        render_prompt(step, "nl", "school", "Sam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown locale"):
        render_prompt(step, "de", None, "Sam")  # type: ignore[arg-type]


def test_render_probes_fills_in_the_name() -> None:
    step = load_programme(VALID, source_name=SOURCE).step("interview", "angry")
    assert render_probes(step, "nl", "education", "Sam") == ["Wat deed Sam?"]
    assert render_probes(load_programme(VALID).step("intake", "consent"), "en", None, "x") == []


# --- built-ins -----------------------------------------------------------------------------


def test_builtin_lookup_by_key_and_version() -> None:
    assert builtin_programme("llinc") is builtin_programme("llinc", 1)
    with pytest.raises(KeyError, match='no built-in programme "nope"'):
        builtin_programme("nope")
    with pytest.raises(KeyError, match="version 99"):
        builtin_programme("llinc", 99)


def test_load_builtin_programmes_returns_a_copy() -> None:
    programmes = load_builtin_programmes()
    programmes.clear()
    assert ("llinc", 1) in load_builtin_programmes()


def test_reminder_defaults_are_read_and_checked() -> None:
    plain = load_programme(VALID, source_name=SOURCE)
    assert plain.reminders.session_idle_days == 3  # the built-in default
    own = load_programme(VALID + "\n[reminders]\ndiary_idle_days = 10\n", source_name=SOURCE)
    assert own.reminders.diary_idle_days == 10
    wrong = VALID + "\n[reminders]\nsession_idle_days = 0\n"
    expected = "reminders: session_idle_days should be between 1 and 60, not 0"
    assert f"{SOURCE}: {expected}" in _problems(wrong)
