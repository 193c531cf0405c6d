"""Read, validate and cache programme definition files.

Works like `app.instruments.loader` and reports in the same form: every problem names the
file, the session and step, and what is wrong, e.g. `llinc-v1.toml: session "interview",
step "angry": prompt (nl) uses unknown placeholder "{naam}"; only {name} is allowed`.
A file is checked in two passes: its shape (pydantic), then the rules that span several
parts of it, which only run when the shape is right.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from app.instruments.loader import (
    KEY_PATTERN,
    MAX_UPLOAD_BYTES,
    DefinitionError,
    Finding,
    Problem,
    decode_text,
    describe_shape_error,
    load_builtin,
    readable_path,
    text_findings,
    toml_problem,
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


def load_programme(
    path_or_text: Path | str, *, source_name: str | None = None, check_file_name: bool = True
) -> ProgrammeDefinition:
    """Parse and validate one programme: a Path is read from disk, a str is TOML text."""
    if isinstance(path_or_text, Path):
        source = source_name or path_or_text.name
        try:
            data = path_or_text.read_bytes()
        except OSError as exc:
            raise DefinitionError([Problem(source, None, f"cannot read file: {exc}")]) from exc
        text = decode_text(data, source)
    else:
        source = source_name or "<text>"
        text = path_or_text

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([toml_problem(exc, source)]) from exc

    try:
        programme = ProgrammeDefinition.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionError(_shape_problems(exc, raw, source)) from exc

    problems = [Problem(source, where, message) for where, message in check_rules(programme)]
    # Only real file names are checked: "<text>" or an upload's name says nothing.
    if check_file_name and source.endswith(".toml"):
        actual = Path(source).name
        if actual != programme.file_name:
            problems.append(
                Problem(
                    source,
                    None,
                    f'file name should be "{programme.file_name}" to match key '
                    f'"{programme.key}" and version {programme.version}',
                )
            )
    if problems:
        raise DefinitionError(problems)
    return programme


def parse_programme_bytes(data: bytes, source_name: str) -> ProgrammeDefinition:
    """Validate an uploaded programme (at most 256 KiB of UTF-8 TOML)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DefinitionError(
            [
                Problem(
                    source_name,
                    None,
                    f"file is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES} bytes (256 KiB)",
                )
            ]
        )
    text = decode_text(data, source_name)
    # Stored under programme.file_name once accepted, so the upload's own name is moot.
    return load_programme(text, source_name=source_name, check_file_name=False)


def validate_programme_files(paths: Iterable[Path | str]) -> list[Problem]:
    """Return every problem in the given programme files (an empty list means all valid)."""
    _programmes, problems = _load_all(Path(path) for path in paths)
    return problems


def builtin_programme_paths() -> list[Path]:
    """Return the paths of the shipped programme files, sorted by name."""
    return sorted(BUILTIN_DIR.glob("*.toml"))


def _load_all(
    paths: Iterable[Path],
) -> tuple[dict[tuple[str, int], ProgrammeDefinition], list[Problem]]:
    programmes: dict[tuple[str, int], ProgrammeDefinition] = {}
    origin: dict[tuple[str, int], str] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            programme = load_programme(path)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        identity = (programme.key, programme.version)
        if identity in programmes:
            # Only possible with files from several folders.
            problems.append(
                Problem(
                    path.name,
                    None,
                    f'key "{programme.key}" version {programme.version} is also defined '
                    f"in {origin[identity]}",
                )
            )
            continue
        programmes[identity] = programme
        origin[identity] = path.name
    return programmes, problems


@cache
def _load_builtin_cached() -> dict[tuple[str, int], ProgrammeDefinition]:
    programmes, problems = _load_all(builtin_programme_paths())
    if problems:
        raise DefinitionError(problems)
    return programmes


def load_builtin_programmes() -> dict[tuple[str, int], ProgrammeDefinition]:
    """Return all shipped programmes by (key, version); raise DefinitionError if any is bad."""
    # A copy, so a caller adding to the dict cannot change what the next caller sees.
    return dict(_load_builtin_cached())


def builtin_programme(key: str, version: int | None = None) -> ProgrammeDefinition:
    """Return one shipped programme, the newest version unless a version is given."""
    programmes = _load_builtin_cached()
    if version is not None:
        try:
            return programmes[(key, version)]
        except KeyError:
            raise KeyError(f'no built-in programme "{key}" version {version}') from None
    versions = [v for k, v in programmes if k == key]
    if not versions:
        raise KeyError(f'no built-in programme "{key}"')
    return programmes[(key, max(versions))]


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
