"""PostgreSQL goes away under load (a fast shutdown, then an immediate one, which is a crash
followed by recovery) and comes back.

While it is down every request answers quickly with 503 (never 500, never a traceback in the
log); once it is back requests succeed again at once; and nothing is half-written: every task
whose create answered 200 exists, and the bucket counts kept by triggers match the tasks."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass

import asyncpg

from tests.faults.helpers import Browser, logged_in
from tests.faults.services import Launcher, Postgres

SERVER = {
    "DB_ACQUIRE_TIMEOUT": "3",
    "DB_COMMAND_TIMEOUT": "5",
    "DB_CONNECT_TIMEOUT": "2",
    "SCHEDULER_ENABLED": "false",  # only requests touch the database: the log is theirs
}
CLIENTS = 4
DOWN_FOR = 10.0
FAST_503 = 6.0  # well under DB_ACQUIRE_TIMEOUT + DB_COMMAND_TIMEOUT
BACK_WITHIN = 2.0
ALLOWED = {200, 302, 303, 503}
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ [A-Z]+ ([\w.]+): ")
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)\w*):")


@dataclass(frozen=True, slots=True)
class Outcome:
    what: str
    status: int  # 0: no HTTP answer at all
    seconds: float
    title: str | None = None


def tracebacks(lines: list[str]) -> list[int]:
    """Where tracebacks start in a server log, leaving out asyncpg's own retries of its pool
    floor (a library warning while the server is down, not a failed request)."""
    found: list[int] = []
    logger = ""
    for index, line in enumerate(lines):
        if record := LOG_RECORD.match(line):
            logger = record[1]
        elif line.startswith("Traceback") and logger != "asyncpg.pool":
            found.append(index)
    return found


def keep_using(browser: Browser, name: str, stop: threading.Event, log: list[Outcome]) -> None:
    """Load the board and add a task, over and over, until told to stop."""
    n = 0
    while not stop.is_set():
        n += 1
        title = f"{name} task {n}"
        for what, call in (
            ("GET /", lambda: browser.request("GET", "/", timeout=15)),
            ("POST /tasks", lambda t=title: browser.add_task(t, timeout=15)),
        ):
            started = time.monotonic()
            try:
                reply = call()
            except OSError as exc:  # includes timeouts: no answer is a failure too
                log.append(Outcome(f"{what} ({exc!r})", 0, time.monotonic() - started))
                continue
            posted = title if what == "POST /tasks" else None
            log.append(Outcome(what, reply.status, reply.seconds, posted))
        time.sleep(0.05)


async def back_within(browser: Browser, limit: float) -> None:
    """The board answers 200 again within `limit` seconds."""
    started = time.monotonic()
    while True:
        reply = await asyncio.to_thread(browser.request, "GET", "/", None, None, 5.0)
        elapsed = time.monotonic() - started
        if reply.status == 200:
            return
        assert elapsed < limit, f"still {reply.status} {elapsed:.1f} s after PostgreSQL was back"
        await asyncio.sleep(0.05)


async def test_database_outage_answers_503_and_writes_nothing_by_halves(
    launcher: Launcher, pg: Postgres, dsn: str
) -> None:
    server = launcher.serve(**SERVER)
    await launcher.ready(server)
    assert server.url is not None
    conn = await asyncpg.connect(dsn)
    try:
        browsers = [await logged_in(conn, server.url, f"c{n}@example.com") for n in range(CLIENTS)]
        probe = await logged_in(conn, server.url, "probe@example.com")
    finally:
        await conn.close()

    stop = threading.Event()
    outcomes: list[Outcome] = []
    threads = [
        threading.Thread(target=keep_using, args=(b, f"c{n}", stop, outcomes), daemon=True)
        for n, b in enumerate(browsers)
    ]
    for thread in threads:
        thread.start()
    try:
        await asyncio.sleep(2)
        for mode in ("fast", "immediate"):
            await asyncio.to_thread(pg.stop, mode)
            await asyncio.sleep(DOWN_FOR)
            await asyncio.to_thread(pg.start)
            await back_within(probe, BACK_WITHIN)
            await asyncio.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            await asyncio.to_thread(thread.join, 20)

    statuses = Counter(o.status for o in outcomes)
    wrong = [o for o in outcomes if o.status not in ALLOWED]
    raised = Counter(m[1] for m in map(EXCEPTION_LINE.match, server.output().splitlines()) if m)
    assert wrong == [], (
        f"answers other than 200/302/303/503 ({dict(statuses)}); exceptions in the server log:"
        f" {dict(raised)}; first: {wrong[:3]}"
    )
    assert statuses[503] > 0, "no request saw the outage: nothing was tested"
    slow = [o for o in outcomes if o.status == 503 and o.seconds >= FAST_503]
    assert slow == [], f"503s slower than {FAST_503} s: {slow[:5]}"
    lines = server.output().splitlines()
    found = tracebacks(lines)
    assert found == [], (
        f"{len(found)} tracebacks in the server log ({dict(raised)}); the first:\n"
        + "\n".join(lines[found[0] - 1 : found[0] + 40])
    )

    conn = await asyncpg.connect(dsn)
    try:
        stored = {row["title"] for row in await conn.fetch("SELECT title FROM tasks")}
        created = {o.title for o in outcomes if o.what == "POST /tasks" and o.status == 200}
        assert created - stored == set(), "tasks answered 200 but not stored"
        mismatched = await conn.fetch(
            """
            SELECT u.id, c.todo, c.doing, c.done, f.todo AS real_todo, f.doing AS real_doing,
                   f.done AS real_done
              FROM users u
              LEFT JOIN task_counts c ON c.user_id = u.id
              CROSS JOIN LATERAL (
                  SELECT count(*) FILTER (WHERE status = 'todo') AS todo,
                         count(*) FILTER (WHERE status = 'doing') AS doing,
                         count(*) FILTER (WHERE status = 'done') AS done
                    FROM tasks t WHERE t.user_id = u.id AND t.deleted_at IS NULL
              ) f
             WHERE (coalesce(c.todo, 0), coalesce(c.doing, 0), coalesce(c.done, 0))
                   <> (f.todo, f.doing, f.done)
            """
        )
        assert mismatched == [], f"task_counts differ from the tasks: {mismatched}"
    finally:
        await conn.close()
