"""An optional in-process scheduler: runs the reminder job every few minutes in a thread.

Each run also retries the email that was not delivered (app.mail.retry_unsent).

Meant for the single-process default (`python -m app serve`). With cron or a systemd
timer running `python -m app reminders run`, turn it off (DYADE_REMINDERS_IN_PROCESS=false).
Several processes running it at once is harmless, only wasteful: the database lets each
reminder through once.
"""

from __future__ import annotations

import logging
import threading

from app.config import get_settings

log = logging.getLogger(__name__)


class ReminderScheduler:
    """A daemon thread that runs the job, then waits the interval, until stopped."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dyade-reminders", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        from app.mail import retry_unsent
        from app.reminders.service import run_reminders

        # A short pause first, so that start-up (and migrations) finish before the first run.
        while not self._stopped.wait(min(30.0, self.interval_seconds)):
            try:
                report = run_reminders()
                log.info(report.summary())
            except Exception:
                # One bad run must not end the thread; the next run tries again.
                log.exception("The reminder job failed")
            try:
                sent, failed = retry_unsent()
                if sent or failed:
                    log.info("Mail retried: %s sent, %s failed again", sent, failed)
            except Exception:
                log.exception("Retrying unsent mail failed")
            if self._stopped.wait(self.interval_seconds):
                break


def start_in_process_scheduler() -> ReminderScheduler | None:
    """Start the scheduler when the settings ask for it (never by default in tests)."""
    settings = get_settings()
    if not settings.reminders_run_in_process:
        return None
    scheduler = ReminderScheduler(settings.reminders_interval_minutes * 60.0)
    scheduler.start()
    return scheduler
