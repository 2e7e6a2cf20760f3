"""Board routes: every action as a page (plain form post) and as an htmx fragment, ownership,
validation, undo, ordering and the stale-edit conflict."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from taskly.db import POOL_KEY
from taskly.live.stream import LISTENER_KEY
from tests.helpers import page_token, sign_up

HX = {"HX-Request": "true"}


async def token(client) -> str:
    return await page_token(client, "/")


async def post(
    client, path: str, form: dict[str, str] | None = None, htmx: bool = False, page: str = "/"
):
    headers = {"X-CSRF-Token": await token(client)}
    if htmx:  # htmx says which page the request came from; its search applies to redrawn lists
        headers |= HX | {"HX-Current-URL": f"http://localhost{page}"}
    return await client.post(path, form=form or {}, headers=headers)


async def create(client, title: str, htmx: bool = True):
    return await post(client, "/tasks", {"title": title}, htmx=htmx)


def board_of(html: str) -> str:
    """Only the board region (toasts and the quick-add hint mention titles too), with the
    search's <mark>s taken out (titles are compared as text)."""
    return unmarked(html[html.index('<div id="board"') : html.index('<dialog id="help"')])


def unmarked(html: str) -> str:
    """HTML with the search highlighting removed: "<mark>Buy</mark> milk" → "Buy milk"."""
    return html.replace("<mark>", "").replace("</mark>", "")


def undo_fields(html: str) -> dict[str, str]:
    """The hidden fields of the Undo form in a response's toast."""
    return dict(
        re.findall(
            r'<input type="hidden" name="(status|position|completed_at|version)" value="([^"]*)"',
            html,
        )
    )


async def task_row(db, title: str):
    return await db.fetchrow("SELECT * FROM tasks WHERE title = $1", title)


async def test_empty_board_says_what_to_do(user):
    html = await (await user.get("/")).get_data(as_text=True)
    assert '<label for="new-task">New task</label>' in html
    for heading in ("To do", "In progress", "Done"):
        assert f">{heading}</h2>" in html
    assert "Nothing to do." in html
    assert 'id="count-todo" class="bucket__count">0' in html


async def test_create_as_fragment_returns_the_card_and_out_of_band_counts(user, db):
    response = await create(user, "Write the report")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<li id="task-')
    assert "Write the report" in html
    assert '<span id="count-todo" class="bucket__count" hx-swap-oob="true">1' in html
    assert 'id="stats" class="stats-strip" hx-swap-oob="true"' in html
    assert 'hx-swap-oob="true">Added “Write the report” to To do.</div>' in html
    assert "<html" not in html
    row = await task_row(db, "Write the report")
    assert row["status"] == "todo"
    assert row["completed_at"] is None


async def test_create_without_javascript_redirects_to_the_board(user, db):
    response = await create(user, "Plain form post", htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    html = await (await user.get("/")).get_data(as_text=True)
    assert "Plain form post" in html


async def test_new_tasks_go_on_top_of_to_do(user):
    for title in ("first", "second", "third"):
        await create(user, title)
    html = await (await user.get("/")).get_data(as_text=True)
    assert html.index(">third<") < html.index(">second<") < html.index(">first<")


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
async def test_create_rejects_bad_titles_and_keeps_the_input(user, db, title):
    fragment = await create(user, title)
    html = await fragment.get_data(as_text=True)
    assert fragment.status_code == 422
    assert fragment.headers["HX-Retarget"] == "#new-task-form"
    assert 'class="field-error" id="new-task-error"' in html
    if title.strip():
        assert f'value="{title}"' in html
        assert "Keep the title to 200 characters (this one has 201)." in html
    page = await create(user, title, htmx=False)
    assert page.status_code == 422
    assert "<html" in await page.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM tasks") == 0


async def test_quick_add_syntax_sets_priority_and_due_on_the_users_clock(user, db):
    await create(user, "Pay rent !high due:2027-03-05@9")
    row = await task_row(db, "Pay rent")
    assert row["priority"] == 1
    assert row["due_at"] == datetime(2027, 3, 5, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET)
    assert not row["due_all_day"]
    await create(user, "Summer thing due:2027-07-01")
    row = await task_row(db, "Summer thing")
    assert row["due_at"] == datetime(2027, 7, 1, 21, 59, tzinfo=UTC)  # 23:59 CEST
    assert row["due_all_day"]
    await create(user, "Keep due:someday and !urgent")
    row = await task_row(db, "Keep due:someday and !urgent")  # unknown tokens stay in the title
    assert row["priority"] is None and row["due_at"] is None


async def test_notes_are_text_with_links_never_html(user, db):
    await create(user, "With notes")
    row = await task_row(db, "With notes")
    form = {
        "title": "With notes",
        "notes": "<script>alert(1)</script>\nsee https://example.com/a?b=1&c=2.",
        "version": str(row["version"]),
    }
    response = await post(user, f"/tasks/{row['id']}", form, htmx=True)
    assert response.status_code == 200
    assert 'aria-label="Has notes"' in await response.get_data(as_text=True)  # the board's card
    page = await user.get(f"/tasks/{row['id']}")  # the card page shows them
    html = await page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow"' in html


async def test_edit_form_fragment_and_page(user, db):
    await create(user, "Edit me")
    row = await task_row(db, "Edit me")
    fragment = await user.get(f"/tasks/{row['id']}/edit", headers=HX)
    html = await fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert html.lstrip().startswith(
        f'<li id="task-{row["id"]}" class="task-card task-card--editing"'
    )
    assert f'<label for="edit-{row["id"]}-title">Title</label>' in html
    page = await user.get(f"/tasks/{row['id']}/edit")
    assert "<html" in await page.get_data(as_text=True)
    cancel = await user.get(f"/tasks/{row['id']}", headers=HX)
    assert (await cancel.get_data(as_text=True)).lstrip().startswith(f'<li id="task-{row["id"]}"')


async def test_save_edit_returns_the_card_and_bumps_the_version(user, db):
    await create(user, "Old title")
    row = await task_row(db, "Old title")
    form = {
        "title": "New title",
        "notes": "",
        "due_date": "2027-01-10",
        "due_time": "14:30",
        "priority": "2",
        "version": str(row["version"]),
    }
    response = await post(user, f"/tasks/{row['id']}", form, htmx=True)
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "New title" in html and "Medium" in html
    updated = await db.fetchrow("SELECT * FROM tasks WHERE id = $1", row["id"])
    assert updated["version"] == row["version"] + 1
    assert updated["due_at"] == datetime(2027, 1, 10, 13, 30, tzinfo=UTC)
    page = await post(
        user,
        f"/tasks/{row['id']}",
        {**form, "title": "Page title", "version": str(updated["version"])},
    )
    assert page.status_code == 302
    assert page.headers["Location"] == f"/#task-{row['id']}"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "Enter a title."),
        ({"title": "y" * 201}, "title", "Keep the title to 200 characters"),
        ({"due_date": "2027-02-30"}, "due_date", "Enter a date like 2026-12-31."),
        ({"due_date": "tomorrow"}, "due_date", "Enter a date like 2026-12-31."),
        ({"due_time": "25:00", "due_date": "2027-01-01"}, "due_time", "Enter a time like 09:30."),
        ({"due_time": "10:00"}, "due_date", "A due time needs a due date."),
        ({"priority": "9"}, "priority", "Choose a priority from the list."),
        ({"notes": "n" * 10001}, "notes", "Keep notes to 10,000 characters."),
    ],
)
async def test_edit_validation_errors_keep_the_input_and_change_nothing(
    user, db, change, field, message
):
    await create(user, "Valid")
    row = await task_row(db, "Valid")
    form = {"title": "Valid", "version": str(row["version"]), **change}
    for htmx in (True, False):
        response = await post(user, f"/tasks/{row['id']}", form, htmx=htmx)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422
        assert message in html
        assert 'class="field--invalid"' in html or "field field--invalid" in html
    after = await db.fetchrow("SELECT * FROM tasks WHERE id = $1", row["id"])
    assert after["version"] == row["version"]
    assert after["title"] == "Valid"


async def test_stale_edit_is_detected_and_not_saved(user, app, db):
    await create(user, "Shared")
    row = await task_row(db, "Shared")
    stale_version = str(row["version"])
    # Another tab renames it first.
    await post(
        user, f"/tasks/{row['id']}", {"title": "Renamed elsewhere", "version": stale_version}
    )
    response = await post(
        user, f"/tasks/{row['id']}", {"title": "My edit", "version": stale_version}, htmx=True
    )
    html = await response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This task was changed in another tab or window" in html
    assert "Renamed elsewhere" in html  # what it is now
    assert 'value="My edit"' in html  # what the user typed is kept
    assert (
        await db.fetchval("SELECT title FROM tasks WHERE id = $1", row["id"]) == "Renamed elsewhere"
    )
    current = re.search(r'name="version" value="(\d+)"', html)[1]
    again = await post(
        user, f"/tasks/{row['id']}", {"title": "My edit", "version": current}, htmx=True
    )
    assert again.status_code == 200  # saving again, knowingly, overwrites
    assert await db.fetchval("SELECT title FROM tasks WHERE id = $1", row["id"]) == "My edit"


async def test_status_change_moves_the_card_with_undo(user, db):
    await create(user, "Finish me")
    row = await task_row(db, "Finish me")
    response = await post(user, f"/tasks/{row['id']}/status", {"status": "done"}, htmx=True)
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Reswap"] == "delete"
    assert 'hx-swap-oob="afterbegin:#list-done"' in html
    assert '<span id="count-done" class="bucket__count" hx-swap-oob="true">1' in html
    assert "data-undo-button" in html
    done = await task_row(db, "Finish me")
    assert done["status"] == "done" and done["completed_at"] is not None

    # Undo restores exactly the state before: status, position, completed.
    fields = undo_fields(html)
    undo = await post(user, f"/tasks/{row['id']}/restore", fields, htmx=True)
    assert undo.status_code == 200
    assert (
        'id="list-todo" class="bucket__list" aria-labelledby="bucket-todo-title" hx-swap-oob="true"'
        in await undo.get_data(as_text=True)
    )
    back = await task_row(db, "Finish me")
    assert (back["status"], back["position"], back["completed_at"]) == (
        "todo",
        row["position"],
        None,
    )


async def test_completed_is_cleared_when_a_task_leaves_done(user, db):
    await create(user, "Round trip")
    row = await task_row(db, "Round trip")
    await post(user, f"/tasks/{row['id']}/status", {"status": "done"})
    await post(user, f"/tasks/{row['id']}/status", {"status": "doing"})
    moved = await task_row(db, "Round trip")
    assert moved["status"] == "doing" and moved["completed_at"] is None


async def test_status_double_click_is_harmless(user, db):
    await create(user, "Twice")
    row = await task_row(db, "Twice")
    first = await post(user, f"/tasks/{row['id']}/status", {"status": "done"}, htmx=True)
    second = await post(user, f"/tasks/{row['id']}/status", {"status": "done"}, htmx=True)
    assert first.status_code == second.status_code == 200
    assert "HX-Reswap" not in second.headers
    assert (
        await db.fetchval("SELECT version FROM tasks WHERE id = $1", row["id"])
        == row["version"] + 1
    )


async def test_a_card_moved_in_another_tab_goes_to_its_bucket(user, db):
    await create(user, "Stale")
    row = await task_row(db, "Stale")
    await post(user, f"/tasks/{row['id']}/status", {"status": "done"})  # the other tab
    # This tab still shows the card in To do and presses Done.
    response = await post(
        user, f"/tasks/{row['id']}/status", {"status": "done", "shown_in": "todo"}, htmx=True
    )
    html = await response.get_data(as_text=True)
    assert response.headers["HX-Reswap"] == "delete"
    assert 'hx-swap-oob="afterbegin:#list-done"' in html
    assert "“Stale” was already in Done." in html
    assert "data-undo-button" not in html  # nothing happened, nothing to undo


async def test_a_card_whose_task_was_deleted_elsewhere_leaves_the_board(user, db):
    await create(user, "Gone")
    row = await task_row(db, "Gone")
    await post(user, f"/tasks/{row['id']}/delete")  # the other tab
    target = {"HX-Target": f"task-{row['id']}", **HX}
    for method, path in (("GET", f"/tasks/{row['id']}"), ("GET", f"/tasks/{row['id']}/edit")):
        response = await user.open(path, method=method, headers=target)
        html = await response.get_data(as_text=True)
        assert response.status_code == 404
        assert response.headers["HX-Reswap"] == "delete", path
        assert 'hx-swap-oob="beforeend:#toasts"' in html
        assert "deleted, perhaps in another tab" in html
    # Saving the edit form keeps it (and what was typed), and says why.
    form = {"title": "My words", "version": str(row["version"]), "csrf_token": await token(user)}
    saved = await user.post(f"/tasks/{row['id']}", form=form, headers=target)
    assert saved.status_code == 404
    assert "HX-Reswap" not in saved.headers or saved.headers["HX-Reswap"] != "delete"
    assert "Copy what you typed" in await saved.get_data(as_text=True)


async def test_status_without_javascript_redirects_with_an_undo_toast(user, db):
    await create(user, "No JS")
    row = await task_row(db, "No JS")
    response = await post(user, f"/tasks/{row['id']}/status", {"status": "doing"})
    assert response.status_code == 302
    html = await (await user.get("/")).get_data(as_text=True)
    assert "Moved “No JS” to In progress." in html
    assert f'action="/tasks/{row["id"]}/restore"' in html


async def test_bad_status_is_a_400(user, db):
    await create(user, "Bad")
    row = await task_row(db, "Bad")
    response = await post(user, f"/tasks/{row['id']}/status", {"status": "archived"})
    assert response.status_code == 400
    assert "Choose To do, In progress or Done." in await response.get_data(as_text=True)


async def test_delete_and_undo_restore_the_same_task(user, db):
    await create(user, "Delete me !low due:2027-05-01")
    row = await task_row(db, "Delete me")
    response = await post(user, f"/tasks/{row['id']}/delete", htmx=True)
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Reswap"] == "delete"
    assert "Deleted “Delete me”." in html
    assert '<span id="count-todo" class="bucket__count" hx-swap-oob="true">0' in html
    assert "Delete me" not in await (await user.get("/")).get_data(as_text=True)
    fields = undo_fields(html)
    await post(user, f"/tasks/{row['id']}/restore", fields, htmx=True)
    back = await db.fetchrow("SELECT * FROM tasks WHERE id = $1", row["id"])
    for column in ("title", "priority", "due_at", "status", "position", "created_at", "notes"):
        assert back[column] == row[column], column
    assert back["deleted_at"] is None


async def test_tampered_undo_is_refused(user, db):
    await create(user, "Undo me")
    row = await task_row(db, "Undo me")
    version = str(row["version"])
    for fields in (
        {"status": "bogus", "position": "1", "completed_at": "", "version": version},
        {"status": "done", "position": "1", "completed_at": "", "version": version},
        {"status": "todo", "position": "nan", "completed_at": "", "version": version},
        {"status": "todo", "position": "1", "completed_at": "yesterday", "version": version},
        {"status": "todo", "position": "1", "completed_at": ""},
        {"status": "todo", "position": "1", "completed_at": "", "version": "9" * 5000},
    ):
        response = await post(user, f"/tasks/{row['id']}/restore", fields)
        assert response.status_code == 400
    assert dict(await task_row(db, "Undo me")) == dict(row)


async def test_an_old_undo_does_not_overwrite_what_happened_since(user, db):
    await create(user, "Two tabs")
    row = await task_row(db, "Two tabs")
    done = await post(user, f"/tasks/{row['id']}/status", {"status": "done"}, htmx=True)
    fields = undo_fields(await done.get_data(as_text=True))
    await post(user, f"/tasks/{row['id']}/status", {"status": "doing"})  # e.g. another tab
    moved = await task_row(db, "Two tabs")
    response = await post(user, f"/tasks/{row['id']}/restore", fields, htmx=True)
    assert response.status_code == 409
    assert "the task has changed since" in await response.get_data(as_text=True)
    assert dict(await task_row(db, "Two tabs")) == dict(moved)
    # Undo works once: a second click finds the task already changed by the first.
    again = await post(user, f"/tasks/{row['id']}/status", {"status": "done"}, htmx=True)
    fields = undo_fields(await again.get_data(as_text=True))
    first = await post(user, f"/tasks/{row['id']}/restore", fields, htmx=True)
    second = await post(user, f"/tasks/{row['id']}/restore", fields, htmx=True)
    assert (first.status_code, second.status_code) == (200, 409)
    assert (await task_row(db, "Two tabs"))["status"] == "doing"


async def test_a_nul_in_the_page_address_is_dropped_not_a_500(user, db):
    for title in ("Buy a", "Buy b"):
        await create(user, title)
    a = await task_row(db, "Buy a")
    page = "/?q=%00"
    deleted = await post(user, f"/tasks/{a['id']}/delete", htmx=True, page=page)
    restored = await post(
        user,
        f"/tasks/{a['id']}/restore",
        undo_fields(await deleted.get_data(as_text=True)),
        htmx=True,
        page=page,
    )
    assert restored.status_code == 200
    moved = await post(user, f"/tasks/{a['id']}/move", {"direction": "up"}, htmx=True, page=page)
    assert moved.status_code == 200
    headers = {"X-CSRF-Token": await token(user), "Referer": "http://localhost/?q=%00"}
    invalid = await user.post("/tasks", form={"title": ""}, headers=headers)
    assert invalid.status_code == 422


async def test_move_up_and_down_within_a_bucket(user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    b = await task_row(db, "b")
    response = await post(user, f"/tasks/{b['id']}/move", {"direction": "up"}, htmx=True)
    html = await response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#list-todo"
    assert html.index(">b<") < html.index(">c<") < html.index(">a<")
    assert "“b” is now 1 of 3 in To do." in html  # said to screen readers
    await post(user, f"/tasks/{b['id']}/move", {"direction": "down"})
    await post(user, f"/tasks/{b['id']}/move", {"direction": "down"})
    page = await (await user.get("/")).get_data(as_text=True)
    assert page.index(">c<") < page.index(">a<") < page.index(">b<")
    edge = await post(user, f"/tasks/{b['id']}/move", {"direction": "down"}, htmx=True)
    assert edge.status_code == 200  # already last: nothing moves, nothing breaks


async def test_move_works_when_two_cards_share_a_position(user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    # Two tabs adding at the same instant both put their task at "top - 1".
    await db.execute("UPDATE tasks SET position = -5 WHERE title IN ('b', 'c')")
    b = await task_row(db, "b")  # shown as b, c (same position: by id), then a
    await post(user, f"/tasks/{b['id']}/move", {"direction": "down"}, htmx=True)
    page = await (await user.get("/")).get_data(as_text=True)
    assert page.index(">c<") < page.index(">b<") < page.index(">a<")


async def test_move_on_a_searched_board_passes_hidden_cards(user, db):
    for title in ("Buy a", "Call x", "Buy b"):  # new tasks go on top: Buy b, Call x, Buy a
        await create(user, title)
    a = await task_row(db, "Buy a")
    response = await post(
        user, f"/tasks/{a['id']}/move", {"direction": "up"}, htmx=True, page="/?q=buy"
    )
    html = unmarked(await response.get_data(as_text=True))
    assert "Call x" not in html  # the redrawn list is the searched one
    assert html.index(">Buy a<") < html.index(">Buy b<")
    page = await (await user.get("/")).get_data(as_text=True)
    assert page.index(">Buy a<") < page.index(">Call x<") < page.index(">Buy b<")


async def test_undo_on_a_searched_board_keeps_the_search(user, db):
    for title in ("Buy milk", "Buy bread", "Call mum"):
        await create(user, title)
    row = await task_row(db, "Buy milk")
    html = await (await post(user, f"/tasks/{row['id']}/delete", htmx=True)).get_data(as_text=True)
    fields = undo_fields(html)
    response = await post(
        user, f"/tasks/{row['id']}/restore", fields, htmx=True, page="/?q=buy&filter="
    )
    restored = unmarked(await response.get_data(as_text=True))
    assert ">Buy milk<" in restored and ">Buy bread<" in restored
    assert "Call mum" not in restored


async def test_without_javascript_actions_return_to_the_searched_board(user, db):
    for title in ("Buy a", "Call x", "Buy b"):
        await create(user, title, htmx=False)
    a = await task_row(db, "Buy a")
    headers = {"X-CSRF-Token": await token(user), "Referer": "http://localhost/?q=buy"}
    moved = await user.post(f"/tasks/{a['id']}/move", form={"direction": "up"}, headers=headers)
    assert moved.headers["Location"] == f"/?q=buy#task-{a['id']}"
    page = await (await user.get("/")).get_data(as_text=True)
    assert page.index(">Buy a<") < page.index(">Call x<") < page.index(">Buy b<")
    headers["Referer"] = "http://localhost/?q=buy&filter=overdue"
    done = await user.post(f"/tasks/{a['id']}/status", form={"status": "done"}, headers=headers)
    assert done.headers["Location"] == "/?q=buy&filter=overdue"


async def test_search_and_filters(user, db):
    await create(user, "Buy milk")
    await create(user, "Call mum due:2020-01-01")
    await create(user, "Today thing due:today")
    await create(user, "100% done_ish")
    milk = await task_row(db, "Buy milk")
    await post(
        user,
        f"/tasks/{milk['id']}",
        {"title": "Buy milk", "notes": "oat, not cow", "version": str(milk["version"])},
    )
    found = await user.get("/?q=OAT", headers={**HX, "HX-Target": "board"})
    html = unmarked(await found.get_data(as_text=True))
    assert found.status_code == 200
    assert html.lstrip().startswith('<div id="board"')
    assert "Buy milk" in html and "Call mum" not in html
    literal = board_of(await (await user.get("/?q=100%25")).get_data(as_text=True))
    assert "100% done_ish" in literal and "Buy milk" not in literal
    underscore = board_of(await (await user.get("/?q=e_i")).get_data(as_text=True))
    assert "done_ish" in underscore and "Today thing" not in underscore
    overdue = board_of(await (await user.get("/?filter=overdue")).get_data(as_text=True))
    assert "Call mum" in overdue and "Buy milk" not in overdue
    today = board_of(await (await user.get("/?filter=today")).get_data(as_text=True))
    assert "Today thing" in today and "Call mum" not in today
    page = await (await user.get("/?q=milk")).get_data(as_text=True)
    assert 'value="milk"' in page  # the URL reflects the search, so reload keeps it


async def test_stats_strip(user, db):
    await create(user, "Open one")
    await create(user, "Late one due:2020-01-01")
    await create(user, "Done one")
    done = await task_row(db, "Done one")
    await post(user, f"/tasks/{done['id']}/status", {"status": "done"})
    await db.execute(
        "UPDATE tasks SET created_at = completed_at - interval '3 days' WHERE id = $1", done["id"]
    )
    html = await (await user.get("/")).get_data(as_text=True)
    stats = html[html.index('id="stats"') : html.index("</dl>")]
    values = re.findall(r'<dd class="stat__value">([^<]*)</dd>', stats)
    assert values == ["2", "1", "1", "3d"]
    assert "Took 3d" in html
    assert re.search(r"<span>Age \d+[smhdw]</span>", html)


async def test_median_time_to_done_is_over_the_latest_fifty(user, db):
    user_id = await db.fetchval("SELECT id FROM users")
    # 60 tasks finished long ago that took 10 days, then 50 recent ones that took an hour.
    await db.execute(
        """
        INSERT INTO tasks (user_id, title, status, position, created_at, completed_at)
        SELECT $1::bigint, 'Old ' || g, 'done', g,
               now() - interval '30 days', now() - interval '20 days' + g * interval '1 minute'
          FROM generate_series(1, 60) g
        UNION ALL
        SELECT $1::bigint, 'New ' || g, 'done', 100 + g,
               now() - interval '2 days' + (g - 60) * interval '1 minute',
               now() - interval '2 days' + g * interval '1 minute'
          FROM generate_series(1, 50) g
        """,
        user_id,
    )
    html = await (await user.get("/")).get_data(as_text=True)
    stats = html[html.index('id="stats"') : html.index("</dl>")]
    assert "Median time to done, last 50" in stats
    assert re.findall(r'<dd class="stat__value">([^<]*)</dd>', stats)[3] == "1h"


async def test_other_users_tasks_are_404(user, app, db):
    await create(user, "Mine")
    row = await task_row(db, "Mine")
    intruder = app.test_client()
    await sign_up(intruder, email="eve@example.com")
    t = await token(intruder)
    attempts = [
        ("GET", f"/tasks/{row['id']}", None),
        ("GET", f"/tasks/{row['id']}/edit", None),
        ("POST", f"/tasks/{row['id']}", {"title": "pwned", "version": str(row["version"])}),
        ("POST", f"/tasks/{row['id']}/status", {"status": "done"}),
        ("POST", f"/tasks/{row['id']}/delete", {}),
        ("POST", f"/tasks/{row['id']}/move", {"direction": "up"}),
        (
            "POST",
            f"/tasks/{row['id']}/restore",
            {
                "status": "done",
                "position": "1",
                "completed_at": "2026-01-01T00:00:00+00:00",
                "version": str(row["version"]),
            },
        ),
    ]
    for method, path, form in attempts:
        response = await intruder.open(
            path, method=method, form=form or {}, headers={"X-CSRF-Token": t}
        )
        assert response.status_code == 404, (method, path)
    assert '<li id="task-' not in board_of(
        await (await intruder.get("/?q=Mine")).get_data(as_text=True)
    )
    after = await db.fetchrow("SELECT * FROM tasks WHERE id = $1", row["id"])
    assert dict(after) == dict(row)


async def test_dashboard_query_count_does_not_grow_with_tasks(make_app, db):
    app = await make_app(db_pool_min=1, db_pool_max=1)  # one connection: we can watch it
    await asyncio.wait_for(app.extensions[LISTENER_KEY].listening.wait(), 15)
    client = app.test_client()
    await sign_up(client)
    await client.get("/")  # the session, read once, is then in the cache
    statements: list[str] = []
    async with app.extensions[POOL_KEY].acquire() as conn:
        conn.add_query_logger(lambda query: statements.append(query.query))
    user_id = await db.fetchval("SELECT id FROM users")
    counts = []
    for total in (5, 300):
        await db.execute(
            "INSERT INTO tasks (user_id, title, position) "
            "SELECT $1, 'bulk ' || g, g FROM generate_series(1, $2) g",
            user_id,
            total,
        )
        statements.clear()
        html = await (await client.get("/")).get_data(as_text=True)
        assert html.count('<li id="task-') == min(
            50, await db.fetchval("SELECT count(*) FROM tasks")
        )
        assert ("data-more" in html) is (total == 300)  # the first page, then "Show more"
        counts.append(len(statements))
    assert counts[0] == counts[1] == 2  # the board, the stats strip (the session: cached)


async def test_bucket_totals_kept_by_triggers_match_a_recount(user, app, db):
    for title in ("one", "two", "three", "four"):
        await create(user, title)
    ids = [r["id"] for r in await db.fetch("SELECT id FROM tasks ORDER BY id")]
    await post(user, f"/tasks/{ids[0]}/status", {"status": "done"})
    await post(user, f"/tasks/{ids[1]}/status", {"status": "doing"})
    await post(user, f"/tasks/{ids[1]}/status", {"status": "doing"})  # a repeat changes nothing
    deleted = await post(user, f"/tasks/{ids[2]}/delete", htmx=True)
    fields = undo_fields(await deleted.get_data(as_text=True))
    await post(user, f"/tasks/{ids[3]}/delete")
    await post(user, f"/tasks/{ids[2]}/restore", fields)
    await db.execute("DELETE FROM tasks WHERE id = $1", ids[3])  # purged for good
    other = app.test_client()
    await sign_up(other, email="bob@example.com")
    await create(other, "bob's")
    kept = {
        r["user_id"]: (r["todo"], r["doing"], r["done"])
        for r in await db.fetch("SELECT * FROM task_counts")
    }
    recount = {
        r["user_id"]: (r["todo"], r["doing"], r["done"])
        for r in await db.fetch(
            "SELECT user_id, count(*) FILTER (WHERE status = 'todo') AS todo,"
            " count(*) FILTER (WHERE status = 'doing') AS doing,"
            " count(*) FILTER (WHERE status = 'done') AS done"
            " FROM tasks WHERE deleted_at IS NULL GROUP BY user_id"
        )
    }
    assert kept == recount
    ada = await db.fetchval("SELECT id FROM users WHERE email = 'ada@example.com'")
    assert kept[ada] == (1, 1, 1)
