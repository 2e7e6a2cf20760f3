"""Every HTML mail at 390 px in Chromium: one branded column, nothing wider than the screen,
the actions as buttons a thumb can hit; and the text part carries the same links."""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime
from email import policy

import pytest
from playwright.sync_api import Browser

from taskly.reminders.messages import outbox_message, reminder_message
from taskly.settings import Settings
from tests.browser.conftest import ARTIFACTS

SETTINGS = Settings(base_url="https://tasks.example", secret_key="k" * 64)
LONG = "A very long task title that goes on and on " * 4
OUTBOX = {
    "verify_email": {"link": "https://tasks.example/verify/abc", "email": "ada@example.com"},
    "reset_password": {
        "link": "https://tasks.example/password/reset/abc",
        "requested_at": "2026-11-22T10:00:00+00:00",
        "browser": "Firefox on Linux",
    },
    "subscribed": {
        "title": LONG,
        "schedule": "every weekday at 08:30. Next: Mon 23 Nov at 08:30",
        "url": "https://tasks.example/tasks/1",
    },
    "unsubscribed": {"title": "Water the plants", "url": "https://tasks.example/tasks/1"},
    "change_email": {
        "link": "https://tasks.example/account/email/confirm/abc",
        "new_email": "ada.lovelace.new.address@example.com",
    },
    "signup_attempt": {"login_url": "https://tasks.example/login"},
    "email_taken": {"login_url": "https://tasks.example/login"},
    "email_changed": {
        "new_email": "new@example.com",
        "reset_url": "https://tasks.example/password/forgot",
    },
    "goodbye": {"signup_url": "https://tasks.example/signup"},
}


def parts(mail) -> tuple[str, str]:
    message = email.message_from_bytes(mail.data, policy=policy.default)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    return html, text


def reminder() -> tuple[str, str]:
    target = {
        "user_id": 1,
        "task_id": 7,
        "time_zone": "Europe/Berlin",
        "locale": "en-US",  # the longest times: "Tuesday, December 1, 2026, 5:00 PM CET"
        "first_name": "Ada",
        "email": "ada@example.com",
        "title": LONG,
        "notes": "Bring the blue folder.\nAnd tea.",
        "due_at": datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
        "due_all_day": False,
    }
    occurrence = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    return parts(reminder_message(SETTINGS, {"id": 3}, target, occurrence, False, "<m@x>"))


def outbox(template: str) -> tuple[str, str]:
    context = {"subject": template, **OUTBOX[template]}
    row = {
        "context": json.dumps(context),
        "first_name": "Ada",
        "template": template,
        "email": "ada@example.com",
        "message_id": "<m@x>",
        "time_zone": "Europe/Berlin",
        "locale": "en-GB",
        "verified": True,
        "to_account": True,
    }
    return parts(outbox_message(SETTINGS, row))


@pytest.mark.parametrize("name", ["reminder", *OUTBOX])
def test_every_mail_fits_a_phone_and_its_text_part_has_the_same_links(browser: Browser, name):
    html, text = reminder() if name == "reminder" else outbox(name)
    for link in set(re.findall(r'href="([^"]+)"', html)):
        assert link.replace("&amp;", "&") in text, (name, link)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_content(html)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    buttons = page.locator("a[href]")
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, name
        if buttons.nth(i).evaluate("a => a.style.padding !== ''"):
            assert box["height"] >= 40, (name, box)  # a button, big enough for a thumb
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"mail-{name}-390.png"), full_page=True)
    context.close()
