"""Pydantic models for one instrument definition file, plus text rendering.

The models check *shape* only (types, required fields, allowed values). Rules that span
several parts of a file (an item's subscale must exist, min_answered must fit, ...) live
in `loader.py`, so that one bad file reports all of its problems at once.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictInt, StrictStr

Locale = Literal["nl", "en"]
Sector = Literal["education", "childcare", "disability", "youth_care", "family_home"]
Kind = Literal["questionnaire", "pulse", "diary"]
ScoringRule = Literal["mean", "sum", "rescale_0_100"]
Keying = Literal["positive", "negative"]
FieldType = Literal["scale", "tags", "text"]

LOCALES: Final[tuple[Locale, ...]] = ("nl", "en")
SECTORS: Final[tuple[Sector, ...]] = (
    "education",
    "childcare",
    "disability",
    "youth_care",
    "family_home",
)
#: The only placeholder a text may use; everything else would let a definition file
#: reach into the objects passed to str.format.
PLACEHOLDER: Final = "name"


def _number(value: Any) -> Any:
    # TOML gives int or float; pydantic's lax float would also take "0.8" or true.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("should be a number")
    return value


Number = Annotated[float, BeforeValidator(_number)]


class _Model(BaseModel):
    # Frozen because load_builtin() shares one cached instance with every caller.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Translation(_Model):
    """A short text in every locale (titles, labels, anchors)."""

    nl: StrictStr
    en: StrictStr

    def get(self, locale: Locale) -> str:
        """Return the text for one locale."""
        if locale not in LOCALES:
            raise ValueError(f'unknown locale "{locale}"; use one of {", ".join(LOCALES)}')
        text: str = getattr(self, locale)
        return text


class SectorText(Translation):
    """A text in every locale, with optional per-sector wording where the setting differs."""

    sectors: dict[str, Translation] = {}

    def get_for(self, locale: Locale, sector: Sector | None) -> str:
        """Return the sector's wording if it has one, else the neutral wording."""
        if sector is not None and sector not in SECTORS:
            raise ValueError(f'unknown sector "{sector}"; use one of {", ".join(SECTORS)}')
        override = self.sectors.get(sector) if sector is not None else None
        return (override or self).get(locale)


class Anchor(_Model):
    """The label of one point of a response scale."""

    value: StrictInt
    label: Translation


class ResponseScale(_Model):
    """Integer answer points min..max with labels for (at least) both ends."""

    min: StrictInt
    max: StrictInt
    anchors: tuple[Anchor, ...] = ()

    def anchor_label(self, value: int, locale: Locale) -> str | None:
        """Return the label of one point, or None for an unlabelled middle point."""
        for anchor in self.anchors:
            if anchor.value == value:
                return anchor.label.get(locale)
        return None


class Subscale(_Model):
    """A group of items scored together."""

    key: StrictStr
    label: Translation
    higher_is_better: StrictBool
    min_answered: StrictInt
    scoring: ScoringRule | None = None
    #: SD and reliability of the subscale *score* (in the units of its scoring rule),
    #: used for the reliable change index.
    sd: Number | None = None
    reliability: Number | None = None


class Item(_Model):
    """One questionnaire item."""

    key: StrictStr
    subscale: StrictStr
    #: "negative" means agreeing with the item points the *opposite* way from its
    #: subscale, so the answer is reversed (min + max - x) before scoring.
    keying: Keying = "positive"
    text: SectorText


class TagOption(_Model):
    """One choice of a tags field."""

    key: StrictStr
    label: Translation


class FieldGroup(_Model):
    """A heading shared by several diary fields (e.g. 'What did you feel?')."""

    key: StrictStr
    text: SectorText


class DiaryField(_Model):
    """One field of a diary entry: a rating, a set of tags or free text."""

    key: StrictStr
    type: FieldType
    text: SectorText
    group: StrictStr | None = None
    required: StrictBool = False
    #: Name of an entry in the definition's [scales] table (type "scale" only).
    scale: StrictStr | None = None
    options: tuple[TagOption, ...] = ()
    max_length: StrictInt | None = None


class InstrumentDefinition(_Model):
    """One instrument in one version, as read from `<key>-v<version>.toml`."""

    key: StrictStr
    version: StrictInt
    kind: Kind
    title: Translation
    instructions: SectorText
    licence: StrictStr
    scoring: ScoringRule = "mean"
    # Questionnaires and pulses:
    scale: ResponseScale | None = None
    subscales: tuple[Subscale, ...] = ()
    items: tuple[Item, ...] = ()
    # Diaries:
    scales: dict[str, ResponseScale] = {}
    groups: tuple[FieldGroup, ...] = ()
    fields: tuple[DiaryField, ...] = ()

    @property
    def file_name(self) -> str:
        """Return the file name this definition must be stored under."""
        return f"{self.key}-v{self.version}.toml"

    def subscale(self, key: str) -> Subscale:
        """Return a subscale by key, or raise KeyError."""
        for subscale in self.subscales:
            if subscale.key == key:
                return subscale
        raise KeyError(f'{self.key} v{self.version} has no subscale "{key}"')

    def items_in(self, subscale_key: str) -> tuple[Item, ...]:
        """Return the items of one subscale in file order."""
        return tuple(item for item in self.items if item.subscale == subscale_key)

    def item(self, key: str) -> Item:
        """Return an item by key, or raise KeyError."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f'{self.key} v{self.version} has no item "{key}"')

    def field(self, key: str) -> DiaryField:
        """Return a diary field by key, or raise KeyError."""
        for diary_field in self.fields:
            if diary_field.key == key:
                return diary_field
        raise KeyError(f'{self.key} v{self.version} has no field "{key}"')

    def scoring_rule(self, subscale: Subscale) -> ScoringRule:
        """Return the subscale's own scoring rule, or the instrument's default."""
        return subscale.scoring or self.scoring


def placeholder_problem(text: str) -> str | None:
    """Return why a text's placeholders are unacceptable, or None if they are fine."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return 'has an unmatched "{" or "}" (write {{ or }} for a literal brace)'
    for _literal, field_name, format_spec, conversion in parts:
        if field_name is None:
            continue
        if field_name != PLACEHOLDER:
            return f'uses unknown placeholder "{{{field_name}}}"; only {{name}} is allowed'
        if format_spec or conversion:
            return "must write the placeholder exactly as {name}, without format options"
    return None


def _fill(text: str, name: str) -> str:
    # Built from the parsed parts instead of str.format, so even an unchecked text can
    # never evaluate attribute access or format specs.
    pieces: list[str] = []
    for literal, field_name, format_spec, conversion in string.Formatter().parse(text):
        pieces.append(literal)
        if field_name is None:
            continue
        if field_name != PLACEHOLDER or format_spec or conversion:
            raise ValueError(f"text has an unsupported placeholder: {text!r}")
        pieces.append(name)
    return "".join(pieces)


def render_text(
    item: Item | DiaryField | FieldGroup, locale: Locale, sector: Sector | None, name: str
) -> str:
    """Return an item's (or diary field's) text for a locale and sector, with the name filled in."""
    return _fill(item.text.get_for(locale, sector), name)


def render_instructions(
    definition: InstrumentDefinition, locale: Locale, sector: Sector | None, name: str
) -> str:
    """Return the instructions for a locale and sector, with the name filled in."""
    return _fill(definition.instructions.get_for(locale, sector), name)
