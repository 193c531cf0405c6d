#!/usr/bin/env bash
# Dyade's two commands (see README):
#   ./dev.sh run    set everything up and run the app with demo data on http://127.0.0.1:8000
#   ./dev.sh test   set everything up and run all checks: ruff, mypy, the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

need_python() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Dyade needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
    exit 1
  fi
}

# Install into .venv; skipped when pyproject.toml has not changed since the last install.
setup() {
  local extra=$1 stamp
  need_python
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  stamp="$VENV/.stamp-$extra-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    # A fresh venv carries Python's bundled setuptools, which has known advisories.
    "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools
    if [ "$extra" = dev ]; then
      "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    else
      "$VENV/bin/python" -m pip install --quiet -e .
    fi
    rm -f "$VENV"/.stamp-"$extra"-*
    touch "$stamp"
  fi
}

# pytest exits 5 when a run selects no tests; only the optional second run may do that.
run_pytest() {
  local allow_empty=$1; shift
  set +e
  "$VENV/bin/python" -m pytest "$@"
  local rc=$?
  set -e
  if [ "$rc" = 5 ] && [ "$allow_empty" = yes ]; then
    echo "(no tests selected in this run)"
    return 0
  fi
  return "$rc"
}

case "${1:-}" in
  run)
    setup run
    shift
    exec "$VENV/bin/python" -m app serve --demo "$@"
    ;;
  test)
    setup dev
    shift
    echo "== ruff"
    "$VENV/bin/ruff" check app tests migrations
    "$VENV/bin/ruff" format --check app tests migrations
    echo "== mypy"
    "$VENV/bin/mypy" app
    echo "== bandit"
    "$VENV/bin/bandit" -c pyproject.toml -q -r app scripts
    echo "== pip-audit"
    # pip-audit, else PyPI's project pages; SKIPPED with the reason when neither answers.
    "$VENV/bin/python" scripts/audit_dependencies.py
    echo "== translations"
    "$VENV/bin/python" -m app i18n --check
    echo "== instruments"
    "$VENV/bin/python" -m app instruments validate
    "$VENV/bin/python" -m app programmes validate
    if [ -z "${DYADE_TEST_POSTGRES_URL:-}" ] && [ "${DYADE_REQUIRE_POSTGRES:-}" = 1 ]; then
      echo "DYADE_REQUIRE_POSTGRES=1 but DYADE_TEST_POSTGRES_URL is not set." >&2
      exit 1
    fi
    pg_pid=""
    if [ -n "${DYADE_TEST_POSTGRES_URL:-}" ]; then
      # Both runs at once: they share nothing (their own database, data and temporary
      # folders), and on two cores this saves about a third of the time. The PostgreSQL
      # run's output is shown after the SQLite run's.
      pg_log=$(mktemp)
      pg_tmp=$(mktemp -d)
      (DYADE_TEST_DATABASE_URL="$DYADE_TEST_POSTGRES_URL" run_pytest yes -m "not browser" \
        -p no:cacheprovider --basetemp="$pg_tmp" "$@" >"$pg_log" 2>&1) &
      pg_pid=$!
    fi
    echo "== tests on SQLite"
    sqlite_rc=0
    run_pytest no "$@" || sqlite_rc=$?
    pg_rc=0
    if [ -n "$pg_pid" ]; then
      wait "$pg_pid" || pg_rc=$?
      echo "== tests on PostgreSQL (ran alongside the SQLite run)"
      cat "$pg_log"
      rm -rf "$pg_log" "$pg_tmp"
    fi
    if [ "$sqlite_rc" != 0 ] || [ "$pg_rc" != 0 ]; then
      echo "Tests failed: SQLite run exit $sqlite_rc, PostgreSQL run exit $pg_rc." >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: ./dev.sh run | test [pytest arguments]" >&2
    exit 2
    ;;
esac
