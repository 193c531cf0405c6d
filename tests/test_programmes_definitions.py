"""The shipped programme: valid, complete in Dutch and English, and shaped like DOMAIN.md."""

from __future__ import annotations

import pytest

from app.instruments import LOCALES, SECTORS, builtin_definition
from app.programmes import (
    ProgrammeDefinition,
    builtin_programme,
    render_probes,
    render_prompt,
    validate_programme_files,
)
from app.programmes.loader import builtin_programme_paths

QUESTIONNAIRES = ["relationship", "efficacy", "strain", "empathy"]


@pytest.fixture(scope="module")
def llinc() -> ProgrammeDefinition:
    return builtin_programme("llinc", 1)


def test_every_builtin_programme_is_valid() -> None:
    assert builtin_programme_paths()
    assert validate_programme_files(builtin_programme_paths()) == []


def test_sessions_follow_the_programme(llinc: ProgrammeDefinition) -> None:
    sessions = [(s.key, s.phase, s.opens, s.optional) for s in llinc.sessions]
    assert sessions == [
        ("intake", "baseline", "auto", False),
        ("interview", "interview", "auto", False),
        ("reflection", "reflection", "coach", False),
        ("consolidation", "consolidation", "coach", True),
        ("post", "post", "auto", False),
        ("follow_up", "follow_up", "auto", False),
    ]


def test_suggested_days_match_six_weeks_and_three_months(llinc: ProgrammeDefinition) -> None:
    days = llinc.suggested_offsets()
    assert days["interview"] - days["intake"] == 7
    assert days["reflection"] - days["interview"] == 7
    assert days["consolidation"] - days["reflection"] == 14
    assert days["post"] - days["reflection"] == 42
    assert days["follow_up"] - days["reflection"] == 90


def test_every_step_has_dutch_and_english_text(llinc: ProgrammeDefinition) -> None:
    for session in llinc.sessions:
        for text in (session.title, session.description):
            assert all(text.get(locale).strip() for locale in LOCALES), session.key
        for step in session.steps:
            texts = [step.title, step.prompt, *step.prompt.sectors.values(), *step.probes]
            for text in texts:
                assert text.nl.strip(), (session.key, step.key)
                assert text.en.strip(), (session.key, step.key)
            # Identical wording would mean an untranslated prompt.
            assert step.prompt.nl != step.prompt.en, (session.key, step.key)


def test_every_prompt_renders_cleanly_in_every_locale_and_sector(
    llinc: ProgrammeDefinition,
) -> None:
    for session in llinc.sessions:
        for step in session.steps:
            for locale in LOCALES:
                for sector in (None, *SECTORS):
                    texts = [
                        render_prompt(step, locale, sector, "Sam"),
                        *render_probes(step, locale, sector, "Sam"),
                    ]
                    for text in texts:
                        # A broken line continuation leaves a backslash or double space.
                        assert not any(mark in text for mark in ("{", "}", "\\", "  ")), text


def test_the_intake_asks_consent_then_the_four_questionnaires(
    llinc: ProgrammeDefinition,
) -> None:
    steps = llinc.session("intake").steps
    assert (steps[0].type, steps[0].required) == ("consent", True)
    assert [step.instrument for step in steps[1:]] == QUESTIONNAIRES
    for key in QUESTIONNAIRES:
        assert builtin_definition(key).kind == "questionnaire"


def test_the_interview_has_ten_to_fourteen_prompts(llinc: ProgrammeDefinition) -> None:
    interview = llinc.session("interview")
    prompts = interview.prompt_steps
    assert 10 <= len(prompts) <= 14
    assert prompts == interview.steps
    assert prompts[0].type == "three_words"
    assert all(step.type == "narrative" for step in prompts[1:])


def test_every_interview_prompt_is_about_the_child_and_has_probes(
    llinc: ProgrammeDefinition,
) -> None:
    for step in llinc.session("interview").steps:
        for locale in LOCALES:
            assert "{name}" in step.prompt.get(locale), step.key
        assert 2 <= len(step.probes) <= 3, step.key


# Words with which a prompt asks for one concrete episode rather than an opinion.
EPISODE_WORDS = {
    "nl": ("een moment", "een recent moment", "een keer", "een situatie"),
    "en": ("a moment", "a time", "a situation", "a recent moment"),
}


@pytest.mark.parametrize("sector", [None, *SECTORS])
@pytest.mark.parametrize("locale", LOCALES)
def test_every_interview_prompt_asks_for_a_concrete_episode(
    llinc: ProgrammeDefinition, locale: str, sector: str | None
) -> None:
    for step in llinc.session("interview").steps:
        text = render_prompt(step, locale, sector, "Kiki").lower()  # type: ignore[arg-type]
        assert any(word in text for word in EPISODE_WORDS[locale]), (step.key, locale, sector)


def test_reflection_and_consolidation_end_with_an_experiment(
    llinc: ProgrammeDefinition,
) -> None:
    reflection = llinc.session("reflection")
    assert [step.type for step in reflection.steps] == [
        "reflection",
        "reflection",
        "reflection",
        "experiment",
    ]
    consolidation = llinc.session("consolidation")
    assert consolidation.steps[-1].type == "experiment"
    assert consolidation.step("contrast").required is False


@pytest.mark.parametrize("session_key", ["post", "follow_up"])
def test_post_and_follow_up_repeat_the_questionnaires_and_three_words(
    llinc: ProgrammeDefinition, session_key: str
) -> None:
    steps = llinc.session(session_key).steps
    assert [step.instrument for step in steps[:-1]] == QUESTIONNAIRES
    assert steps[-1].type == "three_words"
    assert llinc.instrument_keys() == tuple(QUESTIONNAIRES)


# Words that name the child's role in one setting only; anywhere else they would
# mislabel the child, so they belong in that sector's override.
SECTOR_WORDS = {
    "education": ("leerling", "pupil", "klas", "class", "school"),
    "youth_care": ("jongere", "young person", "young people"),
    "family_home": ("gezinshuis", "family home"),
    "disability": ("dagbesteding", "day activities"),
}


def test_setting_specific_words_appear_only_in_their_sector(
    llinc: ProgrammeDefinition,
) -> None:
    for session in llinc.sessions:
        for step in session.steps:
            variants = [(None, step.prompt), *step.prompt.sectors.items()]
            variants += [(None, probe) for probe in step.probes]
            for sector, text in variants:
                for locale in LOCALES:
                    wording = text.get(locale).lower()
                    for owner, words in SECTOR_WORDS.items():
                        if owner == sector:
                            continue
                        for word in words:
                            assert word not in wording, (session.key, step.key, sector, word)
