"""Reminders in Chromium, keyboard only: `r` opens Remind me, a daily reminder is saved, the
card shows the bell, and the confirmation mail, sent by the real scheduler through the
development mail sink, shows up at /dev/mail."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_auth_journey import sign_up, unique_email


def test_remind_me_with_the_keyboard(page: Page):
    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    page.keyboard.type("Water the plants")
    page.keyboard.press("Enter")
    card = page.locator(".task-card").first
    expect(card).to_be_visible()
    page.keyboard.press("Escape")
    expect(card).to_be_focused()
    page.keyboard.press("r")
    expect(page.get_by_label("At a date and time")).to_be_focused()
    screenshot(page, "reminders-form")
    page.get_by_label("Repeat until done").focus()
    page.keyboard.press("ArrowDown")  # Every day
    expect(page.get_by_label("Repeat until done")).to_have_value("daily")
    page.get_by_label("at", exact=True).fill("08:15")
    page.get_by_role("button", name="Save reminders").focus()
    page.keyboard.press("Enter")
    bell = page.locator(".task-card__bell")
    expect(bell).to_contain_text("8:15\u202fAM")  # the en-US browser's 12-hour clock
    expect(page.locator(".task-card").first).to_be_focused()
    screenshot(page, "reminders-bell")

    # The scheduler sends the confirmation through the development mail sink.
    for _ in range(20):
        page.goto("/dev/mail")
        if page.get_by_role("heading", name="Reminders on: Water the plants").count():
            break
        page.wait_for_timeout(500)
    expect(page.get_by_role("heading", name="Reminders on: Water the plants")).to_be_visible()
    screenshot(page, "dev-mail")


def test_no_serious_accessibility_violations_on_settings_and_reminders(page: Page):
    from axe_playwright_python.sync_playwright import Axe

    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    page.keyboard.type("Accessible reminder")
    page.keyboard.press("Enter")
    expect(page.locator(".task-card")).to_have_count(1)
    task_id = page.locator(".task-card").first.get_attribute("id").split("-")[1]
    for path in ("/account/settings", f"/tasks/{task_id}/reminders", "/account/password"):
        page.goto(path)
        results = Axe().run(page)
        serious = [
            v for v in results.response["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{path}: {[(v['id'], v['help']) for v in serious]}"


def test_the_channel_choice_is_saved(page: Page):
    """Send by: this browser has no push subscription, so "This device's notifications" is
    unticked and disabled with a pointer to Settings; the choice made is kept, said by the bell,
    and ticked again when the form is opened next."""
    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    page.keyboard.type("Phone only")
    page.keyboard.press("Enter")
    card = page.locator(".task-card").first
    expect(card).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    send_by = page.get_by_role("group", name="Send by")
    expect(send_by.get_by_label("Email")).to_be_checked()
    expect(send_by.get_by_label("This device's notifications")).to_be_disabled()
    expect(send_by.get_by_text("This browser does not get notifications yet")).to_be_visible()
    page.get_by_label("Repeat until done").select_option("daily")
    send_by.get_by_label("Email").uncheck()
    page.get_by_role("button", name="Save reminders").click()
    expect(page.get_by_text("Choose at least one way to be reminded.")).to_be_visible()
    send_by = page.get_by_role("group", name="Send by")
    send_by.get_by_label("All my devices").check()
    page.get_by_role("button", name="Save reminders").click()
    bell = page.locator(".task-card__bell")
    expect(bell).to_have_attribute("title", "Next reminder, by all my devices")
    page.locator(".task-card").first.focus()
    page.keyboard.press("r")
    send_by = page.get_by_role("group", name="Send by")
    expect(send_by.get_by_label("All my devices")).to_be_checked()
    expect(send_by.get_by_label("Email")).not_to_be_checked()
