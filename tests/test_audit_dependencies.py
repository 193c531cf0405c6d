"""The dependency audit's fallback to PyPI's project pages, with fake pages (no network)."""

from __future__ import annotations

import urllib.error
from collections.abc import Mapping
from typing import Any

import pytest

from scripts import audit_dependencies as audit_script
from scripts.audit_dependencies import (
    PageAudit,
    PageNotFound,
    audit_with_project_pages,
    print_page_audit,
    runtime_closure,
)

ADVISORY = {
    "id": "PYSEC-2026-1",
    "aliases": ["CVE-2026-0001"],
    "fixed_in": ["2.1.0"],
    "withdrawn": None,
}


def page(version: str, *vulnerabilities: Mapping[str, Any]) -> dict[str, Any]:
    return {"info": {"version": version}, "vulnerabilities": list(vulnerabilities)}


def run(
    installed: dict[str, str],
    pages: Mapping[str, dict[str, Any] | Exception],
    *,
    runtime: set[str],
    capsys: pytest.CaptureFixture[str],
) -> tuple[PageAudit, str]:
    def fetch(name: str) -> Mapping[str, Any]:
        answer = pages[name]
        if isinstance(answer, Exception):
            raise answer
        return answer

    audit = audit_with_project_pages(installed, runtime=runtime, project="dyade", fetch=fetch)
    print_page_audit(audit, why_fallback="nothing found")
    return audit, capsys.readouterr().out


def test_an_advisory_for_the_installed_newest_release_fails_and_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    audit, out = run(
        {"jinja2": "2.0.0", "rich": "14.0"},
        {"jinja2": page("2.0.0", ADVISORY), "rich": page("14.0")},
        runtime=set(),
        capsys=capsys,
    )

    assert audit.exit_code == 1
    assert "VULNERABLE jinja2 2.0.0: PYSEC-2026-1 (CVE-2026-0001), fixed in 2.1.0" in out
    assert "2 packages checked, 1 without known vulnerabilities" in out


def test_packages_at_their_newest_release_without_advisories_are_counted_clean(
    capsys: pytest.CaptureFixture[str],
) -> None:
    audit, out = run(
        {"jinja2": "3.1.6", "rich": "14.0", "dyade": "0.1.0"},
        {"jinja2": page("3.1.6"), "rich": page("14.0")},
        runtime={"jinja2"},
        capsys=capsys,
    )

    assert (audit.checked, audit.clean, audit.exit_code) == (2, 2, 0)
    assert "2 packages checked, 2 without known vulnerabilities" in out
    # The project itself is named, passes, and its name is never looked up on PyPI.
    assert "not checked dyade 0.1.0 (this project): not on PyPI" in out
    assert out.rstrip().endswith("every run-time dependency was checked.")


def test_an_older_installed_release_is_not_checked_and_fails_only_for_a_runtime_dependency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The newest release's advisory says nothing about 1.3.7: not checked, not vulnerable.
    pages = {"pyreadstat": page("1.3.8", ADVISORY), "setuptools": page("84.2.1")}
    installed = {"pyreadstat": "1.3.7", "setuptools": "65.5.0"}

    tooling_only, out = run(installed, pages, runtime=set(), capsys=capsys)

    assert tooling_only.exit_code == 0
    assert (tooling_only.checked, tooling_only.clean, tooling_only.findings) == (0, 0, [])
    assert "not checked setuptools 65.5.0 (build/dev tooling): installed 65.5.0" in out
    assert "newest release 84.2.1" in out
    assert "VULNERABLE" not in out

    needed, out = run(installed, pages, runtime={"pyreadstat"}, capsys=capsys)

    assert needed.exit_code == 1
    assert "not checked pyreadstat 1.3.7 (run-time dependency)" in out
    assert "FAILED: run-time dependencies that could not be checked: pyreadstat." in out


def test_a_runtime_dependency_whose_newest_release_needs_a_newer_python_is_named_not_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    newer = page("2.5.5")
    newer["info"]["requires_python"] = ">=9.0"  # no Python running this test has that
    upgradable = page("1.3.8")
    upgradable["info"]["requires_python"] = ">=3.9"

    held, out = run({"numpy": "2.4.6"}, {"numpy": newer}, runtime={"numpy"}, capsys=capsys)

    assert held.exit_code == 0
    assert "not checked numpy 2.4.6 (run-time dependency)" in out
    assert "(needs Python >=9.0)" in out
    assert "newer Python than this one: numpy." in out

    both, out = run(
        {"numpy": "2.4.6", "pyreadstat": "1.3.7"},
        {"numpy": newer, "pyreadstat": upgradable},
        runtime={"numpy", "pyreadstat"},
        capsys=capsys,
    )

    assert both.exit_code == 1
    assert "FAILED: run-time dependencies that could not be checked: pyreadstat." in out


def test_a_runtime_dependency_without_an_answer_fails_but_missing_tooling_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    installed = {"fastapi": "1.0", "internal-tool": "0.1"}
    pages: dict[str, dict[str, Any] | Exception] = {
        "fastapi": page("1.0"),
        "internal-tool": PageNotFound("internal-tool"),
    }

    audit, out = run(installed, pages, runtime={"fastapi"}, capsys=capsys)
    assert audit.exit_code == 0
    assert "not checked internal-tool 0.1 (build/dev tooling): no project page on PyPI" in out

    audit, out = run(installed, pages, runtime={"internal-tool"}, capsys=capsys)
    assert audit.exit_code == 1


def test_unreachable_project_pages_are_skipped_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    down = urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    audit, out = run(
        {"jinja2": "3.1.6", "pyreadstat": "1.3.7", "dyade": "0.1.0"},
        {"jinja2": down, "pyreadstat": down},
        runtime={"jinja2", "pyreadstat"},
        capsys=capsys,
    )

    assert audit.exit_code == 0
    assert "SKIPPED, PyPI's project pages cannot be reached" in out
    assert "Temporary failure in name resolution" in out
    assert "checked" not in out.replace("not checked", "")


def test_a_withdrawn_advisory_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    withdrawn = {**ADVISORY, "withdrawn": "2026-11-02T10:00:00Z"}

    audit, out = run(
        {"jinja2": "2.0.0"}, {"jinja2": page("2.0.0", withdrawn)}, runtime=set(), capsys=capsys
    )

    assert (audit.checked, audit.clean, audit.exit_code) == (1, 1, 0)
    assert "PYSEC-2026-1" not in out


def test_runtime_dependencies_follow_requirements_extras_and_markers() -> None:
    requires = {
        "uvicorn": ["click>=7", 'httptools>=0.6; extra == "standard"', 'colorama; os_name == "x"'],
        "pandas": ["numpy>=1.26", 'pytest>=7; extra == "test"'],
        "click": [],
        "httptools": [],
        "numpy": [],
    }

    needed = runtime_closure(
        ["uvicorn[standard]>=0.30", "Pandas>=2.2"], lambda name: requires[name.lower()]
    )

    assert needed == {"uvicorn", "click", "httptools", "pandas", "numpy"}


def test_the_fallback_runs_only_when_pip_audit_looked_nothing_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def fetch(name: str, *, context: object) -> Mapping[str, Any]:
        asked.append(name)
        return page("1.0", ADVISORY)

    monkeypatch.setattr(audit_script, "installed_distributions", lambda: {"jinja2": "1.0"})
    monkeypatch.setattr(audit_script, "fetch_project_page", fetch)

    monkeypatch.setattr(audit_script, "run_pip_audit", lambda: (0, ""))
    assert audit_script.main() == 0
    assert asked == []

    monkeypatch.setattr(audit_script, "run_pip_audit", lambda: (None, "every lookup failed"))
    assert audit_script.main() == 1
    assert asked == ["jinja2"]
    assert "VULNERABLE jinja2 1.0: PYSEC-2026-1" in capsys.readouterr().out
