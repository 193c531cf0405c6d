"""`programmes validate` and `programmes list` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.programmes.cli import main
from app.programmes.loader import builtin_programme_paths

BROKEN = """\
key = "broken"
version = 1
licence = "Test only."
title = { nl = "Kapot", en = "Broken" }
description = { nl = "Een test.", en = "A test." }

[[sessions]]
key = "intake"
phase = "baseline"
title = { nl = "Start", en = "Start" }
description = { nl = "Begin.", en = "Begin." }

[[sessions.steps]]
key = "relationship"
type = "instrument"
instrument = "relashionship"
title = { nl = "Relatie", en = "Relationship" }
prompt = { nl = "Over {name}.", en = "About {name}." }
"""

PROBLEM = (
    'session "intake", step "relationship": unknown instrument "relashionship"; '
    "use one of alliance, efficacy, empathy, pulse, relationship, strain"
)


def test_validate_without_files_checks_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"OK {path}" for path in builtin_programme_paths()]


def test_validate_a_broken_file_prints_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-v1.toml"
    broken.write_text(BROKEN, encoding="utf-8")
    assert main(["validate", str(broken)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"broken-v1.toml: {PROBLEM}"]


def test_validate_reports_good_and_bad_files_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-v2.toml"  # wrong version in the name as well
    broken.write_text(BROKEN, encoding="utf-8")
    good = builtin_programme_paths()[0]
    assert main(["validate", str(good), str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"OK {good}\n" in out
    assert f"broken-v2.toml: {PROBLEM}\n" in out
    assert 'broken-v2.toml: file name should be "broken-v1.toml"' in out


def test_validate_reports_toml_syntax_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-v1.toml"
    broken.write_text('key = "broken"\nversion = \n', encoding="utf-8")
    assert main(["validate", str(broken)]) == 1
    assert capsys.readouterr().out.startswith("broken-v1.toml: line 2: invalid TOML: ")


def test_list_shows_sessions_with_their_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("llinc v1: Relationship-focused reflection (LLInC)\n")
    assert (
        "  intake [baseline; opens=auto; day 0]: consent (consent), relationship (instrument), "
        "efficacy (instrument), strain (instrument), empathy (instrument)\n"
    ) in out
    assert "  consolidation [consolidation; opens=coach; day 28; optional]: " in out


def test_usage_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err
