"""Reminder benchmark.

1. Seeds N due reminders (default 10,000) and measures how long one engine instance takes to
   deliver them all to a local aiosmtpd sink (target: 30 s or less).
2. Adds 1,000,000 future reminders and prints EXPLAIN (ANALYZE) of the claim query, to show
   that claiming due rows uses the partial index rather than scanning the table, with the
   plan made for the values, the generic plan a prepared statement may keep, and the plan a
   connection keeps after ten runs (PostgreSQL's own choice between the two).

    python bench/reminders.py [--due 10000] [--future 1000000]

Uses an embedded PostgreSQL (or $DATABASE_URL) and an in-process aiosmtpd server.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from board import free_port, start_database

from taskly.db import create_pool, queries
from taskly.mail import SmtpConfig
from taskly.migrations import migrate
from taskly.reminders.engine import ReminderEngine
from taskly.settings import Settings

# The sink runs in its own process, as a real mail server would: sharing this process's GIL
# would make the engine look slower than it is. It prints its counts when stopped.
SINK = r"""
import signal, sys, threading
from aiosmtpd.controller import Controller
class Sink:
    count = 0
    ids = set()
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                Sink.ids.add(line)
                break
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
controller.stop()
print(Sink.count, len(Sink.ids), flush=True)
"""


async def seed(conn: asyncpg.Connection, due: int) -> None:
    user_id = await conn.fetchval(
        "INSERT INTO users (email, email_key, first_name, last_name, password_hash, time_zone,"
        " email_verified_at) VALUES ('bench@example.com', 'bench@example.com', 'Bench', 'Mark',"
        " 'x', 'Europe/Berlin', now()) RETURNING id"
    )
    await conn.execute(
        "INSERT INTO tasks (user_id, title, notes, due_at, position)"
        " SELECT $1, 'Reminder bench task ' || g, 'Some notes', now() + interval '1 day', g"
        " FROM generate_series(1, $2) g",
        user_id,
        due,
    )
    await conn.execute(
        "INSERT INTO reminders (user_id, task_id, kind, repeat, repeat_time, next_fire_at)"
        " SELECT user_id, id, 'repeat', 'daily', '09:00', now() - interval '1 minute'"
        " FROM tasks WHERE user_id = $1",
        user_id,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--future", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="taskly-bench-reminders-"))
    dsn = start_database(workdir, "taskly_bench_reminders")
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await seed(conn, args.due)

    port = free_port()
    sink = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [sys.executable, "-c", SINK, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None
    assert sink.stdout.readline().strip() == "ready"
    smtp_url = f"smtp+insecure://127.0.0.1:{port}"
    settings = replace(
        Settings(),
        database_url=dsn,
        smtp_url=smtp_url,
        reminder_batch=args.batch,
        base_url="https://tasks.example",
        mail_daily_limit=0,  # one account receives them all: measure the engine, not the cap
    )
    pool = await create_pool(settings, dsn)
    engine = ReminderEngine(settings, pool, SmtpConfig.from_url(smtp_url))
    started = time.perf_counter()
    sent = await engine.tick()
    elapsed = time.perf_counter() - started
    await pool.close()
    sink.terminate()
    received, unique = sink.communicate(timeout=30)[0].split()
    print(
        f"delivered {sent} reminders in {elapsed:.1f} s ({sent / elapsed:.0f}/s), one instance,"
        f" batch {args.batch}; sink received {received}, unique Message-IDs {unique}"
    )

    print(f"\nadding {args.future:,} future reminders ...")
    user_id = await conn.fetchval("SELECT id FROM users LIMIT 1")
    task_id = await conn.fetchval("SELECT min(id) FROM tasks")
    await conn.execute(
        "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at)"
        " SELECT $1, $2, 'at', now() + g * interval '1 second', now() + g * interval '1 second'"
        " FROM generate_series(1, $3) g",
        user_id,
        task_id,
        args.future,
    )
    await conn.execute("ANALYZE reminders")
    # Ten of them due now, among the million.
    await conn.execute(
        "UPDATE reminders SET next_fire_at = now() - interval '1 second'"
        " WHERE id IN (SELECT id FROM reminders WHERE state = 'active' LIMIT 10)"
    )
    # The engine's own claim statement, as aiosql prepared it ($1 now, $2 batch, $3 worker,
    # $4 lease seconds), each run in a transaction that is rolled back: the plan made for these
    # values, the generic one PostgreSQL may keep for a prepared statement from its sixth run
    # (asyncpg prepares each statement once per connection), and PostgreSQL's own choice.
    total = await conn.fetchval("SELECT count(*) FROM reminders")
    now = datetime.now(UTC)
    await conn.execute("PREPARE claim AS " + queries.claim_due_reminders.sql)
    execute = f"EXECUTE claim('{now.isoformat()}', 200, 'bench', 120.0)"
    for mode in ("force_custom_plan", "force_generic_plan", "auto"):
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
        if mode == "auto":  # what the engine's connections do: choose after five runs
            for _ in range(10):
                await conn.execute(execute)
        plan = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + execute)
        await transaction.rollback()
        print(f"EXPLAIN ANALYZE of the claim query ({mode}), {total:,} reminders in the table:")
        for row in plan:
            print("   ", row[0])
    await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
