"""Run pip-audit over the installed packages; fail on a known vulnerability.

pip-audit asks a vulnerability service (PyPI's JSON API, or OSV) about every installed
package. A machine that cannot reach that service gets no answer for any package, and
pip-audit would then report "no known vulnerabilities" without having checked anything.
This wrapper tells the two apart: it fails on a vulnerability, says clearly that the check
was skipped when nothing could be looked up, and passes only when packages were checked.

    .venv/bin/python scripts/audit_dependencies.py
"""

from __future__ import annotations

import json
import shutil
import subprocess  # runs pip-audit, a fixed command without a shell # nosec B404
import sys
from pathlib import Path

TIMEOUT_SECONDS = 300


def pip_audit_command() -> list[str]:
    """pip-audit from the same virtualenv as this Python."""
    beside = Path(sys.executable).with_name("pip-audit")
    found = str(beside) if beside.exists() else shutil.which("pip-audit")
    if not found:
        raise SystemExit("pip-audit is not installed: pip install 'pip-audit>=2.7'")
    return [found, "--format", "json", "--progress-spinner", "off"]


def main() -> int:
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell # nosec B603
            pip_audit_command(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(
            f"pip-audit: SKIPPED, no answer from the vulnerability service in {TIMEOUT_SECONDS} s."
        )
        return 0
    try:
        report = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    dependencies = report.get("dependencies") or []
    if not dependencies:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        if "ConnectionError" in result.stderr or "Failed to resolve" in result.stderr:
            print(f"pip-audit: SKIPPED, the vulnerability service cannot be reached ({last}).")
            return 0
        print(f"pip-audit failed: {last}", file=sys.stderr)
        return 1
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = [d for d in dependencies if "skip_reason" not in d]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(
                f"{dependency['name']} {dependency.get('version', '')}: {vuln['id']} "
                f"(fixed in {fixes})"
            )
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} package(s) with known vulnerabilities.")
        return 1
    if not audited:
        print(
            f"pip-audit: SKIPPED, none of the {len(dependencies)} installed packages could be "
            "looked up: this machine cannot reach the vulnerability service (every lookup "
            "failed or answered 'not found'). Run it where pypi.org is reachable."
        )
        return 0
    skipped = len(dependencies) - len(audited)
    note = f" ({skipped} not on PyPI, not checked)" if skipped else ""
    print(f"pip-audit: no known vulnerabilities in {len(audited)} packages{note}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
