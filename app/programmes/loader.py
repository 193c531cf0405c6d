"""Read, validate and cache programme definition files.

Read like instrument files (`app.definition_files`) and reported in the same form: every
problem names the file, the session and step, and what is wrong, e.g. `llinc-v1.toml:
session "interview", step "angry": prompt (nl) uses unknown placeholder "{naam}"; only
{name} is allowed`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from app.definition_files import DefinitionError, DefinitionFiles, Finding, Problem
from app.instruments.loader import (
    KEY_PATTERN,
    describe_shape_error,
    load_builtin,
    readable_path,
    text_findings,
)
from app.instruments.schema import LOCALES, Translation
from app.programmes.schema import (
    MAX_LENGTH_LIMIT,
    REMINDER_LIMITS,
    TEXT_STEP_TYPES,
    ProgrammeDefinition,
    SessionTemplate,
    StepTemplate,
)

BUILTIN_DIR: Final = Path(__file__).parent / "definitions"
_TOP_LEVEL_TABLES: Final = ("title", "description")


# --- pass 1: shape -----------------------------------------------------------------------


def _shape_problems(exc: ValidationError, raw: dict[str, Any], source: str) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        where, path = _locate(tuple(error["loc"]), raw)
        problems.append(Problem(source, where, describe_shape_error(error, path)))
    return problems


def _locate(loc: tuple[int | str, ...], raw: dict[str, Any]) -> tuple[str | None, str]:
    """Split a pydantic error location into 'session "x", step "y"' and a path inside it."""
    if len(loc) >= 2 and loc[0] == "sessions" and isinstance(loc[1], int):
        session = _entry(raw.get("sessions"), loc[1])
        where = _label("session", session, loc[1])
        if len(loc) >= 4 and loc[2] == "steps" and isinstance(loc[3], int):
            step = _entry(session.get("steps") if session else None, loc[3])
            return f"{where}, {_label('step', step, loc[3])}", readable_path(step, loc[4:])
        return where, readable_path(session, loc[2:])
    # Only a location *inside* the table; a missing table is reported as a missing field.
    if len(loc) >= 2 and loc[0] in _TOP_LEVEL_TABLES:
        return str(loc[0]), readable_path(raw.get(str(loc[0])), loc[1:])
    return None, readable_path(raw, loc)


def _entry(entries: Any, index: int) -> dict[str, Any] | None:
    if isinstance(entries, list) and 0 <= index < len(entries):
        entry = entries[index]
        return entry if isinstance(entry, dict) else None
    return None


def _label(kind: str, entry: dict[str, Any] | None, index: int) -> str:
    key = entry.get("key") if entry else None
    return f'{kind} "{key}"' if isinstance(key, str) else f"{kind} #{index + 1}"


# --- pass 2: rules across the file -------------------------------------------------------


def check_rules(programme: ProgrammeDefinition) -> list[Finding]:
    """Return (where, message) for every rule a well-shaped programme breaks."""
    findings: list[Finding] = []
    findings += _check_header(programme)
    findings += _check_sessions(programme)
    findings += _check_reminders(programme)
    for session in programme.sessions:
        findings += _check_session(session)
        findings += _check_steps(session)
    return findings


def _check_header(programme: ProgrammeDefinition) -> Iterator[Finding]:
    if not KEY_PATTERN.fullmatch(programme.key):
        yield (
            None,
            f'key "{programme.key}" should be lower-case letters, digits and _ '
            "and start with a letter",
        )
    if programme.version < 1:
        yield None, f"version should be 1 or higher, not {programme.version}"
    if not programme.licence.strip():
        yield None, "licence is empty; say who wrote the texts and on what terms"
    yield from _plain_text_findings("title", "text", programme.title)
    yield from _plain_text_findings("description", "text", programme.description)


def _check_reminders(programme: ProgrammeDefinition) -> Iterator[Finding]:
    for name, (low, high) in REMINDER_LIMITS.items():
        value = getattr(programme.reminders, name)
        if not low <= value <= high:
            yield "reminders", f"{name} should be between {low} and {high}, not {value}"


def _check_sessions(programme: ProgrammeDefinition) -> Iterator[Finding]:
    if not programme.sessions:
        yield None, "a programme needs at least one [[sessions]] entry"
        return
    yield from _duplicates("session", (session.key for session in programme.sessions))
    first = programme.sessions[0]
    if first.optional:
        # Nothing comes before it, so "optional" would leave a programme with no start.
        yield f'session "{first.key}"', "the first session cannot be optional"
    if first.suggested_days_after_previous:
        yield (
            f'session "{first.key}"',
            "the first session has no previous session; leave suggested_days_after_previous at 0",
        )


def _check_session(session: SessionTemplate) -> Iterator[Finding]:
    where = f'session "{session.key}"'
    if not KEY_PATTERN.fullmatch(session.key):
        yield where, "key should be lower-case letters, digits and _ and start with a letter"
    if session.suggested_days_after_previous < 0:
        yield (
            where,
            f"suggested_days_after_previous must be 0 or more, "
            f"not {session.suggested_days_after_previous}",
        )
    yield from _plain_text_findings(where, "title", session.title)
    yield from _plain_text_findings(where, "description", session.description)
    if not session.steps:
        yield where, "a session needs at least one [[sessions.steps]] entry"
    yield from _duplicates(f"{where}, step", (step.key for step in session.steps))


def _check_steps(session: SessionTemplate) -> Iterator[Finding]:
    for step in session.steps:
        yield from _check_step(f'session "{session.key}", step "{step.key}"', step)


def _check_step(where: str, step: StepTemplate) -> Iterator[Finding]:
    if not KEY_PATTERN.fullmatch(step.key):
        yield where, "key should be lower-case letters, digits and _ and start with a letter"
    yield from _plain_text_findings(where, "title", step.title)
    yield from text_findings(where, "prompt", step.prompt)
    for number, probe in enumerate(step.probes, start=1):
        yield from text_findings(where, f"probe {number}", probe)

    if step.type == "instrument":
        yield from _check_instrument(where, step.instrument)
    elif step.instrument is not None:
        yield where, f'only "instrument" steps take an instrument, not {_a(step.type)} step'

    if step.type in TEXT_STEP_TYPES:
        if step.max_length is not None and not 1 <= step.max_length <= MAX_LENGTH_LIMIT:
            yield where, f"max_length {step.max_length} must be between 1 and {MAX_LENGTH_LIMIT}"
    else:
        if step.max_length is not None:
            yield where, f"{_a(step.type)} step takes no text, so no max_length"
        if step.probes:
            yield where, f"{_a(step.type)} step takes no text, so no probes"

    if step.type == "consent" and not step.required:
        yield where, "a consent step must be required"


def _check_instrument(where: str, key: str | None) -> Iterator[Finding]:
    if key is None:
        yield where, 'an "instrument" step needs instrument = "<key of a built-in instrument>"'
        return
    try:
        instruments = load_builtin()
    except DefinitionError:
        yield where, f'cannot check instrument "{key}": the built-in instruments are invalid'
        return
    kinds = {k: definition.kind for (k, _version), definition in instruments.items()}
    if key not in kinds:
        known = ", ".join(sorted(k for k, kind in kinds.items() if kind != "diary"))
        yield where, f'unknown instrument "{key}"; use one of {known}'
    elif kinds[key] == "diary":
        # A diary is kept over weeks, one entry per event; a step is answered once.
        yield where, f'instrument "{key}" is a diary, which cannot be a step'


def _a(step_type: str) -> str:
    article = "an" if step_type[0] in "aeiou" else "a"
    return f'{article} "{step_type}"'


def _plain_text_findings(where: str | None, what: str, text: Translation) -> Iterator[Finding]:
    # Titles and descriptions are shown in overviews where no child is in view, so they
    # are plain text: no {name}, and no braces that would need escaping.
    for locale in LOCALES:
        value = text.get(locale)
        if not value.strip():
            yield where, f'empty "{locale}" translation of {what}'
        elif "{" in value or "}" in value:
            yield where, f"{what} ({locale}) cannot use {{name}} or braces; only prompts can"


def _duplicates(where_label: str, keys: Iterable[str]) -> Iterator[Finding]:
    for key, count in Counter(keys).items():
        if count > 1:
            yield f'{where_label} "{key}"', f"key is used {count} times; keys must be unique"


# --- the files ---------------------------------------------------------------------------

PROGRAMME_FILES: Final = DefinitionFiles(
    kind="programme",
    folder=BUILTIN_DIR,
    validate=ProgrammeDefinition.model_validate,
    shape_problems=_shape_problems,
    check_rules=check_rules,
)
load_programme = PROGRAMME_FILES.load
parse_programme_bytes = PROGRAMME_FILES.parse_upload
validate_programme_files = PROGRAMME_FILES.problems_in
builtin_programme_paths = PROGRAMME_FILES.builtin_paths
load_builtin_programmes = PROGRAMME_FILES.builtin
builtin_programme = PROGRAMME_FILES.builtin_one
