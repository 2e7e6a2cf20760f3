"""Where a fragment's PostgreSQL time goes (issue #14, item 1): the CPU of the whole cluster
(every process, /proc) per statement, each run N times in autocommit on one connection, as
a fragment runs it, for a user with 200 tasks:

  mini insert     floor.py's `mini`: one INSERT into a table with a primary key and one index
  create          insert-task, as the create fragment runs it (indexes, count and live triggers)
    - no live     the same with the live board's triggers off (change numbers, NOTIFY)
    - no counts   the same with the bucket-count triggers off as well
  stats           select-stats: the stats strip and bucket totals (a second statement today)
  toggle          update-task-status To do <-> Done, as the toggle fragment runs it
  select 1        a round trip that does nothing: what any statement costs

The triggers are switched off only in this throwaway database, to weigh them.

    python bench/pg_cost.py [--n 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from board import seed_tasks
from click_cost import cpu_seconds
from page_weight import fresh_database, start_cluster

from taskly.auth.model import hash_password
from taskly.db import queries
from taskly.migrations import migrate
from taskly.tasks.stats import MEDIAN_SAMPLE

LIVE = "live_tasks_insert, live_tasks_update"
COUNTS = "task_counts_insert, task_counts_update"


async def set_triggers(conn: asyncpg.Connection, enable: bool, names: str) -> None:
    """Switch the tasks triggers `names` (LIVE or COUNTS) on or off; throwaway databases only."""
    verb = "ENABLE" if enable else "DISABLE"
    for name in names.split(", "):
        await conn.execute(f"ALTER TABLE tasks {verb} TRIGGER {name}")


async def main(n: int, rounds: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="taskly-pg-cost-"))
    cluster = start_cluster(workdir)
    postmaster = cluster.get_pid()  # type: ignore[attr-defined]
    dsn = fresh_database(cluster, "taskly_pg_cost")
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.execute(
        "INSERT INTO users (email, email_key, password_hash, first_name, last_name, time_zone,"
        " email_verified_at) VALUES ('b@example.com', 'b@example.com', $1, 'Bench', 'User',"
        " 'Europe/Berlin', now())",
        await hash_password("a long bench password"),
    )
    await seed_tasks(dsn, 200)
    user_id = await conn.fetchval("SELECT max(id) FROM users")
    toggled = await conn.fetchval(
        "SELECT id FROM tasks WHERE user_id = $1 AND status = 'todo' LIMIT 1", user_id
    )
    await conn.execute(
        "CREATE TABLE cards (id bigserial PRIMARY KEY, user_id bigint, title text,"
        " created_at timestamptz DEFAULT now()); CREATE INDEX cards_user ON cards (user_id)"
    )
    now = datetime.now(UTC)
    week_start = now - timedelta(days=now.weekday())
    flip = {"status": "todo"}

    async def create() -> None:
        await queries.insert_task(
            conn,
            user_id=user_id,
            title="Bench task !high due:tomorrow",
            notes="",
            priority=3,
            due_at=now + timedelta(days=1),
            due_all_day=False,
            submission=uuid.uuid4(),
        )

    async def mini() -> None:
        await conn.fetchrow(
            "INSERT INTO cards (user_id, title) VALUES ($1, $2) RETURNING *", 1, "Buy milk"
        )

    async def stats() -> None:
        await queries.select_stats(
            conn, user_id=user_id, now=now, week_start=week_start, median_sample=MEDIAN_SAMPLE
        )

    async def toggle() -> None:
        flip["status"] = "done" if flip["status"] == "todo" else "todo"
        await queries.update_task_status(conn, id=toggled, user_id=user_id, status=flip["status"])

    async def select_1() -> None:
        await conn.fetchval("SELECT 1")

    cases: list[tuple[str, Callable[[], Awaitable[None]], list[str]]] = [
        ("select 1", select_1, []),
        ("mini insert", mini, []),
        ("create", create, []),
        ("- no live", create, [LIVE]),
        ("- no counts", create, [LIVE, COUNTS]),
        ("stats", stats, []),
        ("toggle", toggle, []),
    ]
    results: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, run, off in cases:
            for names in off:
                await set_triggers(conn, False, names)
            for _ in range(200):  # warm: plans cached, pages in memory
                await run()
            await conn.execute("VACUUM (ANALYZE) tasks, cards")
            before = cpu_seconds(postmaster)
            for _ in range(n):
                await run()
            results.setdefault(label, []).append((cpu_seconds(postmaster) - before) * 1000 / n)
            for names in off:
                await set_triggers(conn, True, names)
            await conn.execute("DELETE FROM tasks WHERE title LIKE 'Bench task%'")
    await conn.close()
    print(f"PostgreSQL CPU per statement (ms, whole cluster), median of {rounds} x {n}:")
    base = statistics.median(results["mini insert"])
    for label, _, _ in cases:
        value = statistics.median(results[label])
        spread = ", ".join(f"{v:.3f}" for v in results[label])
        print(f"  {label:<12} {value:6.3f}  ({value / base:4.1f}x mini insert)  [{spread}]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds))
