"""The per-request plumbing, before and after issue #14's cheap wins, in one process: the CPU
(time.process_time, so other processes' load moves it little) of

  query    one aiosql query on a pooled connection: aiosql's own pool-or-connection check
           (`"acquire" in dir(conn)`) against taskly.db's (by type); the round trip's client
           side is in both
  headers  taskly.web._finish_response on a fragment's response (its log line off): seven
           header assignments (the code before) against ready-made tuples and one extend()
  log      the request log line through a text handler into a file: Logger.info() (the code
           before, which looks up the caller's file and line) against taskly.logs.log_request

A fragment does three queries, one header pass and one log line. A fragment's whole cost is
1-3 ms of CPU on this machine, so what these save (tens of µs) is below what bench/
fragment_cost.py can resolve on a shared machine; this is where it can be seen.

    python bench/plumbing.py [--n 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiosql.adapters.asyncpg as aiosql_asyncpg
import asyncpg
from page_weight import start_cluster
from quart import g
from werkzeug.wrappers import Response

from taskly import create_app, web
from taskly.db import queries
from taskly.logs import log_request, logged_path
from taskly.settings import Settings

PATH = "/tasks/12/status"


class AiosqlCheck(aiosql_asyncpg.MaybeAcquire):
    """aiosql 15's own __aenter__, as shipped (taskly.db replaces the module's class)."""

    async def __aenter__(self) -> object:
        if "acquire" in dir(self.client):
            self._managed_conn = await self.client.acquire()
            return self._managed_conn
        self._managed_conn = None
        return self.client


async def finish_before(response: Response) -> Response:
    """taskly.web._finish_response before the change (its log line is switched off here)."""
    from quart import request

    headers = response.headers
    headers.setdefault("Content-Security-Policy", web.CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("X-Frame-Options", "DENY")
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if web.settings().production:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    headers["X-Request-ID"] = g.get("request_id", "-")
    log_request(response.status_code)
    return response


def log_before(status: int) -> None:
    """taskly.logs.log_request before the change."""
    from quart import request

    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else 0.0
    request_id = g.get("request_id", "-")
    path = logged_path()
    logging.getLogger("taskly.request").info(
        "%s %s %s %sms %s",
        request.method,
        path,
        status,
        duration_ms,
        request_id,
        extra={
            "method": request.method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
        },
    )


async def cpu_us(action: Callable[[], Awaitable[None]], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        await action()
    return (time.process_time() - started) * 1e6 / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="taskly-plumbing-"))
    cluster = start_cluster(workdir)
    dsn = str(cluster.get_uri("postgres"))  # type: ignore[attr-defined]
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    ours = aiosql_asyncpg.MaybeAcquire

    handler = logging.FileHandler(workdir / "requests.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)

    app = create_app(replace(Settings(), database_url=dsn, env="test"))
    results: dict[str, dict[str, list[float]]] = {}
    async with pool.acquire() as conn, app.test_request_context(PATH, method="POST"):
        g.request_id = "0123456789abcdef0123456789abcdef"
        g.started = time.perf_counter()

        async def query() -> None:
            await queries.backend_pid(conn)

        async def headers_new() -> None:
            await web._finish_response(Response("<li>card</li>", headers={"Vary": "HX-Request"}))

        async def headers_old() -> None:
            await finish_before(Response("<li>card</li>", headers={"Vary": "HX-Request"}))

        async def log_new() -> None:
            log_request(200)

        async def log_old() -> None:
            log_before(200)

        def use(check: type) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                aiosql_asyncpg.MaybeAcquire = check  # type: ignore[misc,assignment]
                await query()

            return run

        cases = {
            "query": (use(AiosqlCheck), use(ours)),
            "headers": (headers_old, headers_new),
            "log": (log_old, log_new),
        }
        for name, (before, after) in cases.items():
            quiet = name == "headers"  # _finish_response logs too: measure headers alone
            logging.getLogger("taskly.request").disabled = quiet
            results[name] = {"before": [], "after": []}
            await before()
            await after()
            for _ in range(args.rounds):  # alternating, so drift hits both
                results[name]["before"].append(await cpu_us(before, args.n))
                results[name]["after"].append(await cpu_us(after, args.n))
            logging.getLogger("taskly.request").disabled = False
        aiosql_asyncpg.MaybeAcquire = ours  # type: ignore[misc]
    await pool.close()

    print(f"CPU µs per call, median of {args.rounds} rounds of {args.n:,} (process_time)\n")
    print(
        f"{'':<8} {'before':>8} {'after':>8} {'saved':>7} {'ratio':>6}  {'per fragment':<18}"
        "  rounds before | after"
    )
    per_fragment = {"query": 3, "headers": 1, "log": 1}
    total = 0.0
    for name, runs in results.items():
        before_us = statistics.median(runs["before"])
        after_us = statistics.median(runs["after"])
        saved = (before_us - after_us) * per_fragment[name]
        total += saved
        print(
            f"{name:<8} {before_us:>8.1f} {after_us:>8.1f} {before_us - after_us:>7.1f}"
            f" {after_us / before_us:>5.2f}×  {f'x{per_fragment[name]} = {saved:.0f} µs':<18}"
            f"  {' '.join(f'{v:.0f}' for v in runs['before'])} |"
            f" {' '.join(f'{v:.0f}' for v in runs['after'])}"
        )
    print(f"\nsaved per fragment (3 queries, 1 header pass, 1 log line): {total:.0f} µs CPU")


if __name__ == "__main__":
    asyncio.run(main())
