"""Shift+K / Shift+J with the neighbour the page shows (board.js sends it as `neighbour`): the
answer is the two cards swapped in place, not the whole bucket. Whenever the page was wrong
about the neighbour, the move goes past the real one and the bucket comes back as it is."""

from __future__ import annotations

import asyncio
import re

from tests.helpers import sign_up
from tests.tasks.test_drop import ids
from tests.tasks.test_routes import create, post

CARD = re.compile(r'<li id="task-(\d+)" class="task-card')


async def order(db, status: str = "todo", owner: str = "b") -> list[str]:
    """The titles in a bucket of the user who owns task `owner`, in board order."""
    rows = await db.fetch(
        "SELECT title FROM tasks WHERE status = $1 AND deleted_at IS NULL"
        " AND user_id = (SELECT user_id FROM tasks WHERE title = $2) ORDER BY position, id",
        status,
        owner,
    )
    return [r["title"] for r in rows]


async def swap(client, task_id: int, direction: str, neighbour: int, htmx: bool = True):
    form = {"direction": direction, "neighbour": str(neighbour)}
    return await post(client, f"/tasks/{task_id}/move", form, htmx=htmx)


async def test_the_two_cards_come_back_swapped_in_place(user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    assert await order(db) == ["c", "b", "a"]
    t = await ids(db)
    versions = dict(await db.fetch("SELECT title, version FROM tasks"))

    answer = await swap(user, t["b"], "up", t["c"])
    body = await answer.get_data(as_text=True)
    assert answer.status_code == 200
    # The card that was on top (c) is replaced by both, in the new order; b's old copy goes.
    assert answer.headers["HX-Retarget"] == f"#task-{t['c']}"
    assert answer.headers["HX-Reswap"] == "outerHTML"
    assert [int(i) for i in CARD.findall(body)] == [t["b"], t["c"]]
    assert f'<li id="task-{t["b"]}" hx-swap-oob="delete"></li>' in body
    assert "Moved “b” above “c”." in body  # said to screen readers
    assert "list-todo" not in body and "count-todo" not in body  # no bucket, no counts
    assert await order(db) == ["b", "c", "a"]
    after = dict(await db.fetch("SELECT title, version FROM tasks"))
    assert after == versions | {"b": versions["b"] + 1, "c": versions["c"] + 1}

    answer = await swap(user, t["b"], "down", t["c"])  # and back: now b was on top
    body = await answer.get_data(as_text=True)
    assert answer.headers["HX-Retarget"] == f"#task-{t['b']}"
    assert [int(i) for i in CARD.findall(body)] == [t["c"], t["b"]]
    assert f'<li id="task-{t["c"]}" hx-swap-oob="delete"></li>' in body
    assert "Moved “b” below “c”." in body
    assert await order(db) == ["c", "b", "a"]


async def test_a_neighbour_the_page_got_wrong_moves_past_the_real_one(app, user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    await create(user, "doing")
    other = app.test_client()
    await sign_up(other, email="other@example.com")
    await create(other, "theirs")
    t = await ids(db)
    await post(user, f"/tasks/{t['doing']}/status", {"status": "doing"}, htmx=True)
    await post(user, f"/tasks/{t['a']}/delete", htmx=True)  # the board is now c, b

    # The right card on the wrong side; in another bucket; someone else's; deleted; itself:
    # each time b moves past the card really beside it, and the whole bucket comes back.
    cases = [
        ("down", "c", ["c", "b"]),  # c is above b, not below: b is last, nothing moves
        ("up", "doing", ["b", "c"]),
        ("down", "theirs", ["c", "b"]),
        ("up", "a", ["b", "c"]),
        ("down", "b", ["c", "b"]),
    ]
    for direction, wrong, expected in cases:
        answer = await swap(user, t["b"], direction, t[wrong])
        assert answer.status_code == 200, wrong
        assert answer.headers["HX-Retarget"] == "#list-todo", wrong
        assert await order(db) == expected, wrong
    assert await order(db, "doing") == ["doing"]
    theirs = await db.fetchrow("SELECT position, version FROM tasks WHERE id = $1", t["theirs"])
    assert (theirs["position"], theirs["version"]) == (-1, 1)


async def test_cards_that_share_a_position_are_renumbered_then_moved(user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    # Two tabs adding at the same instant both put their task at "top - 1".
    await db.execute("UPDATE tasks SET position = -5 WHERE title IN ('b', 'c')")
    t = await ids(db)
    assert await order(db) == ["b", "c", "a"]
    answer = await swap(user, t["b"], "down", t["c"])
    assert answer.headers["HX-Retarget"] == "#list-todo"  # the bucket path renumbers
    assert await order(db) == ["c", "b", "a"]


async def test_someone_elses_card_is_not_found_whatever_the_neighbour(app, user, db):
    await create(user, "mine")
    other = app.test_client()
    await sign_up(other, email="other@example.com")
    for title in ("theirs 1", "theirs 2"):
        await create(other, title)
    t = await ids(db)
    answer = await swap(other, t["mine"], "down", t["theirs 1"])
    assert answer.status_code == 404
    answer = await swap(other, t["mine"], "up", t["theirs 2"])
    assert answer.status_code == 404
    assert await db.fetchval("SELECT version FROM tasks WHERE id = $1", t["mine"]) == 1


async def test_without_javascript_the_swap_returns_to_the_board(user, db):
    for title in ("a", "b"):
        await create(user, title)
    t = await ids(db)
    answer = await swap(user, t["a"], "up", t["b"], htmx=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/#task-{t['a']}"
    assert await order(db, owner="a") == ["a", "b"]


async def test_two_tabs_pressing_the_same_swap_at_once_move_it_once(app, user, db):
    for title in ("a", "b", "c"):
        await create(user, title)
    t = await ids(db)
    tab = app.test_client()  # the same session in a second tab
    tab.cookie_jar = user.cookie_jar
    first, second = await asyncio.gather(
        swap(user, t["a"], "up", t["b"]), swap(tab, t["a"], "up", t["b"])
    )
    assert {first.status_code, second.status_code} == {200}
    # One swapped the pair; the other found a no longer above b, so moved a past its real
    # neighbour (c) and redrew the bucket: a went up one place for each press.
    assert sorted([first.headers["HX-Retarget"], second.headers["HX-Retarget"]]) == [
        "#list-todo",
        f"#task-{t['b']}",
    ]
    assert await order(db) == ["a", "c", "b"]
