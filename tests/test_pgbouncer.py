"""Taskly behind PgBouncer in transaction mode (DB_PGBOUNCER): real app flows and a reminder
tick through a real pgbouncer whose few server connections many requests share at once; the
misconfiguration (transaction pooling without DB_PGBOUNCER) refused at start; migrations over
DATABASE_DIRECT_URL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from quart.testing.app import LifespanError

from taskly.db import POOL_KEY, create_pool, shares_server_sessions
from taskly.migrations import load_migrations
from taskly.settings import Settings, SettingsError
from tests.conftest import AppFactory, PostgresServer
from tests.helpers import log_in, page_token, post_form, sign_up
from tests.pgbouncer import SERVER_CONNECTIONS, PgBouncer, pgbouncer_fixture  # noqa: F401
from tests.reminders.conftest import Clock, add_rule, engine_for
from tests.smtp import Sink
from tests.tasks.test_routes import undo_fields
from tests.test_cli import run

HX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}
CONCURRENT = 50


@pytest.fixture
def bounced(pgbouncer: PgBouncer, settings: Settings, database_url: str) -> Settings:
    """The test settings with DATABASE_URL through the bouncer, DB_PGBOUNCER on, and a pool
    larger than the bouncer's server pool."""
    return replace(
        settings,
        database_url=pgbouncer.dsn("taskly_test"),
        database_direct_url=database_url,
        db_pgbouncer=True,
        db_pool_max=10,
    )


@pytest.fixture
async def app(make_app: AppFactory, bounced: Settings) -> Any:
    return await make_app(
        database_url=bounced.database_url,
        database_direct_url=bounced.database_direct_url,
        db_pgbouncer=True,
        db_pool_max=bounced.db_pool_max,
    )


async def hx_post(client: Any, token: str, path: str, form: dict[str, str]) -> Any:
    return await client.post(path, form=form, headers={**HX, "X-CSRF-Token": token})


async def titles_in_order(db: asyncpg.Connection, user_id: int, status: str) -> list[str]:
    rows = await db.fetch(
        "SELECT title FROM tasks WHERE user_id = $1 AND status = $2 AND deleted_at IS NULL "
        "ORDER BY position, id",
        user_id,
        status,
    )
    return [r["title"] for r in rows]


async def test_the_bouncer_lends_one_server_session_to_many_clients(pgbouncer):
    """What the other tests rely on: the fixture really pools transactions."""
    first = await asyncpg.connect(pgbouncer.dsn("taskly_test"), statement_cache_size=0)
    second = await asyncpg.connect(pgbouncer.dsn("taskly_test"), statement_cache_size=0)
    try:
        one = await first.fetchval("SELECT pg_backend_pid()")
        assert await second.fetchval("SELECT pg_backend_pid()") == one
    finally:
        await first.close()
        await second.close()


async def test_named_statements_break_through_transaction_pooling_but_not_with_db_pgbouncer(
    pgbouncer, bounced
):
    """The failure mode DB_PGBOUNCER exists for, made deterministic: a client prepares a
    statement on server session X, another client's transaction then holds X, and the first
    client's next use of its cached statement runs on another session."""
    dsn = pgbouncer.dsn("taskly_test")
    holder = await asyncpg.connect(dsn, statement_cache_size=0)
    plain = await asyncpg.connect(dsn)  # asyncpg's default: named, cached statements
    try:
        assert await plain.fetchval("SELECT $1::int + 1", 1) == 2
        async with holder.transaction():
            await holder.fetchval("SELECT 1")
            with pytest.raises(asyncpg.InvalidSQLStatementNameError):
                await plain.fetchval("SELECT $1::int + 1", 1)
    finally:
        await holder.close()
        await plain.close()

    pool = await create_pool(bounced, dsn)
    holder = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT $1::int + 1", 1) == 2
            async with holder.transaction():
                await holder.fetchval("SELECT 1")
                assert await conn.fetchval("SELECT $1::int + 1", 1) == 2
    finally:
        await holder.close()
        await pool.close()


async def test_without_db_pgbouncer_transaction_pooling_is_refused_at_start(
    make_app, bounced, database_url
):
    with pytest.raises(LifespanError, match=r"transaction pooling .* set DB_PGBOUNCER=true"):
        await make_app(database_url=bounced.database_url, db_pool_max=10)
    with pytest.raises(SettingsError, match="DB_PGBOUNCER=true"):
        await create_pool(replace(bounced, db_pgbouncer=False), bounced.database_url or "")
    # PostgreSQL itself, and the bouncer with DB_PGBOUNCER on, are not mistaken for it.
    direct = await create_pool(replace(bounced, db_pgbouncer=False), database_url)
    try:
        assert not await shares_server_sessions(direct)
    finally:
        await direct.close()


async def test_startup_parameters_follow_the_client_across_server_sessions(pgbouncer, bounced):
    """The pool's session settings (time zone UTC, application_name) are startup parameters
    PgBouncer tracks per client and sets on whichever server session it lends."""
    dsn = pgbouncer.dsn("taskly_test")
    pool = await create_pool(bounced, dsn)
    other = await asyncpg.connect(
        dsn, statement_cache_size=0, server_settings={"timezone": "Pacific/Auckland"}
    )
    shared = False
    try:
        for _ in range(5):
            mine = await pool.fetchrow(
                "SELECT pg_backend_pid() AS pid, current_setting('TimeZone') AS tz, "
                "current_setting('application_name') AS app"
            )
            theirs = await other.fetchrow(
                "SELECT pg_backend_pid() AS pid, current_setting('TimeZone') AS tz"
            )
            assert (mine["tz"], mine["app"]) == ("UTC", "taskly")
            assert theirs["tz"] == "Pacific/Auckland"
            shared = shared or mine["pid"] == theirs["pid"]
        assert shared  # the two clients really took turns on one server session
    finally:
        await other.close()
        await pool.close()


async def test_app_flows_through_the_bouncer_with_many_requests_at_once(app, db):
    ada, bob = app.test_client(), app.test_client()
    await asyncio.gather(sign_up(ada), sign_up(bob, email="bob@example.com", first_name="Bob"))
    # Log out and in again through the bouncer.
    assert (await post_form(bob, "/logout", {}, token_from="/")).status_code == 302
    assert (await bob.get("/")).status_code == 302
    assert (await log_in(bob, "bob@example.com")).status_code == 302
    ids = {r["email"]: r["id"] for r in await db.fetch("SELECT id, email FROM users ORDER BY id")}
    tokens = {"ada": await page_token(ada, "/"), "bob": await page_token(bob, "/")}

    # 50 creates at once from two accounts, with dashboards in between.
    def create(client: Any, who: str, n: int) -> Any:
        return hx_post(client, tokens[who], "/tasks", {"title": f"{who} {n:02d}"})

    answers = await asyncio.gather(
        *(create(ada, "ada", n) for n in range(CONCURRENT // 2)),
        *(create(bob, "bob", n) for n in range(CONCURRENT // 2)),
        *(client.get("/") for client in (ada, bob) for _ in range(5)),
    )
    assert [a.status_code for a in answers] == [200] * len(answers)
    pool = app.extensions[POOL_KEY]
    assert pool.get_size() > SERVER_CONNECTIONS  # more clients than server sessions
    for email, who in (("ada@example.com", "ada"), ("bob@example.com", "bob")):
        titles = await titles_in_order(db, ids[email], "todo")
        assert sorted(titles) == [f"{who} {n:02d}" for n in range(CONCURRENT // 2)]
        counts = await db.fetchrow("SELECT todo FROM task_counts WHERE user_id = $1", ids[email])
        assert counts["todo"] == CONCURRENT // 2

    # Toggle many at once, then one more with its Undo.
    ada_tasks = {
        r["title"]: r["id"]
        for r in await db.fetch(
            "SELECT id, title FROM tasks WHERE user_id = $1", ids["ada@example.com"]
        )
    }
    toggled = await asyncio.gather(
        *(
            hx_post(
                ada, tokens["ada"], f"/tasks/{ada_tasks[f'ada {n:02d}']}/status", {"status": "done"}
            )
            for n in range(10)
        )
    )
    assert [a.status_code for a in toggled] == [200] * 10
    assert len(await titles_in_order(db, ids["ada@example.com"], "done")) == 10
    target = ada_tasks["ada 20"]
    answer = await hx_post(ada, tokens["ada"], f"/tasks/{target}/status", {"status": "doing"})
    assert answer.status_code == 200
    assert await titles_in_order(db, ids["ada@example.com"], "doing") == ["ada 20"]
    undo = await hx_post(
        ada,
        tokens["ada"],
        f"/tasks/{target}/restore",
        undo_fields(await answer.get_data(as_text=True)),
    )
    assert undo.status_code == 200
    assert await titles_in_order(db, ids["ada@example.com"], "doing") == []

    # Drag and drop to the top of To do, and its Undo.
    bottom = (await titles_in_order(db, ids["ada@example.com"], "todo"))[-1]
    moved = await hx_post(ada, tokens["ada"], f"/tasks/{ada_tasks[bottom]}/move", {"after": "top"})
    assert moved.status_code == 200
    assert (await titles_in_order(db, ids["ada@example.com"], "todo"))[0] == bottom
    await hx_post(
        ada,
        tokens["ada"],
        f"/tasks/{ada_tasks[bottom]}/restore",
        undo_fields(await moved.get_data(as_text=True)),
    )
    assert (await titles_in_order(db, ids["ada@example.com"], "todo"))[-1] == bottom

    # The dashboard shows what is stored.
    page = await (await ada.get("/")).get_data(as_text=True)
    assert 'id="count-done" class="bucket__count">10<' in page
    assert "bob 00" not in page and "ada 15" in page


async def test_a_reminder_tick_through_the_bouncer_while_requests_run(app, db, sink: Sink):
    client = app.test_client()
    await sign_up(client, time_zone="Europe/Berlin")
    await db.execute("DELETE FROM outbox WHERE template = 'verify_email'")
    token = await page_token(client, "/")
    await hx_post(client, token, "/tasks", {"title": "Call the plumber"})
    task_id = await db.fetchval("SELECT id FROM tasks WHERE title = 'Call the plumber'")
    now = datetime.now(UTC).replace(microsecond=0)
    rule = await add_rule(db, task_id, now - timedelta(seconds=30))
    engine = engine_for(app, sink, Clock(now))

    sent, *answers = await asyncio.gather(
        engine.tick(),
        *(hx_post(client, token, "/tasks", {"title": f"busy {n}"}) for n in range(20)),
    )
    assert sent == 1
    assert [a.status_code for a in answers] == [200] * 20
    assert [m["Subject"] for m in sink.messages] == ["Reminder: Call the plumber"]
    delivered = await db.fetchval(
        "SELECT count(*) FROM deliveries WHERE reminder_id = $1 AND state = 'sent'", rule
    )
    assert delivered == 1
    assert await engine.tick() == 0  # claimed and recorded once: nothing left to send


async def test_migrate_goes_to_database_direct_url(postgres: PostgresServer, pgbouncer, tmp_path):
    direct = await postgres.create_database()
    name = urlsplit(direct).path.lstrip("/")
    env = {
        "TASKLY_ENV": "test",
        "TASKLY_DATA_DIR": str(tmp_path),
        "DB_PGBOUNCER": "true",
        "DATABASE_URL": pgbouncer.dsn(name),
    }
    refused = run("migrate", **env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "taskly: DB_PGBOUNCER=true needs DATABASE_DIRECT_URL: a DSN that reaches PostgreSQL "
        "itself (or a session-mode pool), for migrations"
    ]
    done = run("migrate", **env, DATABASE_DIRECT_URL=direct)
    assert done.returncode == 0, done.stderr
    conn = await asyncpg.connect(direct)
    try:
        versions = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert versions == len(load_migrations())
        locks = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert locks == 0
    finally:
        await conn.close()


def test_settings_read_db_pgbouncer_and_database_direct_url():
    base = {"TASKLY_ENV": "test", "SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://b/x"}
    settings = Settings.from_env(base)
    assert (settings.db_pgbouncer, settings.database_direct_url) == (False, None)
    settings = Settings.from_env(
        {**base, "DB_PGBOUNCER": "on", "DATABASE_DIRECT_URL": "postgresql://pg/x"}
    )
    assert (settings.db_pgbouncer, settings.database_direct_url) == (True, "postgresql://pg/x")
    with pytest.raises(SettingsError, match="DB_PGBOUNCER must be true or false"):
        Settings.from_env({**base, "DB_PGBOUNCER": "maybe"})
    with pytest.raises(SettingsError, match="DB_PGBOUNCER=true needs DATABASE_DIRECT_URL"):
        Settings.from_env({**base, "DB_PGBOUNCER": "true"})
