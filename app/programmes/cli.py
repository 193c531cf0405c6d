"""Command line for programme definitions: `validate [FILE...]` and `list`."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from app.definition_files import command_line
from app.programmes.loader import PROGRAMME_FILES
from app.programmes.schema import ProgrammeDefinition


def _describe(programme: ProgrammeDefinition) -> Iterator[str]:
    """The programme and, a line each, its sessions with their steps."""
    yield f"{programme.key} v{programme.version}: {programme.title.en}"
    offsets = programme.suggested_offsets()
    for session in programme.sessions:
        flags = [f"opens={session.opens}", f"day {offsets[session.key]}"]
        if session.optional:
            flags.append("optional")
        steps = ", ".join(f"{step.key} ({step.type})" for step in session.steps)
        yield f"  {session.key} [{session.phase}; {'; '.join(flags)}]: {steps}"


def main(argv: list[str]) -> int:
    """Run `validate [FILE...]` or `list`; return the process exit code."""
    return command_line(PROGRAMME_FILES, argv, plural="programmes", describe=_describe)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
