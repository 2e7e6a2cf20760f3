"""Long buckets: the first page of each, the rest a page at a time after a keyset cursor, exact
counts ("3 of 12" while searching), and redraws that keep what the page already shows."""

from __future__ import annotations

import re
from html import unescape

import pytest

from taskly.db import POOL_KEY
from taskly.tasks.board import PAGE_SIZE, Search, select_board
from tests.tasks.test_routes import HX, create, post

MORE = re.compile(r'<a class="btn btn--small btn--ghost" href="([^"]+)"[^>]*data-more')
CARD = re.compile(r'<li id="task-(\d+)"')


async def _bulk(db, count: int, status: str = "todo", title: str = "bulk") -> None:
    user_id = await db.fetchval("SELECT id FROM users")
    await db.execute(
        "INSERT INTO tasks (user_id, title, position, status, completed_at) "
        "SELECT $1, $3 || ' ' || g, g, $4, CASE WHEN $4 = 'done' THEN now() END"
        " FROM generate_series(1, $2) g",
        user_id,
        count,
        title,
        status,
    )


async def _walk(user, html: str, status: str) -> list[int]:
    """Every card id of the bucket, following "Show more" as htmx would."""
    bucket = html.split(f'id="list-{status}"', 1)[1].split("</ol>", 1)[0]
    ids = [int(i) for i in CARD.findall(bucket)]
    found = MORE.search(bucket)
    while found:
        answer = await user.get(unescape(found.group(1)), headers=HX)
        assert answer.status_code == 200
        page = await answer.get_data(as_text=True)
        ids += [int(i) for i in CARD.findall(page)]
        found = MORE.search(page)
    return ids


async def test_a_long_bucket_comes_a_page_at_a_time_each_card_once_in_order(user, db):
    await _bulk(db, 123)
    await _bulk(db, 3, "doing")
    html = await (await user.get("/")).get_data(as_text=True)
    todo = html.split('id="list-todo"', 1)[1].split("</ol>", 1)[0]
    assert len(CARD.findall(todo)) == 50
    assert '<span id="count-todo" class="bucket__count">123<' in html  # exact, not the page
    expected = [
        r["id"]
        for r in await db.fetch("SELECT id FROM tasks WHERE status = 'todo' ORDER BY position, id")
    ]
    assert await _walk(user, html, "todo") == expected
    doing = html.split('id="list-doing"', 1)[1].split("</ol>", 1)[0]
    assert "data-more" not in doing


async def test_cards_added_while_paging_are_neither_repeated_nor_skipped(user, db):
    await _bulk(db, 60)
    html = await (await user.get("/")).get_data(as_text=True)
    await create(user, "New on top")  # goes above the first page: the cursor is unaffected
    ids = await _walk(user, html, "todo")
    assert len(ids) == len(set(ids)) == 60


async def test_searching_counts_say_how_many_match_of_all(user, db):
    await _bulk(db, 12, title="apple")
    await _bulk(db, 3, title="pear")
    await _bulk(db, 4, "done", title="pear")
    html = await (await user.get("/", query_string={"q": "pear"})).get_data(as_text=True)
    assert '<span id="count-todo" class="bucket__count">3 of 15<' in html
    assert '<span id="count-done" class="bucket__count">4 of 4<' in html
    assert '<span id="tab-count-todo" class="bucket-tab__count">3 of 15<' in html
    assert ">apple 1<" not in html and "<mark>pear</mark> 1</a>" in html  # matches marked
    # An action from the searched page sends the counts the same way.
    task_id = await db.fetchval("SELECT id FROM tasks WHERE title = 'pear 1' AND status = 'todo'")
    answer = await post(user, f"/tasks/{task_id}/status", {"status": "done"}, True, "/?q=pear")
    body = await answer.get_data(as_text=True)
    assert 'id="count-todo" class="bucket__count" hx-swap-oob="true">2 of 14<' in body
    assert 'id="count-done" class="bucket__count" hx-swap-oob="true">5 of 5<' in body


async def test_a_redraw_keeps_the_pages_the_user_has_loaded(user, db):
    await _bulk(db, 130)
    ids = [
        r["id"]
        for r in await db.fetch("SELECT id FROM tasks WHERE status = 'todo' ORDER BY position, id")
    ]
    # Shift+J on the 120th card, with 150 cards shown: the list comes back as long as it was.
    answer = await post(
        user, f"/tasks/{ids[119]}/move", {"direction": "down", "shown_todo": "130"}, htmx=True
    )
    body = await answer.get_data(as_text=True)
    shown = [int(i) for i in CARD.findall(body)]
    assert len(shown) == 130 and shown.index(ids[119]) == 120
    assert "data-more" not in body
    # Without `shown` (an old page), the first page and "Show more".
    answer = await post(user, f"/tasks/{ids[0]}/move", {"direction": "down"}, htmx=True)
    body = await answer.get_data(as_text=True)
    assert len(CARD.findall(body)) == 50 and "data-more" in body


async def test_a_bad_cursor_or_bucket_is_a_clear_answer(user):
    assert (await user.get("/tasks/bucket/todo?after=nan:1", headers=HX)).status_code == 400
    assert (await user.get("/tasks/bucket/todo?after=1:x", headers=HX)).status_code == 400
    assert (await user.get("/tasks/bucket/nope", headers=HX)).status_code == 404
    page = await user.get("/tasks/bucket/done")  # no JavaScript: a page of its own
    assert page.status_code == 200
    assert "No more tasks here." in await page.get_data(as_text=True)


@pytest.mark.parametrize("plan", ["force_generic_plan", "force_custom_plan"])
async def test_the_board_reads_a_page_of_each_bucket_whatever_plan_is_cached(app, user, db, plan):
    """asyncpg prepares select-board once per connection, and from its sixth run PostgreSQL
    may keep a generic plan, one made without the search and filter values. Either plan reads
    a page of each bucket, not the bucket: the rows read are PostgreSQL's count for the
    transaction, with the planner's statistics fresh, as autovacuum leaves them."""
    await _bulk(db, 2000)
    await _bulk(db, 2000, "done")
    await db.execute("ANALYZE tasks")
    user_id = await db.fetchval("SELECT id FROM users")
    async with app.extensions[POOL_KEY].acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL plan_cache_mode = {plan}")
        board = await select_board(conn, user_id, "Europe/Berlin", Search())
        read = await conn.fetchval(
            "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
            " WHERE relname = 'tasks'"
        )
    assert [len(board[s]) for s in ("todo", "doing", "done")] == [PAGE_SIZE, 0, PAGE_SIZE]
    assert board.more["todo"] and board.more["done"]
    assert read <= 2 * (PAGE_SIZE + 2)  # a whole bucket is 2,000
