"""Questionnaires, pulse and diary as versioned data files, with pure scoring functions.

Definitions live in `definitions/<key>-v<version>.toml`; see `schema.py` for the format
and `loader.py` for the checks.
"""

from app.instruments.diary import check_diary_entry
from app.instruments.loader import (
    DefinitionError,
    Problem,
    builtin_definition,
    load_builtin,
    load_definition,
    parse_definition_bytes,
    validate_files,
)
from app.instruments.reliable_change import (
    ChangeClass,
    ChangeParameters,
    ReliableChange,
    change_parameters,
    cronbach_alpha,
    reliable_change,
    sample_sd,
)
from app.instruments.schema import (
    LOCALES,
    SECTORS,
    InstrumentDefinition,
    Locale,
    Sector,
    render_instructions,
    render_text,
)
from app.instruments.scoring import SubscaleScore, score_range, score_response

__all__ = [
    "LOCALES",
    "SECTORS",
    "ChangeClass",
    "ChangeParameters",
    "DefinitionError",
    "InstrumentDefinition",
    "Locale",
    "Problem",
    "ReliableChange",
    "Sector",
    "SubscaleScore",
    "builtin_definition",
    "change_parameters",
    "check_diary_entry",
    "cronbach_alpha",
    "load_builtin",
    "load_definition",
    "parse_definition_bytes",
    "reliable_change",
    "render_instructions",
    "render_text",
    "sample_sd",
    "score_range",
    "score_response",
    "validate_files",
]
