"""`instruments validate` and `instruments list` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.instruments.cli import main
from app.instruments.loader import builtin_paths

BROKEN = """\
key = "broken"
version = 1
kind = "questionnaire"
licence = "Test only."
title = { nl = "Kapot", en = "Broken" }
instructions = { nl = "Denk aan {name}.", en = "Think of {name}." }

[scale]
min = 1
max = 5
anchors = [
    { value = 1, label = { nl = "nooit", en = "never" } },
    { value = 5, label = { nl = "altijd", en = "always" } },
]

[[subscales]]
key = "conflict"
label = { nl = "Conflict", en = "Conflict" }
higher_is_better = false
min_answered = 1

[[items]]
key = "conf_1"
subscale = "conflict"
text = { nl = "We botsen.", en = "We clash." }

[[items]]
key = "conf_3"
subscale = "confict"
text = { nl = "{name} wordt boos.", en = "{name} gets angry." }
"""


def test_validate_without_files_checks_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"OK {path}" for path in builtin_paths()]


def test_validate_a_broken_file_prints_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-v1.toml"
    broken.write_text(BROKEN, encoding="utf-8")
    assert main(["validate", str(broken)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        'broken-v1.toml: item "conf_3": unknown subscale "confict"'
    ]


def test_validate_reports_good_and_bad_files_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-v2.toml"  # wrong version in the name as well
    broken.write_text(BROKEN, encoding="utf-8")
    good = builtin_paths()[0]
    assert main(["validate", str(good), str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"OK {good}\n" in out
    assert 'broken-v2.toml: item "conf_3": unknown subscale "confict"' in out
    assert 'broken-v2.toml: file name should be "broken-v1.toml"' in out


def test_validate_reports_toml_syntax_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken-v1.toml"
    broken.write_text('key = "broken"\nversion = \n', encoding="utf-8")
    assert main(["validate", str(broken)]) == 1
    assert capsys.readouterr().out.startswith("broken-v1.toml: line 2: invalid TOML: ")


def test_list_shows_instruments_with_subscale_item_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "relationship v1 [questionnaire]: closeness (6), conflict (6), dependency (4)\n" in out
    assert "pulse v1 [pulse]: closeness (1), conflict (1)," in out
    assert "diary v1 [diary]: valence (scale), what_happened (text)," in out


def test_usage_errors_return_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err
