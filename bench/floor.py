"""The serving stack's floor: what Quart on Hypercorn (uvloop workers) and asyncpg manage on this
machine with no Taskly code at all, so the board figures can be read against it.

Serves a throwaway app with four endpoints and drives each with wrk at concurrency 32:
  const  returns a constant <li>          (HTTP + Quart, nothing else)
  q1     one `SELECT 1` from a pool       (+ one database round trip)
  q3     three `SELECT n` on one connection (a fragment's round trips: session, change, counts)
  mini   the least a "create task" fragment can do: quart-auth's signed cookie (no session
         table), a CSRF HMAC check, form parsing, one INSERT ... RETURNING (committed), and a
         small Jinja card; no stats, no request log, no security headers

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

from board import free_port, run_wrk, start_database

APP = textwrap.dedent(
    """
    import hashlib
    import hmac
    import os

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="taskly-floor-"))
    (workdir / "floorapp.py").write_text(APP)
    dsn = start_database(workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hypercorn", "--workers", str(args.workers)]
    command += ["--worker-class", "uvloop", "--bind", f"127.0.0.1:{port}", "floorapp:app"]
    server = subprocess.Popen(command, cwd=workdir, env={**os.environ, "DATABASE_URL": dsn})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/const", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("hypercorn did not start") from None
                time.sleep(0.2)
        print(f"hypercorn --workers {args.workers} (uvloop); {os.cpu_count()} CPUs; wrk c=32\n")
        print(f"{'endpoint':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            token = response.read().decode()
            cookie = response.headers["Set-Cookie"].split(";")[0]
        headers = [f"Cookie: {cookie}", f"X-CSRF-Token: {token}"]
        headers.append("Content-Type: application/x-www-form-urlencoded")
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
