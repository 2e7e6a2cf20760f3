"""The live board in two Chromium contexts logged in as the same user (a laptop and a phone,
each with its own session): every action in one shows in the other without a reload, around
what the user is doing there (focus, an open editor, the search), with one announcement per
batch, a visible note while the connection is down, and nothing missed after it comes back."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import free_port, screenshot
from tests.browser.test_auth_journey import PASSWORD, sign_up, unique_email
from tests.browser.test_board import add_tasks, bucket, card, focused_title, menu_action
from tests.conftest import PostgresServer


@pytest.fixture
def laptop(page: Page) -> Page:
    return page


@pytest.fixture
def phone(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    other = context.new_page()
    errors: list[str] = []
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    yield other
    context.close()
    assert errors == []


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url("/", timeout=15_000)
    page.wait_for_function("() => window.EventSource && document.querySelector('#board')")


def both(laptop: Page, phone: Page) -> str:
    email = unique_email()
    sign_up(laptop, email)
    log_in(phone, email)
    return email


def test_each_action_shows_on_the_other_device(laptop: Page, phone: Page):
    both(laptop, phone)
    add_tasks(laptop, "Alpha", "Beta", "Gamma")
    expect(bucket(phone, "todo").locator(".task-card")).to_have_count(3)
    expect(phone.locator("#count-todo")).to_have_text("3 tasks")
    expect(phone.locator("#announce")).to_contain_text("changed elsewhere")

    menu_action(laptop, "Beta", "In progress")  # a move
    expect(bucket(phone, "doing")).to_contain_text("Beta")
    expect(bucket(phone, "todo")).not_to_contain_text("Beta")
    expect(phone.locator("#count-doing")).to_have_text(re.compile(r"^1\b"))

    laptop.get_by_role("link", name="Alpha").click()  # an edit
    laptop.get_by_label("Title").fill("Alpha, renamed")
    laptop.get_by_role("button", name="Save").click()
    expect(card(phone, "Alpha, renamed")).to_be_visible()

    card(laptop, "Alpha, renamed").focus()  # a reorder: Shift+J moves it down
    laptop.keyboard.press("Shift+J")
    expect(bucket(laptop, "todo").locator(".task-card").first).to_contain_text("Gamma")
    expect(bucket(phone, "todo").locator(".task-card").first).to_contain_text("Gamma")

    menu_action(laptop, "Gamma", "Done")  # done, then undo
    expect(bucket(phone, "done")).to_contain_text("Gamma")
    laptop.get_by_role("button", name="Undo").last.click()
    expect(bucket(phone, "todo")).to_contain_text("Gamma")
    expect(bucket(phone, "done")).not_to_contain_text("Gamma")

    menu_action(laptop, "Beta", "Delete")  # delete
    expect(phone.locator(".task-card", has_text="Beta")).to_have_count(0)
    expect(phone.locator("#count-doing")).to_have_text("0 tasks")

    card(laptop, "Gamma").focus()  # a reminder set: the phone's card gets the bell
    laptop.keyboard.press("r")
    laptop.get_by_label("Repeat until done").select_option("daily")
    laptop.get_by_label("at", exact=True).fill("07:45")
    laptop.get_by_role("button", name="Save reminders").click()
    expect(card(phone, "Gamma").get_by_role("img", name="Next reminder")).to_be_visible()
    assert phone.locator(".task-card").count() == 2  # nothing doubled on the way
    screenshot(phone, "live-phone-in-step")


def test_focus_an_open_editor_and_the_search_are_kept(laptop: Page, phone: Page):
    both(laptop, phone)
    add_tasks(laptop, "pear one", "pear two", "apple", "kiwi")
    expect(bucket(phone, "todo").locator(".task-card")).to_have_count(4)

    # The phone's focused card is deleted on the laptop: focus moves on as after a local delete.
    card(phone, "apple").focus()
    menu_action(laptop, "apple", "Delete")
    expect(phone.locator(".task-card", has_text="apple")).to_have_count(0)
    expect(card(phone, "pear two")).to_be_focused()
    # Another card changing does not take focus away.
    menu_action(laptop, "kiwi", "In progress")
    expect(bucket(phone, "doing")).to_contain_text("kiwi")
    assert focused_title(phone) == "pear two"

    # An editor open on the phone is not replaced: it says the card changed, and Save still
    # meets the version check.
    phone.keyboard.press("e")
    expect(phone.get_by_label("Title")).to_be_focused()
    phone.keyboard.type(" (typed on the phone)")
    laptop.get_by_role("link", name="pear two").click()
    laptop.get_by_label("Title").fill("pear two, from the laptop")
    laptop.get_by_role("button", name="Save").click()
    notice = phone.locator(".live-notice")
    expect(notice).to_contain_text("Changed elsewhere")
    expect(phone.get_by_label("Title")).to_have_value("pear two (typed on the phone)")
    expect(phone.get_by_label("Title")).to_be_focused()
    screenshot(phone, "live-changed-elsewhere")
    phone.emulate_media(color_scheme="dark")
    screenshot(phone, "live-changed-elsewhere-dark")
    phone.emulate_media(color_scheme="light")
    phone.get_by_role("button", name="Save").click()
    expect(phone.get_by_role("alert")).to_contain_text("changed in another tab or window")
    phone.get_by_role("link", name="Cancel").click()
    expect(card(phone, "pear two, from the laptop")).to_be_visible()

    # A search on the phone: a new match appears, a card that stops matching leaves.
    phone.keyboard.press("/")
    phone.keyboard.type("pear")
    expect(phone.locator(".task-card")).to_have_count(2)
    add_tasks(laptop, "pear three", "banana")
    expect(phone.locator(".task-card", has_text="pear three")).to_be_visible()
    expect(phone.locator(".task-card", has_text="banana")).to_have_count(0)
    expect(phone.locator("#count-todo")).to_contain_text("3 of")
    laptop.get_by_role("link", name="pear one").click()
    laptop.get_by_label("Title").fill("plum")
    laptop.get_by_role("button", name="Save").click()
    expect(phone.locator(".task-card", has_text="plum")).to_have_count(0)
    expect(phone.locator(".task-card")).to_have_count(2)


class Server:
    """A `taskly serve` of its own on the browser tests' database, which a test can stop and
    start again on the same port (a deploy, a crash): the live server is shared."""

    def __init__(self, dsn: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "TASKLY_ENV": "development",
            "BASE_URL": self.url,
            "TASKLY_DATA_DIR": str(folder),
            "SECRET_KEY": secrets.token_hex(32),  # sessions survive the restart
            "RATE_LIMITS_ENABLED": "0",
        }
        self.env.pop("SMTP_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskly", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):  # noqa: S310
                    return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def own_server(postgres: PostgresServer, tmp_path: Path) -> Iterator[Server]:
    server = Server(postgres.dsn("taskly_browser"), tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_server_restart_shows_a_note_and_misses_nothing(
    laptop: Page, browser: Browser, own_server: Server
):
    email = unique_email()
    sign_up(laptop, email)
    add_tasks(laptop, "Before")
    context = browser.new_context(
        base_url=own_server.url,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    context.set_default_timeout(10_000)
    phone = context.new_page()
    log_in(phone, email)
    expect(card(phone, "Before")).to_be_visible()
    own_server.stop()  # the phone's server goes away
    expect(phone.locator("#live-status")).to_contain_text("reconnecting")
    screenshot(phone, "live-reconnecting")
    phone.emulate_media(color_scheme="dark")
    screenshot(phone, "live-reconnecting-dark")
    add_tasks(laptop, "While it was down")
    menu_action(laptop, "Before", "Done")
    own_server.start()
    expect(card(phone, "While it was down")).to_be_visible(timeout=20_000)  # the browser retries
    phone.get_by_role("link", name="Done").click()  # the phone shows one bucket at a time
    expect(bucket(phone, "done")).to_contain_text("Before")
    expect(phone.locator("#live-status")).to_be_hidden()
    assert phone.locator(".task-card").count() == 2  # nothing doubled
    context.close()


def test_logging_out_closes_the_stream(laptop: Page, phone: Page):
    both(laptop, phone)
    laptop.goto("/account/devices")
    laptop.get_by_role("button", name="Log out everywhere else").click()
    expect(phone.locator("#live-status")).to_contain_text("logged out")
