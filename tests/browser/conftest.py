"""Browser fixtures: a real `taskly serve` process on a free port and the system Chromium
driven by Playwright. Tests use labels and roles, and the keyboard first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.conftest import PostgresServer

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("TASKLY_ARTIFACTS", "artifacts"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    dsn = postgres.create_database_sync("taskly_browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "TASKLY_ENV": "development",
        "BASE_URL": base,
        "TASKLY_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "REMINDER_INTERVAL": "0.5",  # the dev mail sink and the scheduler run for real
        "CONFIRMATION_DELAY": "1",  # the quiet period before "Reminders on" mail
        # Every browser test signs up from 127.0.0.1: more than an hour's sign-ups from one
        # address. The limits themselves are tested against the app (tests/auth, test_ratelimit).
        "RATE_LIMITS_ENABLED": "0",
        # Apprise tests send to a receiver on 127.0.0.1, as an operator's LAN ntfy would be.
        "NOTIFY_ALLOW_PRIVATE": "1",
    }
    env.pop("SMTP_URL", None)
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskly", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310 - loopback
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"taskly serve did not start; see {log.name}") from None
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=15)
    log.close()


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the async tests that run after this package need the thread back.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    # The browser's language sets a new account's date format (issue #11): US English, 12-hour.
    context = browser.new_context(
        base_url=live_server, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Status lines for 4xx responses ("Failed to load resource") are expected: forms answer 422.
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.text} @ {page.url}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    # TASKLY_TRACE_EVENTS=1 pytest -s prints keys, htmx events and focus moves: the way to
    # debug a focus assertion that fails.
    if os.environ.get("TASKLY_TRACE_EVENTS"):
        trace: list[str] = []
        page.on("console", lambda msg: trace.append(msg.text) if msg.text.startswith("~") else None)
        page.add_init_script(
            "window.tasklyTrace = true;"
            "for (const e of ['keydown','htmx:beforeRequest','htmx:afterOnLoad','htmx:afterSettle',"
            "'focusin','focusout']) document.addEventListener(e, ev => console.log('~', e,"
            " ev.key || '', ev.target.id || ev.target.tagName,"
            " document.activeElement && (document.activeElement.id"
            " || document.activeElement.tagName)),"
            " true);"
        )
    yield page
    if os.environ.get("TASKLY_TRACE_EVENTS"):
        print("\n".join(trace))
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of what the test saw (CI uploads nothing; a person looks at them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
