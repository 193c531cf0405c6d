"""Scan the running app with wapiti and sqlmap, logged in, and summarise the findings.

Starts the app with uvicorn on 127.0.0.1 (a free port) against a fresh SQLite database
(or --database-url) with the demo organisations and a trajectory in progress, makes a
login session for a demo person of each role, and then, per role:

  wapiti   crawls everything that role can reach with the session cookie (the forms it
           finds carry their CSRF token) and attacks every parameter: SQL injection
           (error and time based), XSS (reflected and stored), command execution, file
           and path traversal, open redirect, CRLF, CSRF, HTTP methods, and the checks of
           headers, cookie flags and the Content-Security-Policy;
  sqlmap   tries every injection technique on the parameters of the forms and queries
           that reach the database (login, password reset, search and filters, the forms
           that create or change data, autosave).

Needs the Debian packages: apt-get install -y wapiti sqlmap. Loopback only; the scan
changes only its own throwaway database. Reports go to --output (default a temporary
directory); the summary is printed and, with --docs, written to docs/security.md
between the "scan results" markers (the rest of that file is left as it is).

    .venv/bin/python scripts/security_scan.py --docs
    .venv/bin/python scripts/security_scan.py --roles professional --wapiti-minutes 3

Exit status 1 when either tool reports a finding of high (or critical) severity.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess  # runs wapiti and sqlmap with fixed arguments, no shell # nosec B404
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's app, not another installed one

from benchmarks.reflection_bench import HOST, running_server  # noqa: E402
from scripts.fuzz_openapi import DEMO_EMAILS, ROLES, login_tokens, prepare_database  # noqa: E402

DOCS = REPO / "docs" / "security.md"
BEGIN = "<!-- scan results: written by scripts/security_scan.py -->"
END = "<!-- end of scan results -->"
SECRET_KEY = "security-scan-secret-key-0123456789abcdef-012345"  # noqa: S105 # nosec B105
WAPITI_MODULES = (
    "sql,blindsql,xss,permanentxss,exec,file,redirect,crlf,csrf,methods,htaccess,"
    "http_headers,cookieflags,csp"
)
# wapiti's levels (wapitiCore/language/vulnerability.py).
LEVELS = {4: "critical", 3: "high", 2: "medium", 1: "low", 0: "info"}
# Debian 12's wapiti 3.0.4 fails on Python 3.11 as soon as one --exclude is given
# (re.error: "global flags not at the start", from its wildcard_translate); this runs it
# with that one function written the way Python 3.11 accepts.
WAPITI = (
    "import re, sys\n"
    "import wapitiCore.net.crawler as crawler\n"
    "def wildcard_translate(pattern):\n"
    "    body = ''.join('.*' if c == '*' else re.escape(c) for c in pattern)\n"
    "    return re.compile('(?ms)' + body + r'\\Z')\n"
    "crawler.wildcard_translate = wildcard_translate\n"
    "from wapitiCore.main.wapiti import wapiti_main\n"
    "sys.argv[0] = 'wapiti'\n"
    "sys.exit(wapiti_main())\n"
)
WRONG_LOGIN = {"email": "a@b.example", "password": "wrong"}  # a login that fails # nosec
# Pages that would end the scanner's own login (tested in tests/test_auth.py).
EXCLUDE = ("/logout", "/account/sessions/*", "/password/reset/*", "/invitation/*")


@dataclass
class Finding:
    tool: str
    role: str
    severity: str
    category: str
    where: str
    info: str


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sqlmap_targets: int = 0
    wapiti_requests: dict[str, int] = field(default_factory=dict)


def tool_version(command: list[str], pattern: str) -> str:
    """The version a tool prints, e.g. 'Wapiti 3.0.4'."""
    out = subprocess.run(  # noqa: S603 - fixed arguments # nosec B603
        command, capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(pattern, out.stdout + out.stderr)
    return match.group(0) if match else "unknown"


def _shown(command: list[str], token: str, csrf: str) -> str:
    """A command line for the docs, with the secrets replaced."""
    text = " ".join(command)
    return text.replace(token, "<session token>").replace(csrf, "<csrf token>")


# ---------------------------------------------------------------- wapiti


def start_pages(role: str, fixture: dict[str, Any]) -> list[str]:
    """Where wapiti starts (it does not follow HTTP redirects, only links and forms)."""
    pages = ["/home", "/account", "/notifications", "/instruments", "/login", "/password/forgot"]
    trajectory, intake = fixture["trajectory_id"], fixture["intake_id"]
    pages += {
        "professional": [
            "/relationships",
            f"/trajectories/{trajectory}",
            f"/sessions/{intake}",
            f"/sessions/{intake}/steps/consent",
            f"/sessions/{fixture['interview_id']}/steps/connected",
            f"/trajectories/{trajectory}/diary",
            f"/trajectories/{trajectory}/pulse",
            f"/trajectories/{trajectory}/experiments",
        ],
        "coach": ["/coach", f"/coach/trajectories/{trajectory}"],
        "supervisor": ["/dashboard", "/dashboard?sector=education"],
        "admin": ["/admin/users", "/admin/users/new", "/admin/outbox", "/admin/instruments/upload"],
    }[role]
    return pages


def run_wapiti(
    base: str,
    role: str,
    token: str,
    csrf: str,
    out: Path,
    minutes: float,
    result: ScanResult,
    fixture: dict[str, Any],
    modules: str = WAPITI_MODULES,
) -> None:
    report = out / f"wapiti-{role}.json"
    # wapiti's own cookie file format (as wapiti-getcookie writes it).
    cookie_file = out / f"wapiti-cookies-{role}.json"
    cookie = {"value": token, "expires": None, "secure": False, "port": None, "version": 0}
    cookie_file.write_text(json.dumps({HOST: {"/": {"dyade_session": cookie}}}))
    command = [
        "/usr/bin/python3",
        "-c",
        WAPITI,
        "-u",
        f"{base}/home",
        "--scope",
        "domain",
        "-m",
        modules,
        "-c",
        str(cookie_file),
        "--flush-session",
        "--store-session",
        str(out / f"wapiti-session-{role}"),
        "--max-scan-time",
        str(int(minutes * 60)),
        "--max-attack-time",
        str(int(minutes * 60 / 4)),
        "--max-links-per-page",
        "40",
        "-d",
        "6",
        "-t",
        "20",
        "-v",
        "1",
        "-f",
        "json",
        "-o",
        str(report),
    ]
    for path in start_pages(role, fixture):
        command += ["-s", f"{base}{path}"]
    for path in EXCLUDE:
        command += ["-x", f"{base}{path}"]
    shown = ["wapiti", *command[3:]]  # the -c wrapper only fixes --exclude, see WAPITI
    result.commands.append(_shown(shown, token, csrf))
    log = out / f"wapiti-{role}.log"
    with log.open("w") as handle:
        subprocess.run(  # noqa: S603 - fixed arguments, no shell # nosec B603
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=minutes * 60 + 600,
            check=False,
        )
    if not report.exists():
        result.notes.append(f"wapiti as {role} wrote no report; see {log}")
        result.findings.append(Finding("wapiti", role, "high", "no report", "", str(log)))
        return
    data = json.loads(report.read_text())
    infos = data.get("infos", {})
    result.wapiti_requests[role] = int(infos.get("crawled_pages_nbr", 0) or 0)
    for section in ("vulnerabilities", "anomalies"):
        for category, entries in (data.get(section) or {}).items():
            for entry in entries:
                level = int(entry.get("level", 0) or 0)
                severity = LEVELS.get(level, str(level))
                if section == "anomalies" and severity == "info":
                    severity = "low"
                where = f"{entry.get('method', '')} {entry.get('path', '')}".strip()
                if entry.get("parameter"):
                    where += f" [{entry['parameter']}]"
                result.findings.append(
                    Finding(
                        "wapiti",
                        role,
                        severity,
                        f"{category}" + (" (anomaly)" if section == "anomalies" else ""),
                        where,
                        str(entry.get("info", ""))[:300],
                    )
                )


# ---------------------------------------------------------------- sqlmap


@dataclass
class SqlmapTarget:
    role: str  # "anonymous" for the login and reset forms
    method: str
    path: str
    data: dict[str, str]
    parameters: str  # sqlmap's -p


def sqlmap_targets(fixture: dict[str, Any]) -> list[SqlmapTarget]:
    """The parameters that reach the database, per role.

    Autosave comes before the relationship form: sqlmap's payloads there may change the
    relationship so that its sessions are no longer found.
    """
    intake, interview = fixture["intake_id"], fixture["interview_id"]
    relationship, trajectory = fixture["relationship_id"], fixture["trajectory_id"]
    return [
        SqlmapTarget("anonymous", "POST", "/login", dict(WRONG_LOGIN), "email"),
        SqlmapTarget("anonymous", "POST", "/password/forgot", {"email": "a@b.example"}, "email"),
        SqlmapTarget("admin", "GET", "/admin/users", {"role": "coach", "q": "jan"}, "role,q"),
        SqlmapTarget("coach", "GET", "/coach", {"sort": "name", "flag": "stalled"}, "sort,flag"),
        SqlmapTarget(
            "supervisor",
            "GET",
            "/dashboard",
            {"sector": "education", "coach": "2", "from": "2026-01-01", "to": "2026-12-31"},
            "sector,coach,from,to",
        ),
        SqlmapTarget(
            "professional",
            "POST",
            f"/sessions/{interview}/steps/connected/draft",
            {"version": "1", "text": "een stukje tekst"},
            "version,text",
        ),
        SqlmapTarget(
            "professional",
            "POST",
            f"/relationships/{relationship}",
            {"pseudonym": "Kiki", "sector": "education", "age_band": "8-11", "setting": "g6"},
            "pseudonym,sector,age_band,setting",
        ),
        SqlmapTarget(
            "professional",
            "GET",
            f"/sessions/{intake}/steps/relationship",
            {},
            "",
        ),
        SqlmapTarget(
            "professional",
            "POST",
            f"/trajectories/{trajectory}/diary",
            {"occurred_on": "2026-11-30", "valence": "2", "what_happened": "Kiki huilde"},
            "occurred_on,valence,what_happened",
        ),
        SqlmapTarget(
            "professional",
            "POST",
            f"/trajectories/{trajectory}/experiments",
            {"occurred_on": "2026-11-30", "what_i_did": "Even gewacht", "how_it_went": "2"},
            "occurred_on,what_i_did,how_it_went",
        ),
    ]


def run_sqlmap(
    base: str, target: SqlmapTarget, cookie: str, csrf: str, out: Path, result: ScanResult
) -> None:
    url = f"{base}{target.path}"
    data = dict(target.data)
    command = ["sqlmap", "--batch", "--flush-session", "--level", "3", "--risk", "2"]
    command += ["--output-dir", str(out / "sqlmap"), "--timeout", "20", "--retries", "1"]
    command += ["--skip-waf"]
    if cookie:
        command += ["--cookie", cookie]
    if target.method == "GET":
        command += ["-u", f"{url}?{urlencode(data)}" if data else url + "*"]
    else:
        data["csrf_token"] = csrf
        command += ["-u", url, "--data", urlencode(data), "--skip", "csrf_token"]
    if target.parameters:
        command += ["-p", target.parameters]
    token = cookie.split("=", 1)[1] if cookie else "\0"
    result.commands.append(_shown(command, token, csrf))
    result.sqlmap_targets += 1
    done = subprocess.run(  # noqa: S603 - fixed arguments, no shell # nosec B603
        command, capture_output=True, text=True, timeout=1800, check=False
    )
    log = out / f"sqlmap-{target.role}-{re.sub(r'[^a-z0-9]+', '-', target.path)}.log"
    log.write_text(done.stdout + done.stderr)
    text = done.stdout
    for match in re.finditer(r"Parameter: (.+?) \((\w+)\)\n((?:    .+\n)+)", text):
        result.findings.append(
            Finding(
                "sqlmap",
                target.role,
                "high",
                "SQL injection",
                f"{target.method} {target.path} [{match.group(1)}]",
                match.group(3).strip()[:300],
            )
        )
    if "is vulnerable" in text and not any(
        f.tool == "sqlmap" and f.where.startswith(f"{target.method} {target.path}")
        for f in result.findings
    ):
        result.findings.append(
            Finding("sqlmap", target.role, "high", "SQL injection", target.path, str(log))
        )
    if "all tested parameters do not appear to be injectable" not in text and not any(
        f.tool == "sqlmap" and target.path in f.where for f in result.findings
    ):
        last = next((line for line in reversed(text.splitlines()) if "[" in line), "")
        result.notes.append(f"sqlmap {target.method} {target.path}: {last.strip()[:200]}")


# ---------------------------------------------------------------- fixture and server


def make_fixture(url: str, data_dir: Path) -> dict[str, Any]:
    """The demo data, and the ids of the professional's relationship and sessions."""
    prepare_database(url, data_dir)
    from sqlmodel import Session, select

    from app.db import get_engine
    from app.models import FocusRelationship, ReflectionSession, SessionStatus, Trajectory

    with Session(get_engine()) as session:
        relationship = session.exec(select(FocusRelationship)).first()
        trajectory = session.exec(select(Trajectory)).first()
        assert relationship is not None and trajectory is not None
        sessions = {
            s.template_key: s
            for s in session.exec(
                select(ReflectionSession).where(ReflectionSession.trajectory_id == trajectory.id)
            ).all()
        }
        # Open the interview too, so its narrative steps and autosave can be scanned.
        sessions["interview"].status = SessionStatus.open
        session.add(sessions["interview"])
        session.commit()
        fixture = {
            "relationship_id": relationship.id,
            "trajectory_id": trajectory.id,
            "intake_id": sessions["intake"].id,
            "interview_id": sessions["interview"].id,
        }
    get_engine().dispose()
    return fixture


def new_tokens(roles: list[str]) -> dict[str, str]:
    from sqlmodel import Session

    from app.db import get_engine

    with Session(get_engine()) as session:
        tokens = login_tokens(session, roles)
        session.commit()
    get_engine().dispose()
    return tokens


def session_still_valid(token: str) -> bool:
    from sqlmodel import Session

    from app.db import get_engine
    from app.deps import load_actor

    with Session(get_engine()) as session:
        alive = load_actor(session, token) is not None
    get_engine().dispose()
    return alive


# ---------------------------------------------------------------- summary and docs


def summary_markdown(result: ScanResult, meta: dict[str, str]) -> str:
    counts = {s: 0 for s in ("critical", "high", "medium", "low", "info")}
    for finding in result.findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    lines = [
        BEGIN,
        "",
        f"- Date: {meta['date']}.",
        f"- Tools: {meta['wapiti']}, sqlmap {meta['sqlmap']}; Python {platform.python_version()}.",
        f"- App: this checkout ({meta['commit']}), uvicorn on {HOST}, environment=test, "
        f"{meta['database']}, demo data and one trajectory in progress.",
        f"- Roles scanned, each with its own login session: {meta['roles']}; "
        f"wapiti for at most {meta['minutes']} minutes per role; sqlmap on "
        f"{result.sqlmap_targets} forms and queries.",
        f"- Command: `{meta['command']}`",
        "",
        "| severity | findings |",
        "|---|--:|",
    ]
    lines += [f"| {severity} | {count} |" for severity, count in counts.items()]
    lines += ["", "| tool | role | severity | what | where | detail |", "|---|---|---|---|---|---|"]
    order = list(counts)
    for f in sorted(result.findings, key=lambda f: (order.index(f.severity), f.tool, f.role)):
        detail = f.info.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {f.tool} | {f.role} | {f.severity} | {f.category} | `{f.where}` | {detail} |"
        )
    if not result.findings:
        lines.append("| – | – | – | nothing found | – | – |")
    if result.notes:
        lines += ["", "Notes from the run:", ""]
        lines += [f"- {note}" for note in result.notes]
    lines += ["", "<details><summary>Commands run</summary>", ""]
    lines += [f"    {command}" for command in result.commands]
    lines += ["", "</details>", "", END]
    return "\n".join(lines)


def write_docs(markdown: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Security\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
        text = head + markdown + tail
    else:
        text = text.rstrip("\n") + "\n\n" + markdown + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", nargs="*", default=list(ROLES), choices=ROLES)
    parser.add_argument("--wapiti-minutes", type=float, default=6.0)
    parser.add_argument("--no-wapiti", action="store_true")
    parser.add_argument("--wapiti-modules", default=WAPITI_MODULES, help="comma-separated")
    parser.add_argument("--no-sqlmap", action="store_true")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--output", default="", help="where the tools' reports go")
    parser.add_argument("--docs", action="store_true", help="write docs/security.md")
    args = parser.parse_args()
    for tool in ("wapiti", "sqlmap"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed: apt-get install -y wapiti sqlmap")

    out = Path(args.output or tempfile.mkdtemp(prefix="dyade-scan-"))
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="dyade-scan-data-"))
    url = args.database_url or f"sqlite:///{data_dir / 'scan.db'}"
    fixture = make_fixture(url, data_dir)
    env = {
        "DYADE_DATABASE_URL": url,
        "DYADE_DATA_DIR": str(data_dir),
        "DYADE_ENVIRONMENT": "test",
        "DYADE_SECRET_KEY": SECRET_KEY,
        "BENCH_CWD": str(REPO),
    }
    os.environ["DYADE_SECRET_KEY"] = SECRET_KEY
    from app.config import get_settings

    get_settings.cache_clear()
    from app.security import csrf_token_for, token_digest

    result = ScanResult()
    started = time.monotonic()
    git = shutil.which("git") or "/usr/bin/git"
    commit = subprocess.run(  # noqa: S603 - fixed arguments # nosec
        [git, "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    with running_server("app.main:app", env=env, workers=1, ready_path="/healthz") as (port, _):
        base = f"http://{HOST}:{port}"
        env["DYADE_BASE_URL"] = base
        if not args.no_wapiti:
            for role in args.roles:
                token = new_tokens([role])[role]
                csrf = csrf_token_for("s:" + token_digest(token))
                print(f"wapiti as {role} ({DEMO_EMAILS[role]}) …", flush=True)
                run_wapiti(
                    base,
                    role,
                    token,
                    csrf,
                    out,
                    args.wapiti_minutes,
                    result,
                    fixture,
                    args.wapiti_modules,
                )
                if not session_still_valid(token):
                    result.notes.append(
                        f"wapiti as {role}: the login session ended during the scan"
                    )
        if not args.no_sqlmap:
            roles = {t.role for t in sqlmap_targets(fixture)} - {"anonymous"}
            tokens = new_tokens(sorted(roles))
            for target in sqlmap_targets(fixture):
                if target.role != "anonymous" and target.role not in args.roles:
                    continue
                print(f"sqlmap {target.method} {target.path} as {target.role} …", flush=True)
                token = tokens.get(target.role, "")
                cookie = f"dyade_session={token}" if token else ""
                csrf = csrf_token_for("s:" + token_digest(token)) if token else ""
                if not token:
                    # An anonymous form: its token is bound to the anon cookie.
                    anon = "scan-anonymous-visitor"
                    cookie = f"dyade_anon={anon}"
                    csrf = csrf_token_for("a:" + anon)
                run_sqlmap(base, target, cookie, csrf, out, result)
    database = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wapiti": tool_version(["wapiti", "--version"], r"Wapiti[- ][\d.]+"),
        "sqlmap": tool_version(["sqlmap", "--version"], r"[\d.]+#?\w*"),
        "commit": commit or "unknown",
        "database": database,
        "roles": ", ".join(args.roles),
        "minutes": f"{args.wapiti_minutes:g}",
        "command": "python scripts/security_scan.py " + " ".join(sys.argv[1:]),
    }
    markdown = summary_markdown(result, meta)
    print(markdown)
    print(f"\nreports in {out}; {time.monotonic() - started:.0f} s")
    if args.docs:
        write_docs(markdown)
    high = [f for f in result.findings if f.severity in ("high", "critical")]
    return 1 if high else 0


if __name__ == "__main__":
    sys.exit(main())
