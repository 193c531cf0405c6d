"""Check the installed packages for known vulnerabilities; fail on one.

First choice is pip-audit, which asks a vulnerability service (PyPI's per-release JSON, or
OSV) about every installed package. A machine that cannot reach that service gets no
answer for any package, and pip-audit would then report "no known vulnerabilities"
without having checked anything. When pip-audit could look nothing up, this script asks
PyPI's project pages instead (`https://pypi.org/pypi/<name>/json`): they carry the newest
release and PyPI's advisories (from OSV) for that release only. So a package at its
newest release is checked; an older one is reported as "not checked", never as clean.

Exit 1 on a known vulnerability, and when a package that the app needs at run time (the
`[project] dependencies` of pyproject.toml and what they pull in) could not be checked.
Unchecked build and development tooling is named but does not fail. When nothing can be
looked up at all, it prints SKIPPED with the reason and exits 0.

    .venv/bin/python scripts/audit_dependencies.py
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess  # runs pip-audit, a fixed command without a shell # nosec B404
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

PIP_AUDIT_TIMEOUT_SECONDS = 300
PAGE_TIMEOUT_SECONDS = 20
PAGE_THREADS = 16
PROJECT_PAGE = "https://pypi.org/pypi/{name}/json"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


# pip-audit --------------------------------------------------------------------------------


def pip_audit_command() -> list[str]:
    """pip-audit from the same virtualenv as this Python."""
    beside = Path(sys.executable).with_name("pip-audit")
    found = str(beside) if beside.exists() else shutil.which("pip-audit")
    if not found:
        raise SystemExit("pip-audit is not installed: pip install 'pip-audit>=2.7'")
    return [found, "--format", "json", "--progress-spinner", "off"]


def run_pip_audit() -> tuple[int | None, str]:
    """pip-audit's exit code, or None and why when it could look nothing up."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell # nosec B603
            pip_audit_command(),
            capture_output=True,
            text=True,
            timeout=PIP_AUDIT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"no answer from the vulnerability service in {PIP_AUDIT_TIMEOUT_SECONDS} s"
    try:
        report = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    dependencies = report.get("dependencies") or []
    if not dependencies:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        if "ConnectionError" in result.stderr or "Failed to resolve" in result.stderr:
            return None, f"the vulnerability service cannot be reached ({last})"
        print(f"pip-audit failed: {last}", file=sys.stderr)
        return 1, ""
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        return None, (
            f"none of the {len(dependencies)} installed packages could be looked up "
            "(every lookup failed or answered 'not found')"
        )
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(
                f"{dependency['name']} {dependency.get('version', '')}: {vuln['id']} "
                f"(fixed in {fixes})"
            )
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} package(s) with known vulnerabilities.")
        return 1, ""
    skipped = len(dependencies) - len(audited)
    note = f" ({skipped} not on PyPI, not checked)" if skipped else ""
    print(f"pip-audit: no known vulnerabilities in {len(audited)} packages{note}.")
    return 0, ""


# What is installed, and what the app needs at run time ------------------------------------


def installed_distributions() -> dict[str, str]:
    """Every installed distribution: canonical name → version (first on sys.path wins)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def _requirements_of(name: str) -> list[str]:
    try:
        return metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def runtime_closure(
    top_level: Iterable[str],
    requirements_of: Callable[[str], list[str]] = _requirements_of,
) -> set[str]:
    """Canonical names of the top-level requirements and everything they pull in here."""
    needed: set[str] = set()
    extras_seen: dict[str, set[str]] = {}
    queue = [r for r in map(Requirement, top_level) if _applies(r, ())]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        new_extras = set(requirement.extras) - extras_seen.get(name, set())
        if name in needed and not new_extras:
            continue
        needed.add(name)
        extras = extras_seen.setdefault(name, set())
        extras |= new_extras
        for line in requirements_of(requirement.name):
            try:
                child = Requirement(line)
            except InvalidRequirement:
                continue
            if _applies(child, extras):
                queue.append(child)
    return needed


def read_project(pyproject: Path = PYPROJECT) -> tuple[str, list[str]]:
    """This project's name and its run-time requirements, from pyproject.toml."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return canonicalize_name(project["name"]), list(project.get("dependencies", []))


# PyPI's project pages ---------------------------------------------------------------------


class PageNotFound(Exception):
    """PyPI has no project page for this name."""


def ssl_context() -> ssl.SSLContext:
    """The certificates pip would use: PIP_CERT or SSL_CERT_FILE when set, else the system's."""
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or None
    return ssl.create_default_context(cafile=cafile)


def fetch_project_page(name: str, *, context: ssl.SSLContext) -> dict[str, Any]:
    """PyPI's JSON project page for a name; PageNotFound on 404, OSError when unreachable."""
    url = PROJECT_PAGE.format(name=name)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(  # noqa: S310 - a fixed https URL # nosec B310
            request, timeout=PAGE_TIMEOUT_SECONDS, context=context
        ) as response:
            page: dict[str, Any] = json.load(response)
            return page
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise PageNotFound(name) from error
        raise


@dataclass
class Finding:
    package: str
    version: str
    id: str
    aliases: list[str]
    fixed_in: list[str]


ROLES = {
    "runtime": "run-time dependency",
    "tooling": "build/dev tooling",
    "project": "this project",
}


@dataclass
class Unchecked:
    package: str
    version: str
    reason: str
    role: str  # a key of ROLES
    # The newer release needs a newer Python than this one: what is installed is the newest
    # line this Python can have, so an upgrade cannot make it checkable; named, not failing.
    newest_for_this_python: bool = False

    @property
    def runtime(self) -> bool:
        return self.role == "runtime"


@dataclass
class PageAudit:
    checked: int = 0
    clean: int = 0
    findings: list[Finding] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)
    skipped_reason: str = ""

    @property
    def failing(self) -> list[Unchecked]:
        """Run-time dependencies that could not be checked and could be upgraded (so that
        they can): the project itself and releases held back by the Python version excluded."""
        return [u for u in self.unchecked if u.runtime and not u.newest_for_this_python]

    @property
    def exit_code(self) -> int:
        if self.skipped_reason:
            return 0
        return 1 if self.findings or self.failing else 0


def _judge(name: str, version: str, page: Mapping[str, Any]) -> list[Finding] | str:
    """The installed release's advisories from its project page, or why they are unknown."""
    newest_text = str((page.get("info") or {}).get("version") or "")
    try:
        installed, newest = Version(version), Version(newest_text)
    except InvalidVersion:
        return f"version {version!r} or PyPI's newest {newest_text!r} cannot be compared"
    if installed != newest:
        why = f"installed {version}, newest release {newest_text}"
        if installed < newest and _needs_newer_python(page):
            why += f" (needs Python {page['info']['requires_python']})"
        return why + "; PyPI lists advisories for the newest release only"
    return [
        Finding(
            package=name,
            version=version,
            id=str(vuln.get("id") or "unknown id"),
            aliases=[str(a) for a in vuln.get("aliases") or []],
            fixed_in=[str(v) for v in vuln.get("fixed_in") or []],
        )
        for vuln in page.get("vulnerabilities") or []
        if not vuln.get("withdrawn")
    ]


def _needs_newer_python(page: Mapping[str, Any]) -> bool:
    """Whether the newest release on the page cannot be installed on this Python."""
    requires = str((page.get("info") or {}).get("requires_python") or "")
    if not requires:
        return False
    python = ".".join(str(n) for n in sys.version_info[:3])
    try:
        return python not in SpecifierSet(requires)
    except InvalidSpecifier:
        return False


def audit_with_project_pages(
    installed: Mapping[str, str],
    *,
    runtime: set[str],
    project: str,
    fetch: Callable[[str], Mapping[str, Any]],
    threads: int = PAGE_THREADS,
) -> PageAudit:
    """Look every installed package up on its project page (in parallel) and judge it."""
    audit = PageAudit()
    names = sorted(n for n in installed if n != project)
    if project in installed:
        audit.unchecked.append(Unchecked(project, installed[project], "not on PyPI", "project"))

    def lookup(name: str) -> Mapping[str, Any] | Exception:
        try:
            return fetch(name)
        except (PageNotFound, OSError, ValueError) as error:
            return error

    with ThreadPoolExecutor(max_workers=threads) as pool:
        pages = dict(zip(names, pool.map(lookup, names), strict=True))

    if names and all(isinstance(p, Exception) for p in pages.values()):
        first = next(iter(pages.values()))
        if all(isinstance(p, PageNotFound) for p in pages.values()):
            audit.skipped_reason = f"PyPI answered 'not found' for all {len(names)} packages"
        else:
            audit.skipped_reason = f"PyPI's project pages cannot be reached ({_describe(first)})"
        return audit

    for name in names:
        version, page = installed[name], pages[name]
        if isinstance(page, Exception):
            verdict: list[Finding] | str = (
                "no project page on PyPI"
                if isinstance(page, PageNotFound)
                else f"no answer from PyPI ({_describe(page)})"
            )
        else:
            verdict = _judge(name, version, page)
        if isinstance(verdict, str):
            held_back = not isinstance(page, Exception) and _needs_newer_python(page)
            role = "runtime" if name in runtime else "tooling"
            audit.unchecked.append(Unchecked(name, version, verdict, role, held_back))
            continue
        audit.checked += 1
        audit.findings.extend(verdict)
        if not verdict:
            audit.clean += 1
    return audit


def _describe(error: object) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return f"{type(error).__name__}: {error.reason}"
    return f"{type(error).__name__}: {error}"


def print_page_audit(audit: PageAudit, *, why_fallback: str) -> None:
    """The summary: counts, each vulnerability, each package not checked and why."""
    print(f"pip-audit: {why_fallback}.")
    if audit.skipped_reason:
        print(
            f"Dependency audit: SKIPPED, {audit.skipped_reason}. "
            "Run it where pypi.org is reachable."
        )
        return
    print("Asked PyPI's project pages instead (advisories for each project's newest release).")
    print(
        f"Dependency audit: {audit.checked} packages checked, {audit.clean} without known "
        f"vulnerabilities, {len(audit.findings)} known vulnerabilities, "
        f"{len(audit.unchecked)} not checked."
    )
    for finding in audit.findings:
        also = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
        fixed = ", ".join(finding.fixed_in) or "no fixed version yet"
        print(
            f"  VULNERABLE {finding.package} {finding.version}: {finding.id}{also}, "
            f"fixed in {fixed}"
        )
    order = list(ROLES)
    for item in sorted(audit.unchecked, key=lambda u: (order.index(u.role), u.package)):
        print(f"  not checked {item.package} {item.version} ({ROLES[item.role]}): {item.reason}")
    if audit.findings:
        print("FAILED: known vulnerabilities in installed packages.")
    elif audit.failing:
        names = ", ".join(u.package for u in audit.failing)
        print(f"FAILED: run-time dependencies that could not be checked: {names}.")
    else:
        held = [u.package for u in audit.unchecked if u.runtime]
        rest = (
            "every run-time dependency was checked."
            if not held
            else "run-time dependencies not checked only where the newest release needs a "
            f"newer Python than this one: {', '.join(held)}."
        )
        print(f"OK: no known vulnerabilities in the checked packages; {rest}")


def main() -> int:
    code, why = run_pip_audit()
    if code is not None:
        return code
    project, top_level = read_project()
    installed = installed_distributions()
    context = ssl_context()
    audit = audit_with_project_pages(
        installed,
        runtime=runtime_closure(top_level) - {project},
        project=project,
        fetch=lambda name: fetch_project_page(name, context=context),
    )
    print_page_audit(audit, why_fallback=why)
    return audit.exit_code


if __name__ == "__main__":
    sys.exit(main())
