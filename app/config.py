"""Settings from environment variables (prefix DYADE_) and an optional .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "change-me-dyade-development-only"  # noqa: S105 - a known placeholder we refuse # nosec B105


class Settings(BaseSettings):
    """All configuration of one Dyade instance."""

    model_config = SettingsConfigDict(env_prefix="DYADE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET_KEY
    base_url: str = "http://127.0.0.1:8000"
    default_locale: Literal["nl", "en"] = "nl"
    # Times are stored in UTC and shown in this zone.
    timezone: str = "Europe/Amsterdam"

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    mail_from: str = "Dyade <no-reply@dyade.local>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    invitation_valid_hours: int = Field(default=72, ge=1, le=24 * 30)
    reset_valid_minutes: int = Field(default=60, ge=5, le=24 * 60)

    # Failed logins within the window before further attempts wait.
    login_window_minutes: int = Field(default=15, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)
    # Password reset requests within the window, per address and per email address typed.
    reset_window_minutes: int = Field(default=15, ge=1)
    reset_max_per_address: int = Field(default=20, ge=1)
    reset_max_per_email: int = Field(default=5, ge=1)
    # Autosaves per login session per minute: typing saves at most about once a second.
    autosave_max_per_minute: int = Field(default=120, ge=1)

    # A cheaper argon2 cost is allowed only in tests, where hundreds of hashes are made.
    argon2_memory_kib: int = Field(default=19 * 1024 + 512, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)

    trusted_proxies: bool = False

    # Requests one worker process handles at once; more wait their turn (in the event loop,
    # which costs nothing). Every request holds at most one database connection, and the
    # connection pool is sized from this, so that a request never waits for a connection
    # that another, waiting request holds (with a pool smaller than the number of requests
    # in progress, such waits can deadlock until the pool times out). Keep it at most the
    # thread pool's 40 threads; on PostgreSQL, workers × (this + 14) must stay below the
    # server's max_connections.
    max_concurrent_requests: int = Field(default=24, ge=1, le=40)
    # Routes marked @db_only (they do nothing but database work: no mail, no PDF, no
    # password hashing) run on the event loop instead of in the thread pool; None: only on
    # SQLite. SQLite runs inside the process, so its calls are CPU work that the GIL
    # serialises anyway, and handing each request to a thread and back only adds switching
    # (2 ms of CPU per autosave under load; docs/benchmarks.md). On PostgreSQL every
    # statement waits for the network, and those waits belong in a thread.
    db_routes_inline: bool | None = None

    # Completed trajectories are deleted this many months after completion
    # (`python -m app retention run`, e.g. nightly from cron).
    retention_months_after_completion: int = Field(default=24, ge=1, le=1200)
    # Where pg_dump and pg_restore live, when they are not found on their own.
    pg_bin_dir: str = ""
    # The reminder job in a thread of the web process (None: on, except in tests); turn it
    # off when cron or a systemd timer runs `python -m app reminders run`.
    reminders_in_process: bool | None = None
    reminders_interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Audit events older than this are removed by `python -m app audit purge`.
    audit_retention_years: int = Field(default=5, ge=1, le=100)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems = self.problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def problems(self) -> list[str]:
        """Plain-language problems that must stop the app from starting."""
        found: list[str] = []
        if self.environment != "development":
            if self.secret_key == DEFAULT_SECRET_KEY:
                found.append(
                    "DYADE_SECRET_KEY still has its default value; set a long random value "
                    "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
                )
            elif len(self.secret_key) < 32:
                found.append("DYADE_SECRET_KEY is too short: use at least 32 characters.")
        if self.environment == "production":
            if not self.base_url.startswith("https://"):
                found.append("DYADE_BASE_URL must start with https:// in production.")
            if self.argon2_memory_kib < 19 * 1024 or self.argon2_time_cost < 2:
                found.append("The password hashing cost is below the minimum for production.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            found.append(f"DYADE_TIMEZONE {self.timezone!r} is not a known time zone.")
        if self.smtp_ssl and self.smtp_starttls:
            found.append("Choose either DYADE_SMTP_SSL or DYADE_SMTP_STARTTLS, not both.")
        return found

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def outbox_enabled(self) -> bool:
        """The outbox page lets flows work without a mail server; never in production."""
        return self.environment != "production"

    @property
    def reminders_run_in_process(self) -> bool:
        if self.reminders_in_process is not None:
            return self.reminders_in_process
        return self.environment != "test"

    @property
    def run_db_routes_inline(self) -> bool:
        if self.db_routes_inline is not None:
            return self.db_routes_inline
        return self.effective_database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS everywhere but on a developer's own machine."""
        return self.environment != "development"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dyade.db').as_posix()}"


def describe_problems(error: ValidationError) -> list[str]:
    """One plain line per configuration problem, naming the environment variable."""
    lines: list[str] = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ())]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not location:  # the checks in Settings.problems() name their variables
            lines += message.splitlines()
            continue
        variable = "DYADE_" + location[0].upper()
        given = problem.get("input")
        shown = "" if given is None or variable == "DYADE_SECRET_KEY" else f" (got {given!r})"
        lines.append(f"{variable}: {message}{shown}")
    return lines


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
