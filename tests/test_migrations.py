"""Migrations: apply to an empty database, are idempotent, serialise concurrent runs, and refuse
a database that is ahead of the code or whose applied migrations were edited."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace

import asyncpg
import pytest
from quart.testing.app import LifespanError

from taskly import create_app
from taskly.migrations import Migration, MigrationError, load_migrations, migrate


async def connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


async def test_apply_to_an_empty_database_then_nothing_to_do(postgres):
    conn = await connect(await postgres.create_database())
    try:
        applied = await migrate(conn)
        names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
        assert applied == names
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"users", "sessions", "schema_migrations", "rate_limits"} <= tables
        assert await migrate(conn) == []
        versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in versions] == [m.version for m in load_migrations()]
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(postgres):
    conn = await connect(await postgres.create_database())
    known = [*load_migrations()]
    broken = Migration(len(known) + 1, "broken", "CREATE TABLE half (id int); SELECT 1/0;")
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate(conn, [*known, broken])
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == len(known)
        # The lock was released: another run can proceed.
        assert await migrate(conn, known) == []
    finally:
        await conn.close()


async def test_concurrent_runs_take_turns(postgres):
    dsn = await postgres.create_database()
    known = load_migrations()
    slow = Migration(len(known) + 1, "slow", "SELECT pg_sleep(0.3); CREATE TABLE slow (id int);")
    a, b = await connect(dsn), await connect(dsn)
    try:
        results = await asyncio.gather(migrate(a, [*known, slow]), migrate(b, [*known, slow]))
        applied = sorted(results, key=len)
        assert applied[0] == []  # the second waited for the lock, then found nothing to do
        assert len(applied[1]) == len(known) + 1
        assert await a.fetchval("SELECT count(*) FROM schema_migrations") == len(known) + 1
    finally:
        await a.close()
        await b.close()


async def test_two_migrate_processes_do_not_collide(postgres):
    dsn = await postgres.create_database()
    env = {**os.environ, "DATABASE_URL": dsn, "TASKLY_ENV": "development"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "taskly",
            "migrate",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    conn = await connect(dsn)
    try:
        rows = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert rows == len(load_migrations())
    finally:
        await conn.close()


async def test_database_ahead_of_the_code_is_refused(postgres):
    conn = await connect(await postgres.create_database())
    try:
        await migrate(conn)
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="schema version 999 but this Taskly knows only"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_an_edited_migration_is_refused(postgres):
    conn = await connect(await postgres.create_database())
    try:
        await migrate(conn)
        first = load_migrations()[0]
        edited = Migration(first.version, first.name, first.sql + "\n-- edited")
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            await migrate(conn, [edited, *load_migrations()[1:]])
    finally:
        await conn.close()


async def test_serving_refuses_a_database_behind_or_ahead(postgres, settings):
    dsn = await postgres.create_database()
    app = create_app(replace(settings, database_url=dsn))
    with pytest.raises(LifespanError, match=r"schema is behind .*run `taskly migrate`"):
        await app.test_app().startup()
    conn = await connect(dsn)
    try:
        await migrate(conn)
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')"
        )
    finally:
        await conn.close()
    app = create_app(replace(settings, database_url=dsn))
    with pytest.raises(LifespanError, match="migrated by a newer release"):
        await app.test_app().startup()


async def test_0011_keeps_sent_mail_as_sent_email_deliveries(postgres):
    """Issue #12: deliveries became per-channel jobs. Mail sent before the upgrade stays a sent
    email delivery with its Message-ID, and still blocks a second fan-out of its occurrence."""
    conn = await connect(await postgres.create_database())
    known = load_migrations()
    before = [m for m in known if m.version < 11]
    try:
        await migrate(conn, before)
        user_id = await conn.fetchval(
            "INSERT INTO users (email, email_key, first_name, last_name, password_hash)"
            " VALUES ('a@example.com', 'a@example.com', 'A', 'B', 'x') RETURNING id"
        )
        task_id = await conn.fetchval(
            "INSERT INTO tasks (user_id, title, position) VALUES ($1, 'T', 1) RETURNING id",
            user_id,
        )
        reminder_id = await conn.fetchval(
            "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at)"
            " VALUES ($1, $2, 'at', now(), NULL) RETURNING id",
            user_id,
            task_id,
        )
        sent_at = await conn.fetchval(
            "INSERT INTO deliveries (reminder_id, task_id, user_id, occurrence_at, message_id)"
            " VALUES ($1, $2, $3, '2026-12-01 09:00Z', '<reminder-1@x>') RETURNING sent_at",
            reminder_id,
            task_id,
            user_id,
        )
        assert [m.split("_", 1)[0] for m in await migrate(conn, known)] == [
            f"{m.version:04d}" for m in known if m.version >= 11
        ]
        row = await conn.fetchrow("SELECT * FROM deliveries")
        assert (row["channel"], row["state"], row["message_id"]) == (
            "email",
            "sent",
            "<reminder-1@x>",
        )
        assert row["created_at"] == row["sent_at"] == sent_at and row["attempts"] == 0
        assert await conn.fetchval("SELECT by_email FROM reminders") is True
        again = await conn.execute(
            "INSERT INTO deliveries (reminder_id, task_id, user_id, occurrence_at, channel,"
            " message_id, retry_at) VALUES ($1, $2, $3, '2026-12-01 09:00Z', 'email',"
            " '<reminder-1-again@x>', now()) ON CONFLICT DO NOTHING",
            reminder_id,
            task_id,
            user_id,
        )
        assert again == "INSERT 0 0"
    finally:
        await conn.close()
