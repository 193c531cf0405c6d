"""Read, validate and cache instrument definition files.

Reading, caching and the checks every kind of file shares are in `app.definition_files`;
this module knows what an instrument looks like. Every problem names the file, the part
of the file (item, subscale, field, ...) and what is wrong, in plain English, e.g.
`relationship-v1.toml: item "conf_3": unknown subscale "confict"`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from app.definition_files import DefinitionError as DefinitionError  # part of app.instruments
from app.definition_files import DefinitionFiles, Finding, Problem
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

BUILTIN_DIR: Final = Path(__file__).parent / "definitions"
KEY_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*")
#: Upper bound for the max_length of a free-text diary field.
MAX_TEXT_LENGTH: Final = 10_000
#: Versions and keys are stored in database columns (INTEGER, 60 characters) and used in
#: URLs ("<key>-v<version>"); a response scale is a row of radio buttons.
MAX_VERSION: Final = 9999
MAX_KEY_LENGTH: Final = 60
MAX_SCALE_POINTS: Final = 11

_LIST_LABELS: Final = {
    "items": "item",
    "subscales": "subscale",
    "fields": "field",
    "groups": "group",
}


# --- shared with app.programmes ----------------------------------------------------------

# Public names for the helpers that describe problems, so that programme files are
# reported exactly like instrument files.


def describe_shape_error(error: Any, path: str) -> str:
    """Return one pydantic error about the field at `path` as a plain-English message."""
    return _describe(error, path)


def fill_name(text: str, name: str) -> str:
    """Return a text with {name} filled in, refusing any other placeholder."""
    return _fill(text, name)


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


# --- the files ---------------------------------------------------------------------------

INSTRUMENT_FILES: Final = DefinitionFiles(
    kind="instrument",
    folder=BUILTIN_DIR,
    validate=InstrumentDefinition.model_validate,
    shape_problems=_shape_problems,
    check_rules=check_rules,
)
load_definition = INSTRUMENT_FILES.load
parse_definition_bytes = INSTRUMENT_FILES.parse_upload
validate_files = INSTRUMENT_FILES.problems_in
builtin_paths = INSTRUMENT_FILES.builtin_paths
load_builtin = INSTRUMENT_FILES.builtin
builtin_definition = INSTRUMENT_FILES.builtin_one
