"""Configuration refuses unsafe values, and the admin commands say what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.cli import main
from app.config import DEFAULT_SECRET_KEY, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_default_secret_key_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="DYADE_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY, base_url="https://x.nl")
    with pytest.raises(ValidationError, match="DYADE_SECRET_KEY"):
        Settings(environment="test", secret_key=DEFAULT_SECRET_KEY)


def test_development_accepts_the_default_key() -> None:
    settings = Settings(environment="development", secret_key=DEFAULT_SECRET_KEY)
    assert settings.secret_key == DEFAULT_SECRET_KEY


def test_production_needs_https_and_a_strong_hash() -> None:
    key = "k" * 40
    with pytest.raises(ValidationError, match="https"):
        Settings(environment="production", secret_key=key, base_url="http://dyade.example")
    with pytest.raises(ValidationError, match="hashing cost"):
        Settings(
            environment="production", secret_key=key, base_url="https://d.nl", argon2_time_cost=1
        )


def test_the_database_defaults_to_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(environment="development", data_dir=tmp_path, database_url="")
    assert settings.effective_database_url == f"sqlite:///{tmp_path.as_posix()}/dyade.db"


def _run_check(env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DYADE_DATA_DIR": str(tmp_path), **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "app", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_command_reports_a_bad_configuration(tmp_path: Path) -> None:
    result = _run_check({"DYADE_ENVIRONMENT": "production"}, tmp_path)
    assert result.returncode == 2
    assert "DYADE_SECRET_KEY still has its default value" in result.stderr


def test_check_command_names_each_bad_variable_on_its_own_line(tmp_path: Path) -> None:
    result = _run_check(
        {
            "DYADE_ENVIRONMENT": "production",
            "DYADE_SECRET_KEY": "k" * 40,
            "DYADE_SMTP_PORT": "abc",
            "DYADE_SESSION_IDLE_MINUTES": "0",
        },
        tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(line.startswith("  - DYADE_SMTP_PORT: ") and "'abc'" in line for line in lines)
    assert any(line.startswith("  - DYADE_SESSION_IDLE_MINUTES: ") for line in lines)


def test_the_server_refuses_to_start_with_the_default_key_in_production(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DYADE_DATA_DIR": str(tmp_path),
        "DYADE_ENVIRONMENT": "production",
        "DYADE_BASE_URL": "https://dyade.example.nl",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Dyade cannot start" in result.stderr
    assert "DYADE_SECRET_KEY still has its default value" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_command_passes_on_a_good_configuration(tmp_path: Path) -> None:
    result = _run_check({"DYADE_ENVIRONMENT": "development"}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database connection: ok" in result.stdout
    assert "reminders: run in the web process every 15 minutes" in result.stdout
    cron = _run_check(
        {"DYADE_ENVIRONMENT": "development", "DYADE_REMINDERS_IN_PROCESS": "false"}, tmp_path
    )
    assert "python -m app reminders run" in cron.stdout


def test_check_command_reports_an_unreachable_database(tmp_path: Path) -> None:
    result = _run_check(
        {
            "DYADE_ENVIRONMENT": "development",
            "DYADE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        },
        tmp_path,
    )
    assert result.returncode == 1
    assert "database connection: FAILED" in result.stdout


def test_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["no-such-command"])
    assert "invalid choice" in capsys.readouterr().err
