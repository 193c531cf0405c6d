"""The narrative coding scheme as data: dimensions, scales, help texts, rating checks.

The scheme lives in `scheme-v<version>.toml` next to this module and is read like an
instrument definition (`app.instruments.loader`): shape first (pydantic), then the rules
that span the file, with every problem reported as a `Problem` naming the dimension.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from app.definition_files import DefinitionError, Finding, Problem, parse
from app.instruments.loader import KEY_PATTERN, describe_shape_error, readable_path, text_findings
from app.instruments.schema import Translation

SCHEME_DIR: Final = Path(__file__).parent
#: Fewer points than this leave no room for a "mixed" band between "low" and "high".
MIN_SCALE_POINTS: Final = 3

Band = Literal["low", "mixed", "high"]
RatingProblem = Literal["unknown_dimension", "not_a_whole_number", "out_of_range"]

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,9}")  # more digits: not a rating, and int() may refuse


class _Model(BaseModel):
    # Frozen because coding_scheme() shares one cached instance with every caller.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandTexts(_Model):
    """Help shown next to a rating: what a low, mixed and high rating looks like."""

    low: Translation
    mixed: Translation
    high: Translation


class CodingDimension(_Model):
    """One holistic rating over the whole narrative, on its own integer scale."""

    key: StrictStr
    label: Translation
    description: Translation
    min: StrictInt
    max: StrictInt
    #: False where more is worse for the relationship (anger, helplessness, ...).
    higher_is_favourable: StrictBool
    bands: BandTexts


class CodingScheme(_Model):
    """One version of the coding scheme, as read from `scheme-v<version>.toml`."""

    version: StrictInt
    dimensions: tuple[CodingDimension, ...]

    @property
    def file_name(self) -> str:
        """Return the file name this scheme must be stored under."""
        return f"scheme-v{self.version}.toml"

    def dimension(self, key: str) -> CodingDimension:
        """Return a dimension by key, or raise KeyError."""
        for dimension in self.dimensions:
            if dimension.key == key:
                return dimension
        raise KeyError(f'coding scheme v{self.version} has no dimension "{key}"')


# --- loading -----------------------------------------------------------------------------


def load_scheme(path_or_text: Path | str, *, source_name: str | None = None) -> CodingScheme:
    """Parse and validate a scheme: a Path is read from disk, a str is TOML text."""
    source, scheme = parse(
        path_or_text,
        source_name=source_name,
        validate=CodingScheme.model_validate,
        shape_problems=_shape_problems,
    )
    problems = [Problem(source, where, message) for where, message in check_scheme(scheme)]
    if source.endswith(".toml") and Path(source).name != scheme.file_name:
        problems.append(
            Problem(
                source,
                None,
                f'file name should be "{scheme.file_name}" for version {scheme.version}',
            )
        )
    if problems:
        raise DefinitionError(problems)
    return scheme


def coding_scheme(version: int = 1) -> CodingScheme:
    """Return a shipped scheme version (read once); KeyError if there is no such version."""
    return _shipped_scheme(version)


@cache
def _shipped_scheme(version: int) -> CodingScheme:
    # Separate from coding_scheme() so that coding_scheme() and coding_scheme(1) share
    # one cache entry (functools.cache keys on the arguments as written).
    path = SCHEME_DIR / f"scheme-v{version}.toml"
    if not path.is_file():
        raise KeyError(f"no coding scheme version {version}")
    return load_scheme(path)


def _shape_problems(exc: ValidationError, raw: dict[str, Any], source: str) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        where, path = _locate(tuple(error["loc"]), raw)
        problems.append(Problem(source, where, describe_shape_error(error, path)))
    return problems


def _locate(loc: tuple[int | str, ...], raw: dict[str, Any]) -> tuple[str | None, str]:
    """Split a pydantic error location into 'dimension "x"' and a path inside it."""
    if len(loc) >= 2 and loc[0] == "dimensions" and isinstance(loc[1], int):
        entries = raw.get("dimensions")
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        key = entry.get("key") if isinstance(entry, dict) else None
        where = f'dimension "{key}"' if isinstance(key, str) else f"dimension #{loc[1] + 1}"
        return where, readable_path(entry, loc[2:])
    return None, readable_path(raw, loc)


def check_scheme(scheme: CodingScheme) -> list[Finding]:
    """Return (where, message) for every rule a well-shaped scheme breaks."""
    return list(_scheme_findings(scheme))


def _scheme_findings(scheme: CodingScheme) -> Iterator[Finding]:
    if scheme.version < 1:
        yield None, f"version should be 1 or higher, not {scheme.version}"
    if not scheme.dimensions:
        yield None, "a coding scheme needs at least one [[dimensions]] entry"
    for key, count in Counter(d.key for d in scheme.dimensions).items():
        if count > 1:
            yield f'dimension "{key}"', f"key is used {count} times; keys must be unique"
    for dimension in scheme.dimensions:
        where = f'dimension "{dimension.key}"'
        if not KEY_PATTERN.fullmatch(dimension.key):
            yield where, "key should be lower-case letters, digits and _ and start with a letter"
        if dimension.min >= dimension.max:
            yield where, f"min ({dimension.min}) must be less than max ({dimension.max})"
        elif dimension.max - dimension.min + 1 < MIN_SCALE_POINTS:
            yield where, f"the scale needs at least {MIN_SCALE_POINTS} points for its bands"
        yield from text_findings(where, "label", dimension.label)
        yield from text_findings(where, "description", dimension.description)
        for name in ("low", "mixed", "high"):
            yield from text_findings(where, f"{name} band text", getattr(dimension.bands, name))


# --- ratings -----------------------------------------------------------------------------


def band(dimension: CodingDimension, value: int) -> Band:
    """Return the band of a rating: the lowest and highest points // 3 points are low and high.

    On 1–7 that is 1–2 low, 3–5 mixed, 6–7 high; on 1–5 it is 1 low, 2–4 mixed, 5 high.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a rating is a whole number, not {value!r}")
    if not dimension.min <= value <= dimension.max:
        raise ValueError(
            f'rating {value} is outside the scale of "{dimension.key}" '
            f"({dimension.min} to {dimension.max})"
        )
    width = (dimension.max - dimension.min + 1) // 3
    if value < dimension.min + width:
        return "low"
    if value > dimension.max - width:
        return "high"
    return "mixed"


class Gettext(Protocol):
    """A translation function like `app.i18n.gettext`: message plus %(name)s variables."""

    def __call__(self, message: str, **variables: object) -> str: ...


def untranslated(message: str, **variables: object) -> str:
    """Return the English message with its %(name)s placeholders filled in."""
    return message % variables if variables else message


def rating_problem(
    problem: RatingProblem, dimension: CodingDimension | None, _: Gettext = untranslated
) -> str:
    """Return the message for one invalid rating, translated by `_` when it is given."""
    if problem == "unknown_dimension" or dimension is None:
        return _("This is not a dimension of the coding scheme.")
    if problem == "not_a_whole_number":
        return _(
            "Give a whole number from %(min)s to %(max)s.", min=dimension.min, max=dimension.max
        )
    return _("Give a rating from %(min)s to %(max)s.", min=dimension.min, max=dimension.max)


def validate_ratings(
    scheme: CodingScheme,
    ratings: Mapping[str, str | int | None],
    *,
    _: Gettext = untranslated,
) -> tuple[dict[str, int], dict[str, str]]:
    """Return (valid ratings, error per dimension key); None or "" means not yet rated."""
    valid: dict[str, int] = {}
    errors: dict[str, str] = {}
    known = {dimension.key: dimension for dimension in scheme.dimensions}
    for key, raw in ratings.items():
        dimension = known.get(key)
        if dimension is None:
            errors[key] = rating_problem("unknown_dimension", None, _)
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        value = _whole_number(raw)
        if value is None:
            errors[key] = rating_problem("not_a_whole_number", dimension, _)
        elif not dimension.min <= value <= dimension.max:
            errors[key] = rating_problem("out_of_range", dimension, _)
        else:
            valid[key] = value
    return valid, errors


def _whole_number(raw: object) -> int | None:
    # bool is an int subclass and int() would take "٣" or "1_0"; a rating is neither.
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw.strip()):
        return int(raw.strip())
    return None
