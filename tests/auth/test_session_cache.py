"""The per-process session cache (taskly/auth/cache.py): requests skip the session query, yet a
session that ends anywhere, or a user whose details change, is dropped as soon as PostgreSQL
says so; while the listening connection is down nothing is trusted from the cache.
(Across two processes: tests/live/test_processes.py.)"""

from __future__ import annotations

import asyncio

from taskly.db import POOL_KEY
from taskly.live.stream import LISTENER_KEY
from tests.helpers import log_in, page_token, sign_up

SESSION_QUERY = "FROM sessions s"


async def listening(app) -> None:
    await asyncio.wait_for(app.extensions[LISTENER_KEY].listening.wait(), 15)


async def watched(app) -> list[str]:
    statements: list[str] = []
    async with app.extensions[POOL_KEY].acquire() as conn:
        conn.add_query_logger(lambda query: statements.append(query.query))
    return statements


async def until(check, tries: int = 100) -> None:
    """Until `check()` holds: a notification travels through PostgreSQL to the listener."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def logged_in(client) -> bool:
    return (await client.get("/")).status_code == 200


async def test_a_cached_session_ends_when_it_is_ended_elsewhere(make_app, db):
    app = await make_app(db_pool_min=1, db_pool_max=1)  # one connection: we can watch it
    await listening(app)
    laptop, phone = app.test_client(), app.test_client()
    await sign_up(laptop)
    await log_in(phone, "ada@example.com")
    statements = await watched(app)
    assert await logged_in(phone)  # read once...
    statements.clear()
    assert await logged_in(phone)  # ... then from the cache
    assert not any(SESSION_QUERY in s for s in statements)

    token = await page_token(laptop, "/account/devices")
    await laptop.post("/account/devices/logout-others", form={"csrf_token": token})

    async def phone_is_out() -> bool:
        return not await logged_in(phone)

    await until(phone_is_out)
    assert await logged_in(laptop)


async def test_details_that_change_elsewhere_are_read_again(make_app, db):
    app = await make_app()
    await listening(app)
    client = app.test_client()
    await sign_up(client)
    assert "Ada" in await (await client.get("/")).get_data(as_text=True)
    await db.execute("UPDATE users SET first_name = 'Augusta'")  # another instance's edit

    async def renamed() -> bool:
        return "Augusta" in await (await client.get("/")).get_data(as_text=True)

    await until(renamed)
    await db.execute("UPDATE sessions SET last_seen_at = now() - interval '15 days'")

    async def expired() -> bool:
        return not await logged_in(client)

    await until(expired)


async def test_nothing_is_trusted_from_the_cache_while_the_listener_is_down(make_app, db):
    app = await make_app(db_pool_min=1, db_pool_max=1)
    await listening(app)
    client = app.test_client()
    await sign_up(client)
    statements = await watched(app)
    assert await logged_in(client)
    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'taskly-live'"
    )
    listener = app.extensions[LISTENER_KEY]
    await until(lambda: _false_when(listener.listening.is_set()))
    statements.clear()
    assert await logged_in(client)
    assert any(SESSION_QUERY in s for s in statements)  # asked PostgreSQL, not the cache
    await listening(app)  # back (a second later): caching again, from empty
    assert await logged_in(client)
    statements.clear()
    assert await logged_in(client)
    assert not any(SESSION_QUERY in s for s in statements)


async def _false_when(value: bool) -> bool:
    return not value
