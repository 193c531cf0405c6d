"""A real server (the README's run path: migrate, seed demo data, serve) and Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_flag

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The live server's environment: `python -m app …` with it works on the same database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DYADE_")}
    env.update(
        DYADE_ENVIRONMENT="development",
        # The browser tests drive the pages; reminders are tested in test_reminders.py.
        DYADE_REMINDERS_IN_PROCESS="false",
        DYADE_DATA_DIR=str(tmp_path_factory.mktemp("live")),
        DYADE_BASE_URL=f"http://127.0.0.1:{_free_port()}",
    )
    return env


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, live_env: dict[str, str]
) -> Iterator[str]:
    env = dict(live_env)
    port = int(env["DYADE_BASE_URL"].rsplit(":", 1)[1])
    log = (tmp_path_factory.mktemp("log") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 - local test server
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"the server stopped: see {log.name}")
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the server did not start within 60 seconds")
    yield url
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    required = require_flag("DYADE_REQUIRE_BROWSER")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import expect

    # CI runs the PostgreSQL suite alongside on the same two cores: give assertions the
    # same room as actions (page.set_default_timeout) rather than Playwright's 5 s.
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="nl-NL", viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
