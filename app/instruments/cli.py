"""Command line for instrument definitions: `validate [FILE...]` and `list`."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from app.definition_files import command_line
from app.instruments.loader import INSTRUMENT_FILES
from app.instruments.schema import InstrumentDefinition


def _describe(definition: InstrumentDefinition) -> Iterator[str]:
    if definition.kind == "diary":
        parts = [f"{field.key} ({field.type})" for field in definition.fields]
    else:
        parts = [
            f"{subscale.key} ({len(definition.items_in(subscale.key))})"
            for subscale in definition.subscales
        ]
    yield f"{definition.key} v{definition.version} [{definition.kind}]: {', '.join(parts)}"


def main(argv: list[str]) -> int:
    """Run `validate [FILE...]` or `list`; return the process exit code."""
    return command_line(INSTRUMENT_FILES, argv, plural="instruments", describe=_describe)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
