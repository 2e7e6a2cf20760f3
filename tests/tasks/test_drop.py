"""Drag and drop on the server: a drop posts to the same status and move routes as the keys,
with `after` (the card above where it landed, or "top"); one transaction, an Undo, and the
board's lists back so the page shows what is really stored."""

from __future__ import annotations

from tests.helpers import sign_up
from tests.tasks.test_routes import create, post, undo_fields


async def order(db, status: str = "todo") -> list[str]:
    rows = await db.fetch(
        "SELECT title FROM tasks WHERE status = $1 AND deleted_at IS NULL ORDER BY position, id",
        status,
    )
    return [r["title"] for r in rows]


async def ids(db) -> dict[str, int]:
    return {r["title"]: r["id"] for r in await db.fetch("SELECT id, title FROM tasks")}


async def test_dropping_within_a_bucket_reorders_it_and_undo_puts_it_back(user, db):
    for title in ("one", "two", "three", "four"):
        await create(user, title)
    assert await order(db) == ["four", "three", "two", "one"]
    t = await ids(db)
    answer = await post(user, f"/tasks/{t['four']}/move", {"after": str(t["two"])}, htmx=True)
    body = await answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["HX-Reswap"] == "none"
    assert await order(db) == ["three", "two", "four", "one"]
    assert 'id="list-todo"' in body and "Moved “four” in To do." in body  # lists + Undo toast
    form = undo_fields(body)
    await post(user, f"/tasks/{t['four']}/restore", form, htmx=True)
    assert await order(db) == ["four", "three", "two", "one"]
    # To the top, then to the bottom.
    await post(user, f"/tasks/{t['one']}/move", {"after": "top"}, htmx=True)
    assert await order(db) == ["one", "four", "three", "two"]
    await post(user, f"/tasks/{t['one']}/move", {"after": str(t["two"])}, htmx=True)
    assert await order(db) == ["four", "three", "two", "one"]


async def test_dropping_into_another_bucket_changes_its_status_at_that_place(user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    t = await ids(db)
    await post(user, f"/tasks/{t['a']}/status", {"status": "done"}, htmx=True)
    await post(user, f"/tasks/{t['b']}/status", {"status": "done"}, htmx=True)
    assert await order(db, "done") == ["b", "a"]
    form = {"status": "done", "after": str(t["b"]), "shown_in": "todo"}
    answer = await post(user, f"/tasks/{t['c']}/status", form, htmx=True)
    body = await answer.get_data(as_text=True)
    assert await order(db, "done") == ["b", "c", "a"]
    row = await db.fetchrow("SELECT completed_at FROM tasks WHERE id = $1", t["c"])
    assert row["completed_at"] is not None
    assert "Moved “c” to Done." in body
    assert 'id="count-done" class="bucket__count" hx-swap-oob="true">3<' in body
    await post(user, f"/tasks/{t['c']}/restore", undo_fields(body), htmx=True)
    assert await order(db) == ["c"] and await order(db, "done") == ["b", "a"]
    row = await db.fetchrow("SELECT completed_at FROM tasks WHERE id = $1", t["c"])
    assert row["completed_at"] is None
    # Out of Done to the top of In progress: completed is cleared.
    form = {"status": "doing", "after": "top", "shown_in": "done"}
    await post(user, f"/tasks/{t['a']}/status", form, htmx=True)
    row = await db.fetchrow("SELECT status, completed_at FROM tasks WHERE id = $1", t["a"])
    assert row["status"] == "doing" and row["completed_at"] is None


async def test_a_drop_where_it_started_or_after_a_card_now_elsewhere_changes_nothing(user, db):
    for title in ("x", "y", "z"):
        await create(user, title)
    t = await ids(db)
    before = await db.fetch("SELECT id, position, version FROM tasks ORDER BY id")
    answer = await post(user, f"/tasks/{t['x']}/move", {"after": str(t["y"])}, htmx=True)
    assert "Undo" not in await answer.get_data(as_text=True)  # already there: no toast
    await post(user, f"/tasks/{t['y']}/status", {"status": "done"}, htmx=True)  # another tab
    answer = await post(
        user, f"/tasks/{t['x']}/move", {"after": str(t["y"])}, htmx=True
    )  # y is in Done now: the page was out of date
    body = await answer.get_data(as_text=True)
    assert answer.status_code == 200 and "board changed meanwhile" in body
    after = await db.fetch("SELECT id, position FROM tasks WHERE id <> $1 ORDER BY id", t["y"])
    assert [(r["id"], r["position"]) for r in after] == [
        (r["id"], r["position"]) for r in before if r["id"] != t["y"]
    ]


async def test_ties_are_renumbered_and_the_drop_still_lands_in_place(user, db):
    for title in ("p", "q", "r"):
        await create(user, title)
    await db.execute("UPDATE tasks SET position = 5")  # two tabs adding at once
    t = await ids(db)
    start = await order(db)
    # The last card dropped after the first: the tie is renumbered first, then it lands.
    await post(user, f"/tasks/{t[start[2]]}/move", {"after": str(t[start[0]])}, htmx=True)
    assert await order(db) == [start[0], start[2], start[1]]


async def test_drops_are_checked_like_every_action(user, db):
    await create(user, "mine")
    t = await ids(db)
    assert (
        await post(user, f"/tasks/{t['mine']}/move", {"after": "1e9"}, htmx=True)
    ).status_code == 400
    assert (
        await post(user, f"/tasks/{t['mine']}/move", {"after": "-1"}, htmx=True)
    ).status_code == 400
    assert (
        await post(
            user, f"/tasks/{t['mine']}/status", {"status": "nope", "after": "top"}, htmx=True
        )
    ).status_code == 400
    assert (await post(user, "/tasks/999999/move", {"after": "top"}, htmx=True)).status_code == 404


async def test_another_users_card_is_neither_moved_nor_an_anchor(app, db, user):
    await create(user, "mine")
    other = app.test_client()
    await sign_up(other, email="other@example.com")
    await create(other, "theirs")
    t = await ids(db)
    answer = await post(other, f"/tasks/{t['mine']}/move", {"after": "top"}, htmx=True)
    assert answer.status_code == 404
    answer = await post(
        other, f"/tasks/{t['mine']}/status", {"status": "done", "after": "top"}, htmx=True
    )
    assert answer.status_code == 404
    # Dropping their own card after mine: my card is not in their bucket, nothing moves.
    before = await db.fetchval("SELECT position FROM tasks WHERE id = $1", t["theirs"])
    answer = await post(other, f"/tasks/{t['theirs']}/move", {"after": str(t["mine"])}, htmx=True)
    assert "board changed meanwhile" in await answer.get_data(as_text=True)
    assert await db.fetchval("SELECT position FROM tasks WHERE id = $1", t["theirs"]) == before
    assert await db.fetchval("SELECT status FROM tasks WHERE id = $1", t["mine"]) == "todo"
