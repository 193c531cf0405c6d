"""The programme as data: sessions and their steps in versioned, validated files.

Definitions live in `definitions/<key>-v<version>.toml`; see `schema.py` for the format
and `loader.py` for the checks. Problems are reported with `app.instruments.Problem`.
"""

from app.definition_files import DefinitionError, Problem
from app.programmes.loader import (
    builtin_programme,
    load_builtin_programmes,
    load_programme,
    parse_programme_bytes,
    validate_programme_files,
)
from app.programmes.schema import (
    PHASES,
    STEP_TYPES,
    Opens,
    Phase,
    ProgrammeDefinition,
    SessionTemplate,
    StepTemplate,
    StepType,
    render_probes,
    render_prompt,
)

__all__ = [
    "PHASES",
    "STEP_TYPES",
    "DefinitionError",
    "Opens",
    "Phase",
    "Problem",
    "ProgrammeDefinition",
    "SessionTemplate",
    "StepTemplate",
    "StepType",
    "builtin_programme",
    "load_builtin_programmes",
    "load_programme",
    "parse_programme_bytes",
    "render_probes",
    "render_prompt",
    "validate_programme_files",
]
