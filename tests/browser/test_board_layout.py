"""Board 2.0 in Chromium: compact cards (8 per bucket at 1280×800, one tab stop each), drag and
drop with the mouse and by touch (checked on the server after a reload, and undone), long
buckets paged with j/k, the phone's one-bucket switcher, toasts that never cover the focused
card, and axe in light and dark."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, CDPSession, Locator, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_auth_journey import sign_up, unique_email
from tests.browser.test_board import add_tasks, card

SEED = """async ([titles, status]) => {
  const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
  const headers = {'X-CSRF-Token': token};
  for (const title of titles) {
    const body = new URLSearchParams({title});
    await fetch('/tasks', {method: 'POST', headers, body});
  }
  if (status !== 'todo') {
    const page = await (await fetch('/')).text();
    const ids = [...page.matchAll(/<li id="task-(\\d+)"/g)].map(m => m[1]).slice(0, titles.length);
    for (const id of ids) {
      await fetch(`/tasks/${id}/status`, {method: 'POST', headers,
                  body: new URLSearchParams({status})});
    }
  }
}"""


def seed(page: Page, titles: list[str], status: str = "todo") -> None:
    """Add tasks through the app's own routes (as plain form posts), then show the board."""
    page.evaluate(SEED, [titles, status])
    page.goto("/")


def titles_in(page: Page, status: str) -> list[str]:
    return page.locator(f"#list-{status} .task-card__title").all_inner_texts()


def fully_visible(page: Page, status: str) -> int:
    """Cards of the bucket wholly inside both the window and the bucket's scrolling list."""
    return page.evaluate(
        """status => {
          const list = document.getElementById('list-' + status).getBoundingClientRect();
          return [...document.querySelectorAll('#list-' + status + ' .task-card')].filter(c => {
            const r = c.getBoundingClientRect();
            const top = Math.max(0, list.top) - 1, bottom = Math.min(innerHeight, list.bottom) + 1;
            return r.top >= top && r.bottom <= bottom;
          }).length;
        }""",
        status,
    )


def drag(page: Page, source: Locator, target: Locator, below: bool = False) -> None:
    """A mouse drag in small steps, as a hand does (SortableJS follows pointer moves)."""
    a = source.bounding_box()
    assert a is not None
    x, y = a["x"] + a["width"] / 2, a["y"] + a["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 5, y + 5)
    b = target.bounding_box()  # after the drag began: empty buckets open a drop area
    assert b is not None
    tx, ty = b["x"] + b["width"] / 2, b["y"] + b["height"] * (0.8 if below else 0.2)
    for i in range(1, 13):
        page.mouse.move(x + (tx - x) * i / 12, y + (ty - y) * i / 12)
        page.wait_for_timeout(25)
    page.mouse.up()


_sessions: dict[Page, CDPSession] = {}


def touch_drag(page: Page, source: Locator, target: Locator) -> None:
    """Press and hold, then slide: real touch events through the DevTools protocol (one
    session per page: touches sent through a second session start out of step)."""
    cdp = _sessions.get(page) or _sessions.setdefault(page, page.context.new_cdp_session(page))
    a = source.bounding_box()
    assert a is not None
    x, y = a["x"] + a["width"] / 2, a["y"] + a["height"] / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    page.wait_for_timeout(400)  # the hold that tells a drag from a scroll
    start = {"x": x, "y": y + 8}
    cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [start]})
    b = target.bounding_box()
    assert b is not None
    tx, ty = b["x"] + b["width"] / 2, b["y"] + min(b["height"] * 0.25, 20)
    for i in range(1, 13):
        point = {"x": x + (tx - x) * i / 12, "y": y + (ty - y) * i / 12}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        page.wait_for_timeout(25)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_compact_cards_eight_per_bucket_one_tab_stop_each(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    seed(page, [f"Todo {i}" for i in range(10)])
    seed(page, [f"Doing {i}" for i in range(10)], "doing")
    seed(page, [f"Done {i}" for i in range(10)], "done")
    add_tasks(page, "A long title that goes on " * 7 + "and ends here")
    for status in ("todo", "doing", "done"):
        assert fully_visible(page, status) >= 8, status
    long = card(page, ("A long title that goes on " * 7 + "and ends here").strip())
    lines = long.locator(".task-card__title").evaluate(
        "t => Math.round(t.getBoundingClientRect().height"
        " / parseFloat(getComputedStyle(t).lineHeight))"
    )
    assert lines == 3  # clamped; the rest is on the card page
    # No action buttons at rest, and Delete is not red anywhere on the board.
    expect(page.locator(".board .task-card button")).to_have_count(0)
    # One tab stop per card: Tab goes from card to card.
    first = page.locator("#list-todo .task-card").first
    # The keys that stand in for dragging are announced with the card.
    expect(first).to_have_accessible_description(re.compile(r"1, 2 or 3 .* Shift\+J"))
    first.focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == page.locator("#list-todo .task-card").nth(1).get_attribute("id")
    screenshot(page, "board-compact-desktop")


def test_drag_within_and_between_buckets_with_the_mouse_then_undo(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    add_tasks(page, "Apple", "Banana", "Cherry")
    assert titles_in(page, "todo") == ["Cherry", "Banana", "Apple"]
    drag(page, card(page, "Apple"), card(page, "Cherry"))
    expect(page.locator("#toasts")).to_contain_text("Moved “Apple” in To do.")
    page.reload()
    assert titles_in(page, "todo") == ["Apple", "Cherry", "Banana"]  # stored, not just drawn
    drag(page, card(page, "Banana"), page.locator("#list-done"))
    expect(page.locator("#toasts")).to_contain_text("Moved “Banana” to Done.")
    expect(page.locator("#count-done")).to_contain_text("1")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#list-done .task-card")).to_have_count(0)
    page.reload()
    assert titles_in(page, "todo") == ["Apple", "Cherry", "Banana"]
    assert titles_in(page, "done") == []


def test_drag_by_touch_reorders_and_changes_bucket(browser: Browser, live_server: str):
    context = browser.new_context(
        base_url=live_server, viewport={"width": 1024, "height": 768}, has_touch=True
    )
    page = context.new_page()
    sign_up(page, unique_email())
    add_tasks(page, "Apple", "Banana", "Cherry")
    touch_drag(page, card(page, "Apple"), card(page, "Cherry"))
    expect(page.locator("#toasts")).to_contain_text("Moved “Apple” in To do.")
    touch_drag(page, card(page, "Banana"), page.locator("#list-doing"))
    expect(page.locator("#toasts")).to_contain_text("Moved “Banana” to In progress.")
    page.reload()
    assert titles_in(page, "todo") == ["Apple", "Cherry"]
    assert titles_in(page, "doing") == ["Banana"]
    context.close()


def test_a_long_bucket_pages_in_as_j_reaches_its_end(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    seed(page, [f"Item {i:02d}" for i in range(60)])
    expect(page.locator("#list-todo .task-card")).to_have_count(50)
    expect(page.locator("#count-todo")).to_contain_text("60")
    page.locator("#list-todo .task-card").first.focus()
    for _ in range(42):
        page.keyboard.press("j")
    # Ten cards before the end, the next page is already on its way: j never waits for it.
    expect(page.locator("#list-todo .task-card")).to_have_count(60)
    expect(card(page, "Item 17")).to_be_focused()
    for _ in range(13):
        page.keyboard.press("j")
    # Newest first: Item 59 … Item 00; 55 steps down from the top is Item 04.
    expect(card(page, "Item 04")).to_be_focused()
    expect(page.locator("[data-more]")).to_have_count(0)


def test_a_swap_beside_show_more_redraws_the_list_to_keep_its_cursor(
    browser: Browser, live_server: str
):
    # No service worker: its static routing sends requests past page.route (used here to
    # hold "Show more" unanswered, so the list keeps its cursor card at its end).
    context = browser.new_context(
        base_url=live_server, viewport={"width": 1280, "height": 800}, service_workers="block"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_up(page, unique_email())
    page.route("**/tasks/bucket/**", lambda route: None)
    seed(page, [f"Item {i:02d}" for i in range(60)])
    expect(page.locator("#list-todo .task-card")).to_have_count(50)
    announce = page.locator("#announce")

    # Items 59 … 10 are shown. Item 11 is the second last: it and Item 12 swap in place.
    card(page, "Item 11").focus()
    page.keyboard.press("Shift+K")
    expect(announce).to_have_text("Moved “Item 11” above “Item 12”.")
    expect(card(page, "Item 11")).to_be_focused()
    # Item 10 is the last shown card, where "Show more" continues from: the whole list comes
    # back (and "Show more" with it, from the card now last).
    card(page, "Item 10").focus()
    page.keyboard.press("Shift+K")
    expect(announce).to_have_text("“Item 10” is now 49 of 50 in To do.")
    shown = page.locator("#list-todo .task-card__title")
    for place, title in ((47, "Item 11"), (48, "Item 10"), (49, "Item 12")):
        expect(shown.nth(place)).to_have_text(title)
    expect(card(page, "Item 10")).to_be_focused()
    expect(page.locator("#list-todo .task-card")).to_have_count(50)
    expect(page.locator("#list-todo [data-more]")).to_have_count(1)
    context.close()


def test_phone_one_bucket_at_a_time(browser: Browser, live_server: str):
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    sign_up(page, unique_email())
    add_tasks(page, "Water plants", "Call Ada")
    tabs = page.get_by_role("navigation", name="Buckets")
    expect(tabs).to_be_visible()
    expect(page.locator("#bucket-doing")).to_be_hidden()
    expect(page.locator("#tab-count-todo")).to_have_text("2")
    # Keyboard hints are for keyboards; the Add button is there for thumbs.
    expect(page.locator("#new-task-hint .key-hint")).to_be_hidden()
    expect(page.get_by_role("button", name="Add")).to_be_visible()
    card(page, "Call Ada").get_by_role("link", name="Actions").tap()
    page.locator(".task-actions:popover-open").get_by_role("button", name="In progress").tap()
    expect(page.locator("#tab-count-doing")).to_have_text("1")
    expect(page.locator("#tab-count-todo")).to_have_text("1")
    tabs.get_by_role("link", name="In progress").tap()
    expect(page.locator("#bucket-todo")).to_be_hidden()
    expect(card(page, "Call Ada")).to_be_visible()
    screenshot(page, "board-phone-in-progress")
    page.reload()  # the switcher's choice is in the address
    expect(card(page, "Call Ada")).to_be_visible()
    # The header folds into a menu.
    expect(page.get_by_role("link", name="Settings")).to_be_hidden()
    page.get_by_role("button", name="Menu").tap()
    expect(page.get_by_role("link", name="Settings")).to_be_visible()
    context.close()


def test_help_fits_a_phone_and_closes_from_the_top(page: Page):
    page.set_viewport_size({"width": 390, "height": 600})
    sign_up(page, unique_email())
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 600
    assert dialog.evaluate("d => d.scrollHeight > d.clientHeight")  # it scrolls inside
    dialog.get_by_role("button", name="Close").first.click()
    expect(dialog).to_be_hidden()


def test_toasts_never_cover_the_focused_card(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    seed(page, [f"Finished {i}" for i in range(12)], "done")
    add_tasks(page, "Trigger")
    # The bottom-most visible card of Done sits where the toasts would usually go.
    cards = page.locator("#list-done .task-card")
    last = cards.nth(fully_visible(page, "done") - 1)
    last.focus()
    page.keyboard.press("x")  # Done → To do: an Undo toast; focus moves to the neighbour
    expect(page.locator("#toasts .toast")).to_have_count(1)
    page.wait_for_timeout(100)
    for _ in range(2):
        hit = page.evaluate(
            """() => { const c = document.activeElement.closest('.task-card');
                       const r = c.getBoundingClientRect();
                       const x = r.left + r.width / 2, y = r.top + r.height / 2;
                       const at = document.elementFromPoint(x, y);
                       return c.contains(at); }"""
        )
        assert hit, "a toast covers the focused card"
        page.keyboard.press("k")
        page.wait_for_timeout(50)


def test_axe_finds_nothing_serious_in_light_or_dark(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_up(page, unique_email())
    seed(page, ["Light and dark !high due:tomorrow", "Second"])
    seed(page, ["Finished"], "done")
    page.locator("#list-todo .task-card").first.hover()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(300)  # colours ease over 150 ms: judge them settled
        results = Axe().run(page)
        found = results.response["violations"]
        serious = [v for v in found if v["impact"] in ("serious", "critical")]
        assert serious == [], (
            scheme,
            [(v["id"], [n["target"] for n in v["nodes"]]) for v in serious],
        )
