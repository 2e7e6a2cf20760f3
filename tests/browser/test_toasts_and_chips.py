"""Board rough edges a new user hits: the filter chip shows the filter in force (no native
radio dot), one Undo toast at a time (Undo still undoes the latest), and the same error never
stacks."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_auth_journey import sign_up, unique_email
from tests.browser.test_board import add_tasks, bucket, card


def chip_background(page: Page, label: str) -> str:
    return page.locator(".chip", has_text=label).evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )


def test_the_active_filter_chip_follows_the_choice(page: Page):
    sign_up(page, unique_email())
    selected = chip_background(page, "All")
    plain = chip_background(page, "Overdue")
    assert selected != plain
    page.get_by_label("Overdue").focus()  # the radio inside the chip, from the keyboard
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"filter=overdue"))
    assert chip_background(page, "Overdue") == selected
    assert chip_background(page, "All") == plain
    radio = page.get_by_label("Overdue")
    assert radio.evaluate("el => getComputedStyle(el).opacity") == "0"  # no native dot shown
    page.keyboard.press("ArrowRight")  # arrows move the choice, as radios do
    expect(page).to_have_url(re.compile(r"filter=today"))
    assert chip_background(page, "Due today") == selected


def test_one_undo_toast_at_a_time_and_undo_restores_the_latest(page: Page):
    sign_up(page, unique_email())
    add_tasks(page, "First", "Second")
    for title in ("First", "Second"):
        card(page, title).focus()
        page.keyboard.press("Delete")
        expect(card(page, title)).to_have_count(0)
    expect(page.locator("#toasts .toast[data-undo]")).to_have_count(1)
    expect(page.locator("#toasts .toast[data-undo]")).to_contain_text("Second")
    page.keyboard.press("u")
    expect(bucket(page, "todo")).to_contain_text("Second")
    expect(card(page, "First")).to_have_count(0)


def test_the_same_error_does_not_stack(browser: Browser, live_server: str):
    """Offline, htmx logs each failed request to the console (expected here), so this test
    has a context of its own rather than the strict `page` fixture."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_up(page, unique_email())
    add_tasks(page, "Offline")
    page.context.set_offline(True)
    for _ in range(3):
        card(page, "Offline").focus()
        page.keyboard.press("x")
    expect(page.locator("#toasts .toast--error")).to_have_count(1)
    expect(page.locator("#toasts .toast--error .toast__close")).to_have_count(1)
    context.close()


def test_quick_add_shows_what_it_understood_before_enter(page: Page):
    sign_up(page, unique_email())
    page.keyboard.type("Water plants !high due:tomorrow@9")
    preview = page.locator("#quick-add-preview")
    expect(preview).to_contain_text("Water plants · Due Tomorrow, 9:00\u202fAM · High")
    page.keyboard.press("Enter")
    expect(card(page, "Water plants")).to_be_visible()
    expect(preview).to_have_text("")
    expect(page.get_by_label("New task")).to_be_focused()
