"""GET /live against the app with its real listener on PostgreSQL: what a change sends, to whom,
catch-up from Last-Event-ID, the search, refetch, logout and the limits. (Two processes:
test_processes.py; two browsers: tests/browser/test_live.py.)"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from taskly.db import POOL_KEY
from taskly.live import stream as live_stream
from taskly.live.stream import HUB_KEY, LISTENER_KEY
from taskly.reminders.model import sign_action
from tests.helpers import log_in, page_token, sign_up
from tests.live.sse import Event, EventReader

HX = {"HX-Request": "true"}
CARD = re.compile(r'<template data-live-card="(\d+)"[^>]*>(.*?)</template>', re.S)


async def post(client, path: str, form: dict[str, str] | None = None):
    headers = {"X-CSRF-Token": await page_token(client, "/"), **HX}
    response = await client.post(path, form=form or {}, headers=headers)
    assert response.status_code < 400, await response.get_data(as_text=True)
    return response


async def seq(db, email: str) -> int:
    value: int = await db.fetchval("SELECT change_seq FROM users WHERE email = $1", email)
    return value


@asynccontextmanager
async def stream(
    client, query: str = "", last_event_id: str | None = None, status: int = 200
) -> AsyncIterator[EventReader]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with client.request(f"/live{query}", headers=headers) as connection:
        await connection.send_complete()
        reader = EventReader(connection.receive)
        first = await connection.receive()  # the headers are in once the body starts
        assert connection.status_code == status
        if status == 200:
            assert connection.headers["Content-Type"].startswith("text/event-stream")
            assert connection.headers["Cache-Control"] == "no-store"
            assert connection.headers["X-Accel-Buffering"] == "no"
            reader.buffer = first.decode()
        yield reader
        await connection.disconnect()


def cards(event: Event) -> dict[int, str]:
    return {int(id_): body.strip() for id_, body in CARD.findall(event.data)}


async def task_id(db, title: str) -> int:
    value: int = await db.fetchval("SELECT id FROM tasks WHERE title = $1", title)
    return value


async def test_a_change_sends_the_card_counts_and_its_number(user, db):
    since = await seq(db, "ada@example.com")
    async with stream(user, f"?since={since}") as events:
        await post(user, "/tasks", {"title": "Buy milk"})
        event = await events.next()
    assert (event.type, event.id) == ("change", str(since + 1))
    milk = await task_id(db, "Buy milk")
    body = cards(event)[milk]
    assert f'id="task-{milk}"' in body and "Buy milk" in body and 'data-status="todo"' in body
    assert 'id="count-todo"' in event.data and 'hx-swap-oob="true"' in event.data


async def test_an_event_is_read_in_one_statement(make_app, db, monkeypatch):
    """The change number, what changed, the cards and the stats strip: one round trip per
    event (and per process, whatever the number of open boards of that user)."""
    monkeypatch.setattr(live_stream, "HEARTBEAT", 0.3)  # a heartbeat: the stream waits
    app = await make_app(db_pool_min=1, db_pool_max=1)  # one connection: we can watch it
    await asyncio.wait_for(app.extensions[LISTENER_KEY].listening.wait(), 15)
    client = app.test_client()
    await sign_up(client)
    await post(client, "/tasks", {"title": "Buy milk"})
    statements: list[str] = []
    async with app.extensions[POOL_KEY].acquire() as conn:
        conn.add_query_logger(lambda query: statements.append(query.query))
    since = await seq(db, "ada@example.com")
    async with (
        stream(client, f"?since={since}") as first,
        stream(client, f"?since={since}") as second,
    ):
        assert await first.comment() == await second.comment() == ": keep-alive"
        statements.clear()
        await db.execute("UPDATE tasks SET title = 'Buy oat milk'")
        events = [await first.next(), await second.next()]
    assert [(e.type, e.id) for e in events] == [("change", str(since + 1))] * 2
    assert "Buy oat milk" in events[0].data and 'id="stats"' in events[0].data
    assert len(statements) == 1, statements


async def test_heartbeats_keep_an_idle_stream_open_and_read_nothing(make_app, db, monkeypatch):
    """A comment line every HEARTBEAT seconds (under fly.io's 60 s idle timeout), and no
    query for it: only a change wakes a stream to read."""
    assert live_stream.HEARTBEAT < 60
    monkeypatch.setattr(live_stream, "HEARTBEAT", 0.3)
    app = await make_app(db_pool_min=1, db_pool_max=1)
    await asyncio.wait_for(app.extensions[LISTENER_KEY].listening.wait(), 15)
    client = app.test_client()
    await sign_up(client)
    statements: list[str] = []
    async with app.extensions[POOL_KEY].acquire() as conn:
        conn.add_query_logger(lambda query: statements.append(query.query))
    insert = "INSERT INTO tasks (user_id, title, position) SELECT id, $1, 1 FROM users"
    async with stream(client) as events:
        assert await events.comment() == ": keep-alive"  # it has caught up, and waits
        await db.execute(insert, "Wake")
        assert (await events.next()).type == "change"
        statements.clear()
        for _ in range(3):
            assert await events.comment() == ": keep-alive"
        assert statements == []
        await db.execute(insert, "Wake again")
        assert (await events.next()).type == "change"
        assert len(statements) == 1


async def test_every_kind_of_change_reaches_the_stream(app, user, db):
    await post(user, "/tasks", {"title": "Water plants"})
    plants = await task_id(db, "Water plants")
    since = await seq(db, "ada@example.com")
    async with stream(user, f"?since={since}") as events:
        await post(user, f"/tasks/{plants}/status", {"status": "doing"})
        assert 'data-status="doing"' in cards(await events.next())[plants]
        version = await db.fetchval("SELECT version FROM tasks WHERE id = $1", plants)
        form = {"title": "Water the plants", "notes": "", "version": str(version)}
        await post(user, f"/tasks/{plants}", form)
        assert "Water the plants" in cards(await events.next())[plants]
        await post(user, f"/tasks/{plants}/reminders", {"repeat": "daily", "repeat_time": "07:45"})
        assert 'aria-label="Next reminder' in cards(await events.next())[plants]
        await post(user, f"/tasks/{plants}/delete")
        deleted = await events.next()
        assert cards(deleted) == {plants: ""}  # it leaves the page, as of the deleted version
        version = await db.fetchval("SELECT version FROM tasks WHERE id = $1", plants)
        assert f'data-live-card="{plants}" data-version="{version}"' in deleted.data
        # A reminder mail's "Mark done" link, used without a session.
        await db.execute("UPDATE tasks SET deleted_at = NULL WHERE id = $1", plants)
        assert plants in cards(await events.next())
        user_id = await db.fetchval("SELECT user_id FROM tasks WHERE id = $1", plants)
        reminder = await db.fetchval("SELECT id FROM reminders WHERE task_id = $1", plants)
        secret = app.config["SECRET_KEY"]
        link = "/m/" + sign_action(secret, "done", user_id, plants, reminder)
        assert (await app.test_client().post(link)).status_code == 200
        assert 'data-status="done"' in cards(await events.next())[plants]


async def test_reconnecting_with_last_event_id_misses_nothing_and_repeats_nothing(user, db):
    since = await seq(db, "ada@example.com")
    for title in ("One", "Two", "Three"):
        await post(user, "/tasks", {"title": title})
    async with stream(user, f"?since={since}", last_event_id=str(since + 1)) as events:
        caught_up = await events.next()  # Last-Event-ID wins over the page's number
        assert caught_up.id == str(since + 3)
        assert set(cards(caught_up)) == {await task_id(db, "Two"), await task_id(db, "Three")}
        await post(user, "/tasks", {"title": "Four"})
        following = await events.next()
    assert following.id == str(since + 4)
    assert set(cards(following)) == {await task_id(db, "Four")}
    async with stream(user, last_event_id=str(since + 4)) as events:
        await post(user, "/tasks", {"title": "Five"})
        assert set(cards(await events.next())) == {await task_id(db, "Five")}


async def test_too_much_or_too_old_asks_the_page_to_reload_its_board(user, db):
    since = await seq(db, "ada@example.com")
    user_id = await db.fetchval("SELECT id FROM users")
    await db.execute(  # an import: 150 tasks in one transaction
        "INSERT INTO tasks (user_id, title, position) SELECT $1, 'Imported ' || n, n"
        " FROM generate_series(1, 150) AS n",
        user_id,
    )
    async with stream(user, f"?since={since}") as events:
        event = await events.next()
    assert (event.type, event.id) == ("refetch", str(since + 1))
    await post(user, "/tasks", {"title": "After"})
    await db.execute("DELETE FROM live_changes WHERE seq <= $1", since + 1)  # pruned
    async with stream(user, f"?since={since}") as events:
        assert (await events.next()).type == "refetch"
    async with stream(user, f"?since={since + 1}") as events:
        assert (await events.next()).type == "change"  # nothing it needs was pruned


async def test_another_users_changes_never_reach_the_stream(client, app, db):
    await sign_up(client, email="ada@example.com")
    other = app.test_client()
    await sign_up(other, email="grace@example.com", first_name="Grace")
    since = await seq(db, "ada@example.com")
    async with stream(client, f"?since={since}") as events:
        await post(other, "/tasks", {"title": "Grace's secret"})
        await post(client, "/tasks", {"title": "Ada's own"})
        event = await events.next()
    assert set(cards(event)) == {await task_id(db, "Ada's own")}
    assert "secret" not in event.data
    assert event.id == str(since + 1)  # Grace's change did not use up one of Ada's numbers


async def test_the_search_is_respected(user, db):
    await post(user, "/tasks", {"title": "Buy milk"})
    await post(user, "/tasks", {"title": "Buy bread"})
    milk, bread = await task_id(db, "Buy milk"), await task_id(db, "Buy bread")
    since = await seq(db, "ada@example.com")
    async with stream(user, f"?since={since}&q=milk") as events:
        await post(user, f"/tasks/{bread}/status", {"status": "doing"})
        assert cards(await events.next()) == {bread: ""}  # not shown on that page
        version = await db.fetchval("SELECT version FROM tasks WHERE id = $1", milk)
        await post(user, f"/tasks/{milk}", {"title": "Buy oat drink", "version": str(version)})
        assert cards(await events.next()) == {milk: ""}  # no longer matches: it leaves
        version = await db.fetchval("SELECT version FROM tasks WHERE id = $1", bread)
        await post(user, f"/tasks/{bread}", {"title": "Buy milk bread", "version": str(version)})
        event = await events.next()
    assert "<mark>milk</mark>" in cards(event)[bread]  # now it matches, highlighted
    assert re.search(r'id="count-doing"[^>]*>1 of 1', event.data)


async def test_logout_elsewhere_closes_the_stream(app, client, db):
    await sign_up(client)
    phone = app.test_client()
    await log_in(phone, "ada@example.com")
    async with stream(phone) as events:
        # "Log out other devices" on the laptop ends the phone's session: its stream says so.
        await post(client, "/account/devices/logout-others")
        event = await events.next()
        assert event.type == "logout"
        with suppress(EOFError):
            await events.next()
    assert app.extensions[HUB_KEY].count == 0


async def test_streams_are_limited_per_user_and_refused_when_logged_out(app, user, client):
    app.extensions[HUB_KEY].max_per_user = 2
    async with stream(user), stream(user), stream(user, status=429):
        pass
    anonymous = app.test_client()
    response = await anonymous.get("/live")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    await asyncio.sleep(0)
