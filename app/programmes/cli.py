"""Command line for programme definitions: `validate [FILE...]` and `list`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from app.definition_files import DefinitionError
from app.programmes.loader import builtin_programme_paths, load_builtin_programmes, load_programme


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="programmes", description="Check and list programme definition files."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser(
        "validate", help="check programme files (the built-in ones if none are given)"
    )
    validate.add_argument("files", nargs="*", type=Path, metavar="FILE")
    commands.add_parser("list", help="list the built-in programmes and their sessions")
    return parser


def _validate(files: list[Path], out: TextIO) -> int:
    paths = files or builtin_programme_paths()
    failed = False
    for path in paths:
        try:
            load_programme(path)
        except DefinitionError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=out)
        else:
            print(f"OK {path}", file=out)
    return 1 if failed else 0


def _list(out: TextIO) -> int:
    for (key, version), programme in sorted(load_builtin_programmes().items()):
        print(f"{key} v{version}: {programme.title.en}", file=out)
        offsets = programme.suggested_offsets()
        for session in programme.sessions:
            flags = [f"opens={session.opens}", f"day {offsets[session.key]}"]
            if session.optional:
                flags.append("optional")
            steps = ", ".join(f"{step.key} ({step.type})" for step in session.steps)
            print(f"  {session.key} [{session.phase}; {'; '.join(flags)}]: {steps}", file=out)
    return 0


def main(argv: list[str]) -> int:
    """Run `validate [FILE...]` or `list`; return the process exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        # argparse exits on --help and on usage errors; return its code instead.
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "validate":
        return _validate(args.files, sys.stdout)
    try:
        return _list(sys.stdout)
    except DefinitionError as exc:
        print(exc, file=sys.stdout)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
