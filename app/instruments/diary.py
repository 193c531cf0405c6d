"""Checks for one diary entry against its diary definition (diaries are not scored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.instruments.schema import InstrumentDefinition

DiaryValue = int | str | Sequence[str] | None


def check_diary_entry(definition: InstrumentDefinition, entry: Mapping[str, DiaryValue]) -> None:
    """Raise ValueError unless the entry fits the diary definition's fields."""
    if definition.kind != "diary":
        raise ValueError(f'"{definition.key}" is a {definition.kind}, not a diary')
    known = {diary_field.key for diary_field in definition.fields}
    unknown = sorted(key for key in entry if key not in known)
    if unknown:
        names = ", ".join(f'"{key}"' for key in unknown)
        raise ValueError(f"{definition.key} v{definition.version} has no field(s) {names}")

    for diary_field in definition.fields:
        value = entry.get(diary_field.key)
        where = f'field "{diary_field.key}"'
        if value is None or (not isinstance(value, int) and len(value) == 0):
            if diary_field.required:
                raise ValueError(f"{where}: an answer is required")
            continue
        if diary_field.type == "scale":
            scale = definition.scales[str(diary_field.scale)]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: {value!r} is not a whole number")
            if not scale.min <= value <= scale.max:
                raise ValueError(
                    f"{where}: {value} is outside the scale {scale.min} to {scale.max}"
                )
        elif diary_field.type == "tags":
            if isinstance(value, str | int):
                raise ValueError(f"{where}: expected a list of tags, not {value!r}")
            options = {option.key for option in diary_field.options}
            bad = [tag for tag in value if tag not in options]
            if bad:
                raise ValueError(f"{where}: unknown tag(s) {', '.join(map(repr, bad))}")
            if len(set(value)) != len(value):
                raise ValueError(f"{where}: a tag is listed more than once")
        else:
            if not isinstance(value, str):
                raise ValueError(f"{where}: expected text, not {value!r}")
            limit = diary_field.max_length or 0
            if len(value) > limit:
                raise ValueError(f"{where}: text is {len(value)} characters; the limit is {limit}")
