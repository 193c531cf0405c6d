"""Read, validate and cache instrument definition files.

Every problem names the file, the part of the file (item, subscale, field, ...) and what
is wrong, in plain English, e.g. `relationship-v1.toml: item "conf_3": unknown subscale
"confict"`. A file is checked in two passes: its shape (pydantic), then the rules that
span several parts of it. The second pass only runs when the first passes, because it
needs a well-formed definition to look at.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from app.instruments.schema import (
    LOCALES,
    SECTORS,
    InstrumentDefinition,
    ResponseScale,
    SectorText,
    Translation,
    _fill,
    placeholder_problem,
)

#: Uploaded definitions larger than this are refused before parsing; the largest
#: built-in is about 20 KiB.
MAX_UPLOAD_BYTES: Final = 256 * 1024
BUILTIN_DIR: Final = Path(__file__).parent / "definitions"
KEY_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*")
#: Upper bound for the max_length of a free-text diary field.
MAX_TEXT_LENGTH: Final = 10_000
#: Versions and keys are stored in database columns (INTEGER, 60 characters) and used in
#: URLs ("<key>-v<version>"); a response scale is a row of radio buttons.
MAX_VERSION: Final = 9999
MAX_KEY_LENGTH: Final = 60
MAX_SCALE_POINTS: Final = 11

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_LIST_LABELS: Final = {
    "items": "item",
    "subscales": "subscale",
    "fields": "field",
    "groups": "group",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition file."""

    source: str
    where: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        if self.where:
            return f"{self.source}: {self.where}: {self.message}"
        return f"{self.source}: {self.message}"


class DefinitionError(ValueError):
    """A definition file (or upload) is invalid; `problems` says why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_definition(
    path_or_text: Path | str, *, source_name: str | None = None, check_file_name: bool = True
) -> InstrumentDefinition:
    """Parse and validate one definition: a Path is read from disk, a str is TOML text."""
    if isinstance(path_or_text, Path):
        source = source_name or path_or_text.name
        try:
            data = path_or_text.read_bytes()
        except OSError as exc:
            raise DefinitionError([Problem(source, None, f"cannot read file: {exc}")]) from exc
        text = _decode(data, source)
    else:
        source = source_name or "<text>"
        text = path_or_text

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([_toml_problem(exc, source)]) from exc

    try:
        definition = InstrumentDefinition.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionError(_shape_problems(exc, raw, source)) from exc

    problems = [Problem(source, where, message) for where, message in check_rules(definition)]
    # Only real file names are checked: "<text>" or an upload's name says nothing.
    if check_file_name and source.endswith(".toml"):
        actual = Path(source).name
        if actual != definition.file_name:
            problems.append(
                Problem(
                    source,
                    None,
                    f'file name should be "{definition.file_name}" to match key '
                    f'"{definition.key}" and version {definition.version}',
                )
            )
    if problems:
        raise DefinitionError(problems)
    return definition


def parse_definition_bytes(data: bytes, source_name: str) -> InstrumentDefinition:
    """Validate an uploaded definition (at most 256 KiB of UTF-8 TOML)."""
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
    text = _decode(data, source_name)
    # The app stores an accepted upload under definition.file_name, so whatever the
    # uploader called the file does not matter.
    return load_definition(text, source_name=source_name, check_file_name=False)


def validate_files(paths: Iterable[Path | str]) -> list[Problem]:
    """Return every problem in the given definition files (an empty list means all valid)."""
    _definitions, problems = _load_all(Path(path) for path in paths)
    return problems


def builtin_paths() -> list[Path]:
    """Return the paths of the shipped definition files, sorted by name."""
    return sorted(BUILTIN_DIR.glob("*.toml"))


def _load_all(
    paths: Iterable[Path],
) -> tuple[dict[tuple[str, int], InstrumentDefinition], list[Problem]]:
    definitions: dict[tuple[str, int], InstrumentDefinition] = {}
    origin: dict[tuple[str, int], str] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            definition = load_definition(path)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        identity = (definition.key, definition.version)
        if identity in definitions:
            # Only possible with file-name checks off or files from several folders.
            problems.append(
                Problem(
                    path.name,
                    None,
                    f'key "{definition.key}" version {definition.version} is also defined '
                    f"in {origin[identity]}",
                )
            )
            continue
        definitions[identity] = definition
        origin[identity] = path.name
    return definitions, problems


@cache
def _load_builtin_cached() -> dict[tuple[str, int], InstrumentDefinition]:
    definitions, problems = _load_all(builtin_paths())
    if problems:
        raise DefinitionError(problems)
    return definitions


def load_builtin() -> dict[tuple[str, int], InstrumentDefinition]:
    """Return all shipped definitions by (key, version); raise DefinitionError if any is bad."""
    # A copy, so a caller adding to the dict cannot change what the next caller sees.
    return dict(_load_builtin_cached())


def builtin_definition(key: str, version: int | None = None) -> InstrumentDefinition:
    """Return one shipped definition, the newest version unless a version is given."""
    definitions = _load_builtin_cached()
    if version is not None:
        try:
            return definitions[(key, version)]
        except KeyError:
            raise KeyError(f'no built-in instrument "{key}" version {version}') from None
    versions = [v for k, v in definitions if k == key]
    if not versions:
        raise KeyError(f'no built-in instrument "{key}"')
    return definitions[(key, max(versions))]


# --- reading -----------------------------------------------------------------------------


# Public names for the reading and error-describing helpers, shared with app.programmes so
# that programme files are read and reported exactly like instrument files.


def decode_text(data: bytes, source: str) -> str:
    """Return UTF-8 file bytes as text, or raise DefinitionError saying where it is not."""
    return _decode(data, source)


def toml_problem(exc: tomllib.TOMLDecodeError, source: str) -> Problem:
    """Return a TOML syntax error as a Problem with its line number."""
    return _toml_problem(exc, source)


def describe_shape_error(error: Any, path: str) -> str:
    """Return one pydantic error about the field at `path` as a plain-English message."""
    return _describe(error, path)


def fill_name(text: str, name: str) -> str:
    """Return a text with {name} filled in, refusing any other placeholder."""
    return _fill(text, name)


def _decode(data: bytes, source: str) -> str:
    try:
        # utf-8-sig: editors on Windows like to prepend a byte-order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            [
                Problem(
                    source,
                    None,
                    f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
                    f"{exc.start}); save it as UTF-8",
                )
            ]
        ) from exc


def _toml_problem(exc: tomllib.TOMLDecodeError, source: str) -> Problem:
    # Python 3.11's TOMLDecodeError has no lineno attribute; the position is only in
    # the message, as "(at line L, column C)".
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match is None:
        return Problem(source, None, f"invalid TOML: {message}")
    line, column = int(match.group(1)), int(match.group(2))
    detail = message[: match.start()]
    return Problem(source, f"line {line}", f"invalid TOML: {detail} (column {column})", line)


# --- pass 1: shape -----------------------------------------------------------------------


def _shape_problems(exc: ValidationError, raw: dict[str, Any], source: str) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        where, path = _locate(tuple(error["loc"]), raw)
        problems.append(Problem(source, where, _describe(error, path)))
    return problems


def _locate(loc: tuple[int | str, ...], raw: dict[str, Any]) -> tuple[str | None, str]:
    """Split a pydantic error location into 'item "x"' and a readable path inside it."""
    node: Any = raw
    where: str | None = None
    rest = loc
    if len(loc) >= 2 and loc[0] in _LIST_LABELS and isinstance(loc[1], int):
        label = _LIST_LABELS[str(loc[0])]
        entry = _child(raw.get(str(loc[0])), loc[1])
        key = entry.get("key") if isinstance(entry, dict) else None
        where = f'{label} "{key}"' if isinstance(key, str) else f"{label} #{loc[1] + 1}"
        node, rest = entry, loc[2:]
    elif len(loc) >= 2 and loc[0] == "scales":
        where = f'scale "{loc[1]}"'
        node, rest = _child(raw.get("scales"), loc[1]), loc[2:]
    elif loc and loc[0] in ("scale", "title", "instructions"):
        where = str(loc[0])
        node, rest = raw.get(str(loc[0])), loc[1:]
    return where, readable_path(node, rest)


def readable_path(node: Any, loc: Sequence[int | str]) -> str:
    """Return a pydantic error location inside `node` as e.g. `options["x"].label.nl`."""
    parts: list[str] = []
    for part in loc:
        child = _child(node, part)
        if isinstance(part, int):
            if isinstance(child, dict) and isinstance(child.get("key"), str):
                parts.append(f'["{child["key"]}"]')
            elif isinstance(child, dict) and isinstance(child.get("value"), int):
                parts.append(f"[value={child['value']}]")
            else:
                parts.append(f"[#{part + 1}]")
        else:
            parts.append(f".{part}" if parts else str(part))
        node = child
    return "".join(parts)


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _describe(error: Any, path: str) -> str:
    kind = error["type"]
    subject = f'"{path}"' if path else "this entry"
    if kind == "missing":
        head, _, last = path.rpartition(".")
        if last in LOCALES:
            return f'missing "{last}" translation' + (f" of {head}" if head else "")
        return f'missing required field "{path}"'
    if kind == "extra_forbidden":
        return f'unknown field "{path}" (check the spelling)'
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f'{path} "{error["input"]}" is not allowed; use {expected}'
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{subject} should be a table"
    if kind in ("tuple_type", "list_type"):
        return f"{subject} should be a list"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{subject} should be a whole number"
    if kind == "string_type":
        return f"{subject} should be text in quotes"
    if kind == "bool_type":
        return f"{subject} should be true or false"
    if kind == "value_error":
        # Our own validators (e.g. Number) raise messages written to follow the subject.
        return f"{subject} {error['msg'].removeprefix('Value error, ')}"
    return f"{subject}: {error['msg']}"


# --- pass 2: rules across the file -------------------------------------------------------


Finding = tuple[str | None, str]


def check_rules(definition: InstrumentDefinition) -> list[Finding]:
    """Return (where, message) for every rule a well-shaped definition breaks."""
    findings: list[Finding] = []
    findings += _check_header(definition)
    findings += _check_texts(definition)
    if definition.kind == "diary":
        findings += _check_diary(definition)
    else:
        findings += _check_questionnaire(definition)
    return findings


def _check_header(definition: InstrumentDefinition) -> Iterator[Finding]:
    if not KEY_PATTERN.fullmatch(definition.key):
        yield (
            None,
            f'key "{definition.key}" should be lower-case letters, digits and _ '
            "and start with a letter",
        )
    if len(definition.key) > MAX_KEY_LENGTH:
        yield (
            None,
            f"key is {len(definition.key)} characters long; the limit is {MAX_KEY_LENGTH}",
        )
    if not 1 <= definition.version <= MAX_VERSION:
        yield None, f"version should be between 1 and {MAX_VERSION}, not {definition.version}"
    if not definition.licence.strip():
        yield None, "licence is empty; say who wrote the items and on what terms"


def _texts(definition: InstrumentDefinition) -> Iterator[tuple[str | None, str, Translation]]:
    """Yield (where, what, text) for every translatable text in the definition."""
    yield "title", "text", definition.title
    yield "instructions", "text", definition.instructions
    if definition.scale is not None:
        for anchor in definition.scale.anchors:
            yield "scale", f"label of anchor {anchor.value}", anchor.label
    for name, scale in definition.scales.items():
        for anchor in scale.anchors:
            yield f'scale "{name}"', f"label of anchor {anchor.value}", anchor.label
    for subscale in definition.subscales:
        yield f'subscale "{subscale.key}"', "label", subscale.label
    for item in definition.items:
        yield f'item "{item.key}"', "text", item.text
    for group in definition.groups:
        yield f'group "{group.key}"', "text", group.text
    for diary_field in definition.fields:
        yield f'field "{diary_field.key}"', "text", diary_field.text
        for option in diary_field.options:
            yield f'field "{diary_field.key}"', f'label of option "{option.key}"', option.label


def _check_texts(definition: InstrumentDefinition) -> Iterator[Finding]:
    for where, what, text in _texts(definition):
        yield from text_findings(where, what, text)


def text_findings(where: str | None, what: str, text: Translation) -> Iterator[Finding]:
    """Yield empty translations, unknown sectors and bad placeholders in one text."""
    variants: list[tuple[str, Translation]] = [(what, text)]
    if isinstance(text, SectorText):
        for sector, override in text.sectors.items():
            if sector not in SECTORS:
                yield (
                    where,
                    f'unknown sector "{sector}" in {what} overrides; '
                    f"use one of {', '.join(SECTORS)}",
                )
            variants.append((f"{what} for sector {sector}", override))
    for label, variant in variants:
        for locale in LOCALES:
            value = variant.get(locale)
            if not value.strip():
                yield where, f'empty "{locale}" translation of {label}'
                continue
            problem = placeholder_problem(value)
            if problem:
                yield where, f"{label} ({locale}) {problem}"


def _check_scale(where: str, scale: ResponseScale) -> Iterator[Finding]:
    if scale.min >= scale.max:
        yield where, f"min ({scale.min}) must be less than max ({scale.max})"
        return
    points = scale.max - scale.min + 1
    if points > MAX_SCALE_POINTS:
        yield (
            where,
            f"{scale.min} to {scale.max} is {points} answer points; "
            f"a scale can have at most {MAX_SCALE_POINTS}",
        )
        return
    values = [anchor.value for anchor in scale.anchors]
    for value, count in Counter(values).items():
        if count > 1:
            yield where, f"anchor {value} is labelled more than once"
    for value in values:
        if not scale.min <= value <= scale.max:
            yield where, f"anchor {value} is outside the scale {scale.min} to {scale.max}"
    for end, name in ((scale.min, "lowest"), (scale.max, "highest")):
        if end not in values:
            yield where, f"no anchor label for the {name} point ({end})"


def _duplicates(where_label: str, keys: Iterable[str]) -> Iterator[Finding]:
    for key, count in Counter(keys).items():
        if count > 1:
            yield f'{where_label} "{key}"', f"key is used {count} times; keys must be unique"
        if len(key) > MAX_KEY_LENGTH:
            yield (
                f'{where_label} "{key[:MAX_KEY_LENGTH]}…"',
                f"key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}",
            )


def _check_questionnaire(definition: InstrumentDefinition) -> Iterator[Finding]:
    kind = definition.kind
    if definition.scale is None:
        yield None, f"a {kind} needs a [scale] table"
    else:
        yield from _check_scale("scale", definition.scale)
    if not definition.subscales:
        yield None, f"a {kind} needs at least one [[subscales]] entry"
    if not definition.items:
        yield None, f"a {kind} needs at least one [[items]] entry"
    for part in ("scales", "groups", "fields"):
        if getattr(definition, part):
            yield None, f"[{part}] is only for diary instruments, not for a {kind}"

    yield from _duplicates("subscale", (s.key for s in definition.subscales))
    yield from _duplicates("item", (i.key for i in definition.items))
    known = {subscale.key for subscale in definition.subscales}
    for item in definition.items:
        if not KEY_PATTERN.fullmatch(item.key):
            yield f'item "{item.key}"', "key should be lower-case letters, digits and _"
        if item.subscale not in known:
            yield f'item "{item.key}"', f'unknown subscale "{item.subscale}"'

    for subscale in definition.subscales:
        where = f'subscale "{subscale.key}"'
        n_items = len(definition.items_in(subscale.key))
        if n_items == 0:
            yield where, "has no items"
        elif subscale.min_answered > n_items:
            yield (
                where,
                f"min_answered is {subscale.min_answered} but the subscale has only "
                f"{n_items} item{'s' if n_items != 1 else ''}",
            )
        if subscale.min_answered < 1:
            yield where, f"min_answered must be at least 1, not {subscale.min_answered}"
        yield from _check_change_statistics(definition, subscale.key, n_items)


def _check_change_statistics(
    definition: InstrumentDefinition, subscale_key: str, n_items: int
) -> Iterator[Finding]:
    subscale = definition.subscale(subscale_key)
    where = f'subscale "{subscale.key}"'
    if (subscale.sd is None) != (subscale.reliability is None):
        yield where, "give sd and reliability together (the change index needs both)"
    if subscale.reliability is not None and not 0 < subscale.reliability < 1:
        yield where, f"reliability {subscale.reliability} must be between 0 and 1 (exclusive)"
    if subscale.sd is None:
        return
    if subscale.sd <= 0:
        yield where, f"sd {subscale.sd} must be greater than 0"
        return
    scale = definition.scale
    if scale is None or scale.min >= scale.max or n_items == 0:
        return
    # No score bounded to [low, high] can have an SD above half its range.
    rule = definition.scoring_rule(subscale)
    width: float = scale.max - scale.min
    if rule == "sum":
        width *= n_items
    elif rule == "rescale_0_100":
        width = 100
    if subscale.sd > width / 2:
        yield (
            where,
            f"sd {subscale.sd} is impossible for a {rule} score spanning {width} points "
            f"(at most {width / 2:g})",
        )


def _check_diary(definition: InstrumentDefinition) -> Iterator[Finding]:
    if definition.scale is not None or definition.subscales or definition.items:
        yield None, "a diary uses [scales] and [[fields]], not [scale], subscales or items"
    if not definition.fields:
        yield None, "a diary needs at least one [[fields]] entry"
    for name, scale in definition.scales.items():
        yield from _check_scale(f'scale "{name}"', scale)

    yield from _duplicates("field", (f.key for f in definition.fields))
    yield from _duplicates("group", (g.key for g in definition.groups))
    groups = {group.key for group in definition.groups}
    used_groups: set[str] = set()
    for diary_field in definition.fields:
        where = f'field "{diary_field.key}"'
        if not KEY_PATTERN.fullmatch(diary_field.key):
            yield where, "key should be lower-case letters, digits and _"
        if diary_field.group is not None:
            used_groups.add(diary_field.group)
            if diary_field.group not in groups:
                yield where, f'unknown group "{diary_field.group}"'
        if diary_field.type == "scale":
            if diary_field.scale is None:
                yield where, 'a "scale" field needs scale = "<name of an entry in [scales]>"'
            elif diary_field.scale not in definition.scales:
                yield where, f'unknown scale "{diary_field.scale}"'
        elif diary_field.scale is not None:
            yield where, f'only "scale" fields take a scale, not a "{diary_field.type}" field'
        if diary_field.type == "tags":
            if not diary_field.options:
                yield where, "a tags field needs at least one [[fields.options]] entry"
            yield from (
                (where, f'option "{key}": {message}')
                for key, message in _option_duplicates(diary_field.options)
            )
        elif diary_field.options:
            yield where, f'only "tags" fields take options, not a "{diary_field.type}" field'
        if diary_field.type == "text":
            length = diary_field.max_length
            if length is None:
                yield where, "a text field needs max_length"
            elif not 1 <= length <= MAX_TEXT_LENGTH:
                yield where, f"max_length {length} must be between 1 and {MAX_TEXT_LENGTH}"
        elif diary_field.max_length is not None:
            yield where, f'only "text" fields take max_length, not a "{diary_field.type}" field'
    for group in definition.groups:
        if group.key not in used_groups:
            yield f'group "{group.key}"', "no field uses this group"


def _option_duplicates(options: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for key, count in Counter(option.key for option in options).items():
        if count > 1:
            yield key, f"key is used {count} times; keys must be unique"
        if len(key) > MAX_KEY_LENGTH:
            yield (
                key[:MAX_KEY_LENGTH] + "…",
                (f"key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"),
            )
