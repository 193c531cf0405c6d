"""Definition files (instruments, programmes): read, checked and cached in one way.

Instruments and programmes are data: versioned TOML files, named `<key>-v<version>.toml`,
shipped in a folder or uploaded by an admin. `DefinitionFiles` reads one kind of them. A
file is checked in two passes: its shape (pydantic), then the rules that span several
parts of it. The second pass only runs when the first passes, because it needs a
well-formed definition to look at. Every problem names the file, the part of the file
and what is wrong, in plain English (see `Problem`).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TextIO, TypeVar

from pydantic import ValidationError

#: Uploaded definitions larger than this are refused before parsing; the largest
#: built-in is about 20 KiB.
MAX_UPLOAD_BYTES: Final = 256 * 1024

#: (where in the file, what is wrong) as the rule checks report it.
Finding = tuple[str | None, str]

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


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


def decode_text(data: bytes, source: str) -> str:
    """Return UTF-8 file bytes as text, or raise DefinitionError saying where it is not."""
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


def toml_problem(exc: tomllib.TOMLDecodeError, source: str) -> Problem:
    """Return a TOML syntax error as a Problem with its line number."""
    # Python 3.11's TOMLDecodeError has no lineno attribute; the position is only in
    # the message, as "(at line L, column C)".
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match is None:
        return Problem(source, None, f"invalid TOML: {message}")
    line, column = int(match.group(1)), int(match.group(2))
    detail = message[: match.start()]
    return Problem(source, f"line {line}", f"invalid TOML: {detail} (column {column})", line)


M = TypeVar("M")


def parse(
    path_or_text: Path | str,
    *,
    source_name: str | None,
    validate: Callable[[dict[str, Any]], M],
    shape_problems: Callable[[ValidationError, dict[str, Any], str], list[Problem]],
) -> tuple[str, M]:
    """Pass 1: read a file (a Path from disk, a str as TOML text) and check its shape.

    Returns the name problems are reported under, and the validated model.
    """
    if isinstance(path_or_text, Path):
        source = source_name or path_or_text.name
        try:
            data = path_or_text.read_bytes()
        except OSError as exc:
            raise DefinitionError([Problem(source, None, f"cannot read file: {exc}")]) from exc
        text = decode_text(data, source)
    else:
        source = source_name or "<text>"
        text = path_or_text

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([toml_problem(exc, source)]) from exc

    try:
        return source, validate(raw)
    except ValidationError as exc:
        raise DefinitionError(shape_problems(exc, raw, source)) from exc


class Definition(Protocol):
    """What every kind of definition has: a key, a version, and the file name they make."""

    @property
    def key(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def file_name(self) -> str: ...


D = TypeVar("D", bound=Definition)


class DefinitionFiles(Generic[D]):
    """One kind of definition file: how a file is checked, and the shipped ones."""

    def __init__(
        self,
        *,
        kind: str,
        folder: Path,
        validate: Callable[[dict[str, Any]], D],
        shape_problems: Callable[[ValidationError, dict[str, Any], str], list[Problem]],
        check_rules: Callable[[D], list[Finding]],
    ) -> None:
        self.kind = kind  # "instrument", "programme": as the messages name it
        self.folder = folder
        self._validate = validate
        self._shape_problems = shape_problems
        self._check_rules = check_rules
        self._builtin: dict[tuple[str, int], D] | None = None

    def load(
        self,
        path_or_text: Path | str,
        *,
        source_name: str | None = None,
        check_file_name: bool = True,
    ) -> D:
        """Parse and validate one file: a Path is read from disk, a str is TOML text."""
        source, definition = parse(
            path_or_text,
            source_name=source_name,
            validate=self._validate,
            shape_problems=self._shape_problems,
        )
        findings = self._check_rules(definition)
        problems = [Problem(source, where, message) for where, message in findings]
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

    def parse_upload(self, data: bytes, source_name: str) -> D:
        """Validate an uploaded file (at most 256 KiB of UTF-8 TOML)."""
        if len(data) > MAX_UPLOAD_BYTES:
            message = f"file is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES} bytes (256 KiB)"
            raise DefinitionError([Problem(source_name, None, message)])
        text = decode_text(data, source_name)
        # The app stores an accepted upload under its file_name, so whatever the uploader
        # called the file does not matter.
        return self.load(text, source_name=source_name, check_file_name=False)

    def problems_in(self, paths: Iterable[Path | str]) -> list[Problem]:
        """Return every problem in the given files (an empty list means all valid)."""
        _definitions, problems = self._load_all(Path(path) for path in paths)
        return problems

    def builtin_paths(self) -> list[Path]:
        """Return the paths of the shipped files, sorted by name."""
        return sorted(self.folder.glob("*.toml"))

    def builtin(self) -> dict[tuple[str, int], D]:
        """Return all shipped definitions by (key, version); raise DefinitionError if any is bad."""
        # A copy, so a caller adding to the dict cannot change what the next caller sees.
        return dict(self._shipped())

    def builtin_one(self, key: str, version: int | None = None) -> D:
        """Return one shipped definition, the newest version unless a version is given."""
        definitions = self._shipped()
        if version is not None:
            try:
                return definitions[(key, version)]
            except KeyError:
                raise KeyError(f'no built-in {self.kind} "{key}" version {version}') from None
        versions = [v for k, v in definitions if k == key]
        if not versions:
            raise KeyError(f'no built-in {self.kind} "{key}"')
        return definitions[(key, max(versions))]

    def forget(self) -> None:
        """Read the shipped files again on next use (tests that change the folder)."""
        self._builtin = None

    def _shipped(self) -> dict[tuple[str, int], D]:
        if self._builtin is None:
            definitions, problems = self._load_all(self.builtin_paths())
            if problems:
                raise DefinitionError(problems)
            self._builtin = definitions
        return self._builtin

    def _load_all(self, paths: Iterable[Path]) -> tuple[dict[tuple[str, int], D], list[Problem]]:
        definitions: dict[tuple[str, int], D] = {}
        origin: dict[tuple[str, int], str] = {}
        problems: list[Problem] = []
        for path in paths:
            try:
                definition = self.load(path)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                continue
            identity = (definition.key, definition.version)
            if identity in definitions:
                # Only possible with files from several folders.
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


def command_line(
    files: DefinitionFiles[D],
    argv: list[str],
    *,
    plural: str,
    describe: Callable[[D], Iterable[str]],
    out: TextIO | None = None,
) -> int:
    """`validate [FILE...]` and `list` for one kind of file; returns the exit code.

    `describe` gives the lines `list` prints for one shipped definition.
    """
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog=plural, description=f"Check and list {files.kind} definition files."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser(
        "validate", help=f"check {files.kind} files (the built-in ones if none are given)"
    )
    validate.add_argument("files", nargs="*", type=Path, metavar="FILE")
    commands.add_parser("list", help=f"list the built-in {plural}")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits on --help and on usage errors; return its code instead.
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "validate":
        failed = False
        for path in args.files or files.builtin_paths():
            try:
                files.load(path)
            except DefinitionError as exc:
                failed = True
                for problem in exc.problems:
                    print(problem, file=out)
            else:
                print(f"OK {path}", file=out)
        return 1 if failed else 0
    try:
        shipped = files.builtin()
    except DefinitionError as exc:
        print(exc, file=out)
        return 1
    for _identity, definition in sorted(shipped.items(), key=lambda item: item[0]):
        for line in describe(definition):
            print(line, file=out)
    return 0
