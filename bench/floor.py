"""The serving stack's floor: what Quart on Hypercorn (uvloop workers) and asyncpg manage on this
machine with no Taskly code at all, so the board figures can be read against it.

Serves a throwaway app with three endpoints and drives each with wrk at concurrency 32:
  const  returns a constant <li>          (HTTP + Quart, nothing else)
  q1     one `SELECT 1` from a pool       (+ one database round trip)
  q3     three `SELECT n` on one connection (a fragment's round trips: session, change, counts)

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
    import os
    import asyncpg
    from quart import Quart

    app = Quart(__name__)


    async def keep(connection):  # no RESET ALL round trip on release, as in Taskly
        return None


    @app.before_serving
    async def open_pool():
        app.pool = await asyncpg.create_pool(
            os.environ["DATABASE_URL"], min_size=2, max_size=10, reset=keep
        )


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
        print(f"{'endpoint':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for endpoint in ("const", "q1", "q3"):
            method = "GET" if endpoint == "const" else "POST"
            script = workdir / f"{endpoint}.lua"
            script.write_text(f'wrk.method = "{method}"\nwrk.path = "/{endpoint}"\n')
            result = run_wrk(base, script, [], 32, args.duration)
            print(
                f"{endpoint:<8} {result['rps']:>9.0f} {result['p50']:>8.2f} {result['p99']:>8.2f}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
