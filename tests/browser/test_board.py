"""The board in Chromium, keyboard only: create, navigate, done + undo, edit, move, delete +
undo, search, help; the same board with JavaScript disabled; and an axe-core scan."""

from __future__ import annotations

import re
import secrets

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_auth_journey import open_verification_link, sign_up, unique_email


def card(page: Page, title: str):
    return page.locator(".task-card", has=page.get_by_role("link", name=title, exact=True))


def menu_action(page: Page, title: str, action: str) -> None:
    """Press `action` in the card's "⋯" menu, as a mouse user does."""
    the_card = card(page, title)
    the_card.hover()
    the_card.get_by_role("link", name="Actions").click()
    menu = page.locator(".task-actions:popover-open")
    expect(menu).to_be_visible()
    menu.get_by_role("button", name=action, exact=True).click()


def bucket(page: Page, status: str):
    return page.locator(f"#list-{status}")


def focused_title(page: Page) -> str:
    return page.evaluate(
        "() => { const c = document.activeElement.closest('.task-card');"
        " return c ? c.querySelector('.task-card__title').textContent : null; }"
    )


def test_keyboard_journey(page: Page):
    sign_up(page, unique_email())
    # A new user lands in "New task"; Enter creates; the input clears and keeps focus.
    expect(page.get_by_label("New task")).to_be_focused()
    for title in ("Buy milk", "Write report !high", "Call Ada due:tomorrow@9"):
        page.keyboard.type(title)
        page.keyboard.press("Enter")
        expect(page.get_by_label("New task")).to_have_value("")
    expect(page.get_by_label("New task")).to_be_focused()
    expect(bucket(page, "todo").locator(".task-card")).to_have_count(3)
    expect(page.locator("#count-todo")).to_have_text("3 tasks")
    expect(card(page, "Write report")).to_contain_text("High")
    expect(card(page, "Call Ada")).to_contain_text("Due Tomorrow, 9:00\u202fAM")
    screenshot(page, "board-three-tasks")

    # Esc leaves the field for the first card; n goes back to "New task".
    page.keyboard.press("Escape")
    expect(card(page, "Call Ada")).to_be_focused()
    page.keyboard.press("n")
    expect(page.get_by_label("New task")).to_be_focused()

    # j/k move between cards (newest first).
    page.keyboard.press("Escape")
    expect(card(page, "Call Ada")).to_be_focused()
    page.keyboard.press("j")
    assert focused_title(page) == "Write report"
    page.keyboard.press("j")
    assert focused_title(page) == "Buy milk"
    page.keyboard.press("k")
    assert focused_title(page) == "Write report"

    # x marks done; focus moves on; u undoes.
    page.keyboard.press("x")
    expect(bucket(page, "done")).to_contain_text("Write report")
    expect(page.locator("#count-done")).to_have_text("1 task")
    expect(page.locator("#toasts")).to_contain_text("Moved “Write report” to Done.")
    assert focused_title(page) == "Buy milk"
    page.keyboard.press("u")
    expect(bucket(page, "todo")).to_contain_text("Write report")
    expect(bucket(page, "done").locator(".task-card")).to_have_count(0)
    expect(card(page, "Write report")).to_be_focused()
    titles = bucket(page, "todo").locator(".task-card__title").all_inner_texts()
    assert titles == ["Call Ada", "Write report", "Buy milk"]  # exactly where it was

    # Enter edits in place; Save returns the card, focused.
    page.keyboard.press("Enter")
    title_field = page.get_by_label("Title")
    expect(title_field).to_be_focused()
    title_field.fill("Write the quarterly report")
    page.keyboard.press("Enter")
    expect(card(page, "Write the quarterly report")).to_be_focused()

    # Esc cancels an edit and leaves the card unchanged.
    page.keyboard.press("e")
    expect(page.get_by_label("Title")).to_be_focused()
    # The caret is after the title the moment the field has focus, not only once htmx has
    # settled: a key typed in between must not go in front of the text.
    caret, length = page.get_by_label("Title").evaluate(
        "f => { f.blur(); f.setSelectionRange(0, 0); f.focus();"
        " return [f.selectionStart, f.value.length]; }"
    )
    assert caret == length > 0
    page.keyboard.type(" (not saved)")
    page.keyboard.press("Escape")
    expect(card(page, "Write the quarterly report")).to_be_focused()

    # 2 moves to In progress.
    page.keyboard.press("2")
    expect(bucket(page, "doing")).to_contain_text("Write the quarterly report")
    expect(page.locator("#count-doing")).to_have_text("1 task")
    expect(card(page, "Write the quarterly report")).to_be_focused()

    # Shift+K / Shift+J reorder within a bucket.
    page.keyboard.press("h")
    assert focused_title(page) in ("Call Ada", "Buy milk")
    page.keyboard.press("k")
    assert focused_title(page) == "Call Ada"
    page.keyboard.press("Shift+J")
    expect(bucket(page, "todo").locator(".task-card__title")).to_have_text(["Buy milk", "Call Ada"])
    expect(card(page, "Call Ada")).to_be_focused()
    # board.js names the neighbour: the two cards were swapped (the whole list would say
    # "“Call Ada” is now 2 of 2 in To do.").
    expect(page.locator("#announce")).to_have_text("Moved “Call Ada” below “Buy milk”.")

    # Delete, then undo.
    page.keyboard.press("#")
    expect(bucket(page, "todo")).not_to_contain_text("Call Ada")
    expect(card(page, "Buy milk")).to_be_focused()
    expect(page.locator("#toasts")).to_contain_text("Deleted “Call Ada”.")
    page.keyboard.press("z")
    expect(card(page, "Call Ada")).to_be_focused()
    expect(bucket(page, "todo").locator(".task-card__title")).to_have_text(["Buy milk", "Call Ada"])
    screenshot(page, "board-after-journey")

    # / searches as you type; the URL keeps the search.
    page.keyboard.press("/")
    expect(page.get_by_label("Search tasks")).to_be_focused()
    page.keyboard.type("milk")
    expect(page.locator(".task-card")).to_have_count(1)
    expect(page).to_have_url("/?q=milk&filter=")
    page.reload()
    expect(page.locator(".task-card")).to_have_count(1)
    expect(page.get_by_label("Search tasks")).to_have_value("milk")
    page.get_by_label("Search tasks").focus()
    page.keyboard.press("ArrowDown")  # to the results, keeping the search
    expect(card(page, "Buy milk")).to_be_focused()
    expect(page.get_by_label("Search tasks")).to_have_value("milk")
    page.get_by_label("Search tasks").fill("")
    page.get_by_label("Search tasks").press("Enter")
    expect(page.locator(".task-card")).to_have_count(3)

    # ? opens the help, Esc closes it.
    page.locator("body").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    screenshot(page, "board-help")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


def test_shortcuts_do_not_fire_while_typing(page: Page):
    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    page.keyboard.type("jx2#?")
    expect(page.get_by_label("New task")).to_have_value("jx2#?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


def test_validation_error_keeps_the_typed_title(page: Page):
    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    long_title = "L" * 201
    page.keyboard.type(long_title)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Keep the title to 200 characters (this one has 201).")).to_be_visible()
    expect(page.get_by_label("New task")).to_have_value(long_title)
    expect(page.get_by_label("New task")).to_be_focused()
    screenshot(page, "board-title-too-long")
    # The caret is after the text: one Backspace fixes it, and the error goes once it is added.
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    expect(bucket(page, "todo").locator(".task-card")).to_have_count(1)
    expect(page.get_by_text("Keep the title to 200 characters")).to_have_count(0)
    expect(page.get_by_label("New task")).not_to_have_attribute("aria-invalid", "true")


def add_tasks(page: Page, *titles: str) -> None:
    before = page.locator(".task-card").count()
    page.get_by_label("New task").focus()
    for title in titles:
        page.keyboard.type(title)
        page.keyboard.press("Enter")
        expect(page.get_by_label("New task")).to_have_value("")
    expect(page.locator(".task-card")).to_have_count(before + len(titles))
    page.keyboard.press("Escape")


def without_live_updates(page: Page) -> None:
    """This tab stops hearing about other tabs (as when it is offline): it goes stale."""
    page.route(re.compile(r"/live\?"), lambda route: route.abort())
    page.reload()


def test_focus_after_removals_and_changes_from_another_tab(page: Page):
    sign_up(page, unique_email())
    without_live_updates(page)
    add_tasks(page, "Alone")
    # Deleting the last card leaves focus on the toast's Undo, so u still undoes.
    page.keyboard.press("#")
    expect(page.get_by_role("button", name="Undo")).to_be_focused()
    page.keyboard.press("u")
    expect(card(page, "Alone")).to_be_focused()

    add_tasks(page, "Stale", "Edited")
    other = page.context.new_page()
    other.goto("/")
    # The other tab marks "Stale" done; here it still shows in To do, and x is pressed on it.
    menu_action(other, "Stale", "Done")
    expect(other.locator("#list-done")).to_contain_text("Stale")
    page.keyboard.press("j")
    assert focused_title(page) == "Stale"
    page.keyboard.press("x")
    expect(bucket(page, "done")).to_contain_text("Stale")
    expect(page.locator(".task-card", has_text="Stale")).to_have_count(1)
    expect(bucket(page, "todo")).not_to_contain_text("Stale")

    # The other tab deletes "Edited" while it is open in an editor here: Esc still closes it.
    page.keyboard.press("k")
    assert focused_title(page) == "Edited"
    page.keyboard.press("e")
    expect(page.get_by_label("Title")).to_be_focused()
    other.reload()
    menu_action(other, "Edited", "Delete")
    expect(other.locator(".task-card", has_text="Edited")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator(".task-card", has_text="Edited")).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text("deleted, perhaps in another tab")
    expect(card(page, "Alone")).to_be_focused()  # its neighbour, as after a delete here
    other.close()


def test_leaving_the_search_box_neither_reloads_the_board_nor_adds_history(page: Page):
    sign_up(page, unique_email())
    add_tasks(page, "pear one", "pear two", "apple")
    page.keyboard.press("/")
    page.keyboard.type("pear")
    expect(page.locator(".task-card")).to_have_count(2)
    expect(page).to_have_url("/?q=pear&filter=")
    history = page.evaluate("history.length")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")  # at once: a board reloaded on leaving the box would land after
    expect(bucket(page, "done")).to_contain_text("pear")
    page.wait_for_load_state("networkidle")
    assert page.locator(".task-card").count() == 2  # the moved card is on the board once
    assert page.evaluate("history.length") == history


def test_two_tabs_edit_conflict_is_reported(page: Page):
    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    page.keyboard.type("Shared task")
    page.keyboard.press("Enter")
    other = page.context.new_page()
    other.goto("/")
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    # The editor is open before the other tab saves: a change that lands before the editor
    # loads is simply what the editor shows (no conflict to report).
    expect(page.get_by_label("Title")).to_have_value("Shared task")
    other.get_by_role("link", name="Shared task").click()
    other.get_by_label("Title").fill("Changed in tab two")
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("link", name="Changed in tab two")).to_be_visible()
    page.get_by_label("Title").fill("Changed in tab one")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("changed in another tab or window")
    expect(page.get_by_label("Title")).to_have_value("Changed in tab one")
    screenshot(page, "board-conflict")
    other.close()


def test_board_works_without_javascript(browser: Browser, live_server: str):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    email = f"nojs.{secrets.token_hex(4)}@example.com"
    page.goto("/signup")
    page.get_by_label("First name").fill("No")
    page.get_by_label("Last name").fill("Script")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign up").click()
    open_verification_link(page)
    page.get_by_label("Your Taskly password").fill("correct horse battery staple")
    page.get_by_role("button", name="Confirm address").click()
    page.get_by_label("New task").fill("Plain HTML task")
    page.get_by_label("New task").press("Enter")
    expect(card(page, "Plain HTML task")).to_be_visible()
    card(page, "Plain HTML task").hover()
    card(page, "Plain HTML task").get_by_role("link", name="Actions").click()  # the card page
    page.get_by_role("button", name="Done").click()
    expect(bucket(page, "done")).to_contain_text("Plain HTML task")
    page.get_by_role("button", name="Undo").click()
    expect(bucket(page, "todo")).to_contain_text("Plain HTML task")
    page.get_by_role("link", name="Plain HTML task").click()
    page.get_by_label("Title").fill("Edited without JS")
    page.get_by_role("button", name="Save").click()
    expect(card(page, "Edited without JS")).to_be_visible()
    card(page, "Edited without JS").hover()
    card(page, "Edited without JS").get_by_role("link", name="Actions").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".task-card")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(card(page, "Edited without JS")).to_be_visible()
    page.get_by_label("Search tasks").fill("nothing like this")
    page.get_by_label("Search tasks").press("Enter")
    expect(page.locator(".task-card")).to_have_count(0)
    screenshot(page, "board-no-javascript")
    context.close()


def test_no_serious_accessibility_violations_on_the_board(page: Page):
    sign_up(page, unique_email())
    page.get_by_label("New task").focus()
    page.keyboard.type("Accessible task !high due:tomorrow")
    page.keyboard.press("Enter")
    expect(page.locator(".task-card")).to_have_count(1)
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in serious
    ]
