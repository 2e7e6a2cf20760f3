"""The due picker's quick choices in Chromium (issue #11): each fills the card form's date
field with the account's today (not the browser's), No date clears date and time, the choice
is announced, and what is saved is what the server shows after a reload. The profile's date
format shows a live example as it is typed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_auth_journey import sign_up, unique_email

# Fourteen hours ahead of UTC: for most of the day its date is not the browser's (UTC here).
ZONE = "Pacific/Kiritimati"


def set_clock_and_format(page: Page) -> None:
    """The account's zone and date format, on the profile; the example follows the typing."""
    page.goto("/account/profile")
    page.get_by_label("Time zone").fill(ZONE)
    field = page.get_by_label("Date and time format")
    example = page.locator("#locale-example")
    field.fill("en-US")
    expect(example).to_contain_text("5:30\u202fPM")
    field.fill("de-DE")
    expect(example).to_contain_text(". Nov., 17:30")  # "Sa., 28. Nov., 17:30"
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()


def add_task(page: Page, title: str) -> str:
    page.goto("/")
    page.get_by_label("New task").fill(title)
    page.keyboard.press("Enter")
    card = page.locator(".task-card", has_text=title)
    expect(card).to_be_visible()
    card_id = card.get_attribute("id")  # "task-17"
    assert card_id and card_id.startswith("task-")
    return card_id.removeprefix("task-")


def use_quick_choices(page: Page) -> str:
    """Every choice, the first by keyboard; leaves next Monday at 10:30 in the form."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    monday = today + timedelta(days=7 - today.weekday())
    date, clock = page.get_by_label("Due date"), page.get_by_label("Due time")
    quick = page.get_by_role("group", name="Quick dates")
    expect(quick).to_be_visible()  # revealed by dates.js (hidden without JavaScript)
    announce = page.locator("#announce")

    clock.focus()  # Tab from the time field (its parts, then Priority) reaches the choices
    today_button = quick.get_by_role("button", name="Today")
    for _ in range(8):
        page.keyboard.press("Tab")
        if today_button.evaluate("b => b === document.activeElement"):
            break
    expect(today_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(date).to_have_value(today.isoformat())
    expect(today_button).to_be_focused()
    expect(announce).to_contain_text("Due today")

    quick.get_by_role("button", name="Tomorrow").click()
    expect(date).to_have_value((today + timedelta(days=1)).isoformat())
    expect(announce).to_contain_text("Due tomorrow")

    clock.fill("10:30")
    quick.get_by_role("button", name="No date").click()
    expect(date).to_have_value("")
    expect(clock).to_have_value("")
    expect(announce).to_have_text("Due date cleared.")

    quick.get_by_role("button", name="Next week").click()
    expect(date).to_have_value(monday.isoformat())
    expect(announce).to_contain_text("Due next week, Mo., ")  # the account's format
    clock.fill("10:30")
    screenshot(page, "due-picker")
    return monday.isoformat()


def test_quick_due_dates_fill_the_edit_form_and_are_saved(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    set_clock_and_format(page)
    task_id = add_task(page, "Book flights")
    page.goto(f"/tasks/{task_id}/edit")  # the form as its own page (no htmx)
    monday = use_quick_choices(page)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved “Book flights”.")).to_be_visible()
    card = page.locator(".task-card", has_text="Book flights")
    expect(card.locator("time").first).to_have_attribute("datetime", f"{monday}T10:30+14:00")

    # What the server saved, after a reload.
    page.goto(f"/tasks/{task_id}/edit")
    page.reload()
    expect(page.get_by_label("Due date")).to_have_value(monday)
    expect(page.get_by_label("Due time")).to_have_value("10:30")
    page.get_by_role("group", name="Quick dates").get_by_role("button", name="No date").click()
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(f"/tasks/{task_id}/edit")
    expect(page.get_by_label("Due date")).to_have_value("")

    # On a phone the choices are full 44px touch targets.
    page.set_viewport_size({"width": 390, "height": 844})
    for name in ("Today", "Tomorrow", "Next week", "No date"):
        group = page.get_by_role("group", name="Quick dates")
        box = group.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["height"] >= 44, name


def test_quick_due_dates_in_the_boards_edit_form(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    set_clock_and_format(page)
    add_task(page, "Renew passport")
    card = page.locator(".task-card", has_text="Renew passport")
    card.focus()
    page.keyboard.press("e")  # the edit form, swapped in by htmx
    expect(page.get_by_label("Title", exact=True)).to_be_focused()
    monday = use_quick_choices(page)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(card.locator("time").first).to_have_attribute("datetime", f"{monday}T10:30+14:00")
    page.reload()
    card.focus()
    page.keyboard.press("e")
    expect(page.get_by_label("Due date")).to_have_value(monday)
    expect(page.get_by_label("Due time")).to_have_value("10:30")
