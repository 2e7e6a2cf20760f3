"""The serving stack's floor: what Quart on Hypercorn (uvloop workers) and asyncpg manage on this
machine with no Taskly code at all, so the board figures can be read against it.

Serves a throwaway app with four endpoints and drives each with wrk at concurrency 32:
  const  returns a constant <li>          (HTTP + Quart, nothing else)
  q1     one `SELECT 1` from a pool       (+ one database round trip)
  q3     three `SELECT n` on one connection (a fragment's round trips: session, change, counts)
  mini   the least a "create task" fragment can do: quart-auth's signed cookie (no session
         table), a CSRF HMAC check, form parsing, one INSERT ... RETURNING (committed), and a
         small Jinja card; no stats, no request log, no security headers

With TASKLY_SQL (the sql/queries folder) and TASKLY_USER (a user id) set, on a database that
Taskly's migrations made, the app also answers Taskly's create and toggle paths (`POST /tasks`,
`POST /tasks/<id>/status`) with mini's code but Taskly's statements on Taskly's schema: the
change (insert-task, update-task-status), then select-stats, in autocommit as the fragments run
them. That is what a fragment would cost if Taskly's Python were as cheap as mini's: the ceiling
its SQL (indexes, bucket counts, the live board's triggers, the stats strip) allows.
bench/fragments.py runs them; this script's own run does not (it makes no Taskly schema).

    python bench/floor.py [--workers 2] [--duration 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from board import ROOT, free_port, run_wrk, start_database

APP = textwrap.dedent(
    """
    import hashlib
    import hmac
    import os
    from datetime import UTC, datetime, timedelta

    import aiosql
    import asyncpg
    from jinja2 import Environment
    from quart import Quart, abort, request
    from quart_auth import AuthUser, QuartAuth, current_user, login_user

    app = Quart(__name__)
    app.secret_key = "floor-secret"
    app.config["QUART_AUTH_COOKIE_SECURE"] = False
    QuartAuth(app)
    CARD = Environment(autoescape=True).from_string(
        '<li id="task-{{ t.id }}" class="card"><h3>{{ t.title }}</h3>'
        '<time datetime="{{ t.created_at.isoformat() }}">new</time></li>'
    )
    STATS = Environment(autoescape=True).from_string(
        '<p id="stats" hx-swap-oob="true">{{ s.todo }} {{ s.doing }} {{ s.done }}'
        " {{ s.overdue }} {{ s.done_this_week }} {{ s.median_seconds_to_done }}</p>"
    )
    TASKLY = None
    if "TASKLY_SQL" in os.environ:
        TASKLY = aiosql.from_path(os.environ["TASKLY_SQL"], "asyncpg")


    def csrf(user_id):
        return hmac.new(b"floor-secret", f"csrf:{user_id}".encode(), hashlib.sha256).hexdigest()


    async def keep(connection):  # no RESET ALL round trip on release, as in Taskly
        return None


    @app.before_serving
    async def open_pool():
        app.pool = await asyncpg.create_pool(
            os.environ["DATABASE_URL"], min_size=2, max_size=10, reset=keep
        )
        # Both workers start at once: IF NOT EXISTS alone races (a duplicate pg_type row).
        async with app.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(1);"
                " CREATE TABLE IF NOT EXISTS cards (id bigserial PRIMARY KEY, user_id bigint,"
                " title text, created_at timestamptz DEFAULT now());"
                " CREATE INDEX IF NOT EXISTS cards_user ON cards (user_id)"
            )


    @app.get("/login")
    async def login():
        login_user(AuthUser("1"))
        return csrf("1")


    @app.post("/mini")
    async def mini():
        user = current_user.auth_id
        if user is None or not hmac.compare_digest(
            request.headers.get("X-CSRF-Token", ""), csrf(user)
        ):
            abort(403)
        title = (await request.form).get("title", "")
        async with app.pool.acquire() as conn:
            row = await conn.fetchrow(
                "INSERT INTO cards (user_id, title) VALUES ($1, $2) RETURNING *", int(user), title
            )
        return CARD.render(t=row)


    def checked_form_user():
        user = current_user.auth_id
        if TASKLY is None or user is None or not hmac.compare_digest(
            request.headers.get("X-CSRF-Token", ""), csrf(user)
        ):
            abort(403)
        return int(os.environ["TASKLY_USER"])


    async def with_stats(conn, owner, row):
        now = datetime.now(UTC)
        stats = await TASKLY.select_stats(
            conn, user_id=owner, now=now, week_start=now - timedelta(days=now.weekday()),
            median_sample=50,
        )
        return CARD.render(t=row) + STATS.render(s=stats)


    @app.post("/tasks")
    async def taskly_create():
        owner = checked_form_user()
        title = (await request.form).get("title", "")
        async with app.pool.acquire() as conn:
            row = await TASKLY.insert_task(
                conn, user_id=owner, title=title, notes="", priority=None, due_at=None,
                due_all_day=False, submission=None,
            )
            return await with_stats(conn, owner, row)


    @app.post("/tasks/<int:task_id>/status")
    async def taskly_toggle(task_id):
        owner = checked_form_user()
        status = (await request.form).get("status", "")
        async with app.pool.acquire() as conn:
            row = await TASKLY.update_task_status(conn, id=task_id, user_id=owner, status=status)
            if row is None:
                abort(409)
            return await with_stats(conn, owner, row)


    @app.get("/const")
    async def const():
        return "<li>ok</li>"


    @app.post("/q1")
    async def q1():
        async with app.pool.acquire() as conn:
            value = await conn.fetchval("SELECT 1")
        return f"<li>{value}</li>"


    @app.post("/q3")
    async def q3():
        async with app.pool.acquire() as conn:
            values = [await conn.fetchval(f"SELECT {n}") for n in (1, 2, 3)]
        return f"<li>{values}</li>"
    """
)


def start_floor(
    workdir: Path, dsn: str, user_id: int, workers: int
) -> tuple[subprocess.Popen[bytes], int, list[str]]:
    """The app on uvloop workers, with Taskly's SQL acting for `user_id` (on a database that
    Taskly's migrations made); its port and the headers of its one session, for wrk."""
    (workdir / "floorapp.py").write_text(APP)
    port = free_port()
    command = [sys.executable, "-m", "hypercorn", "--workers", str(workers)]
    command += ["--worker-class", "uvloop"]
    command += ["--bind", f"127.0.0.1:{port}", "floorapp:app"]
    sql = str(ROOT / "sql" / "queries")
    env = {**os.environ, "DATABASE_URL": dsn, "TASKLY_SQL": sql, "TASKLY_USER": str(user_id)}
    log = workdir / "floor.log"
    with log.open("wb") as errors:
        server = subprocess.Popen(command, cwd=workdir, env=env, stderr=errors)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1) as response:
                token = response.read().decode()
                cookie = response.headers["Set-Cookie"].split(";")[0]
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the floor app did not start:\n{log.read_text()}") from None
            time.sleep(0.2)
    headers = [f"Cookie: {cookie}", f"X-CSRF-Token: {token}"]
    return server, port, [*headers, "Content-Type: application/x-www-form-urlencoded"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="taskly-floor-"))
    dsn = start_database(workdir)
    server, port, headers = start_floor(workdir, dsn, 0, args.workers)  # no Taskly schema
    base = f"http://127.0.0.1:{port}"
    try:
        print(f"hypercorn --workers {args.workers} (uvloop); {os.cpu_count()} CPUs; wrk c=32\n")
        print(f"{'endpoint':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for endpoint in ("const", "q1", "q3", "mini"):
            method = "GET" if endpoint == "const" else "POST"
            script = workdir / f"{endpoint}.lua"
            body = 'wrk.body = "title=Buy+milk"\n' if endpoint == "mini" else ""
            script.write_text(f'wrk.method = "{method}"\nwrk.path = "/{endpoint}"\n{body}')
            result = run_wrk(base, script, headers, 32, args.duration)
            print(
                f"{endpoint:<8} {result['rps']:>9.0f} {result['p50']:>8.2f} {result['p99']:>8.2f}"
                f" {result['bad']:>8}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
