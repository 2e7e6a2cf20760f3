"""Several instances on one database (issue #14, item 5): one, two and three `taskly serve`
processes (each `--workers 2`) on one PostgreSQL, the fragments (create, toggle, move,
edit-save) driven at concurrency 32 spread round-robin over the instances' ports on the client
side (one wrk per instance, the 32 connections split between them), and, with --pgbouncer,
the same again through a PgBouncer in transaction mode (DB_PGBOUNCER=true).

For each configuration and fragment: aggregate requests/s (the sum of the wrks'), p99 (the
largest of the wrks' p99s: no instance's clients do worse), non-2xx answers, the ratio of
requests/s to one instance's in the same run, and where the CPU went: cores used by the
serve processes, by PostgreSQL (every process of the cluster) and by wrk, and how busy the
whole machine was (/proc/stat; other work on a shared machine counts there too).

Each instance slot has its own user (signed up through the forms, 200 seeded tasks, as
bench/board.py does), so no two wrks touch the same task; edit-save posts each task's
current version (read from the database before the run) and counts up as it saves (after a
409, from the version the answer shows: a save wrk timed out on may still land after a later
one; such 409s are counted as non-2xx). Tasks
created by a run are removed before the next, and VACUUM ANALYZE runs between runs.

    python bench/instances.py [--instances 1 2 3] [--duration 10] [--pgbouncer]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from board import ROOT, free_port, lua_script, newest_user, run_wrk, seed_tasks, sign_up
from click_cost import cpu_seconds
from page_weight import fresh_database, serve, start_cluster

KINDS = ("create", "toggle", "move", "edit")
CONNECTIONS = 32
SECRET = "instances-bench-secret-key-0123456789abcdef"

HALVES = """
counter = 0
threads = 0
setup = function(thread)
  thread:set("half", threads % 2)
  threads = threads + 1
end
"""


def script(path: Path, kind: str, ids: list[int], versions: list[int], done: list[int]) -> None:
    """wrk's Lua for one fragment. Each of wrk's two threads walks its own half of `ids`, so
    no two requests in flight change the same task (as bench/board.py's toggle does)."""
    if kind in ("create", "toggle"):
        lua_script(path, kind, ids, done)
        return
    table = ", ".join(map(str, ids))
    if kind == "move":  # Shift+K / Shift+J as board.js sends it, naming the neighbour:
        # `ids` holds pairs (a above b, adjacent in one bucket); each press swaps a pair.
        body = f"""
ids = {{{table}}}
{HALVES}
swapped = {{}}
request = function()
  counter = counter + 1
  local pair = (2 * counter + half) % math.floor(#ids / 2)
  local a, b = ids[2 * pair + 1], ids[2 * pair + 2]
  local direction = swapped[pair] and "down" or "up"
  swapped[pair] = not swapped[pair]
  local form = "direction=" .. direction .. "&neighbour=" .. a
  return wrk.format("POST", "/tasks/" .. b .. "/move", nil, form)
end"""
    elif kind == "move-list":  # the same keys without a neighbour: the bucket comes back
        body = f"""
ids = {{{table}}}
{HALVES}
request = function()
  counter = counter + 1
  local id = ids[(2 * counter + half) % #ids + 1]
  local direction = (counter % 2 == 0) and "up" or "down"
  return wrk.format("POST", "/tasks/" .. id .. "/move", nil, "direction=" .. direction)
end"""
    else:  # edit-save: the edit form's fields, with the version the task has now
        body = f"""
ids = {{{table}}}
versions = {{{", ".join(map(str, versions))}}}
{HALVES}
request = function()
  counter = counter + 1
  local i = (2 * counter + half) % #ids + 1
  local version = versions[i]
  versions[i] = version + 1
  local form = "version=" .. version .. "&title=Edited+task+" .. counter
    .. "&notes=Some+notes&due_date=2027-03-0" .. (counter % 9 + 1) .. "&due_time=09%3A30&priority="
    .. (counter % 3 + 1)
  return wrk.format("POST", "/tasks/" .. ids[i], nil, form)
end
-- A save that arrived after a later one (a request wrk gave up on is still served) finds the
-- task changed: the 409 form carries the version it has now; go on from there.
where = {{}}
for i, id in ipairs(ids) do where[id] = i end
response = function(status, headers, body)
  if status == 409 then
    local id = tonumber(body:match('action="/tasks/(%d+)"'))
    local version = tonumber(body:match('name="version" value="(%d+)"'))
    if id and version and where[id] then versions[where[id]] = version end
  end
end"""
    path.write_text(body)


async def user_tasks(dsn: str, user_id: int, kind: str) -> tuple[list[int], list[int], list[int]]:
    """The user's seeded tasks (an even number of them), their versions and the ones in Done:
    for toggles those in To do or Done (each flipped from where it is, so that runs after runs
    still find tasks to flip), else all 200, so that a task comes round again only after ~100
    requests of its wrk thread (two saves of one task in flight at once would make the second
    a 409)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, version, status FROM tasks WHERE user_id = $1 AND deleted_at IS NULL"
            " AND title NOT LIKE 'Bench task %' AND ($2 OR status <> 'doing')"
            " ORDER BY CASE WHEN $3 THEN status END, CASE WHEN $3 THEN position END, id"
            " LIMIT 200",
            user_id,
            kind != "toggle",
            kind == "move",
        )
        if kind == "move":  # neighbours in board order, paired (a, b), never across buckets
            pairs, i = [], 0
            while i + 1 < len(rows):
                if rows[i]["status"] == rows[i + 1]["status"]:
                    pairs += rows[i : i + 2]
                    i += 2
                else:
                    i += 1
            rows = pairs
        rows = rows[: len(rows) // 2 * 2]
        done = [r["id"] for r in rows if r["status"] == "done"]
        return [r["id"] for r in rows], [r["version"] for r in rows], done
    finally:
        await conn.close()


async def between_runs(dsn: str) -> None:
    """Wait for the requests wrk left in flight when it stopped (the server finishes them), so
    that versions are read after their changes; remove what create runs added; then what
    autovacuum would do (see board.settle)."""
    await asyncio.sleep(3)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM tasks WHERE title LIKE 'Bench task %'")
        await conn.execute("VACUUM (ANALYZE) tasks, task_counts, sessions")
    finally:
        await conn.close()


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


@dataclass
class Slot:
    """One instance: its port and process, and the user its wrk acts as."""

    port: int
    server: subprocess.Popen[bytes]
    user_id: int
    headers: list[str]


@dataclass
class Result:
    rps: float
    p99: float
    bad: int
    errors: str
    serve: float  # cores
    pg: float
    wrk: float
    busy: float  # fraction of the machine
    serve_ms: float  # CPU per request
    pg_ms: float
    wrk_ms: float


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def measure(
    slots: list[Slot], kind: str, seconds: int, workdir: Path, dsn: str, postmaster: int
) -> Result:
    asyncio.run(between_runs(dsn))
    runs: list[tuple[str, Path, list[str], int]] = []
    for n, (slot, conns) in enumerate(zip(slots, split(CONNECTIONS, len(slots)), strict=True)):
        ids, versions, done = asyncio.run(user_tasks(dsn, slot.user_id, kind))
        path = workdir / f"{kind}-{n}.lua"
        script(path, kind, ids, versions, done)
        runs.append((f"http://127.0.0.1:{slot.port}", path, slot.headers, conns))
    results: list[dict[str, Any]] = [{}] * len(runs)

    def drive(i: int) -> None:
        base, path, headers, conns = runs[i]
        results[i] = run_wrk(base, path, headers, conns, seconds, timeout=10)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(runs))]
    serve0 = sum(cpu_seconds(s.server.pid) for s in slots)
    pg0, wrk0, busy0, t0 = cpu_seconds(postmaster), os.times(), machine_busy(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - t0
    serve1 = sum(cpu_seconds(s.server.pid) for s in slots)
    pg1, wrk1, busy1 = cpu_seconds(postmaster), os.times(), machine_busy()
    wrk_cpu = (wrk1.children_user + wrk1.children_system) - (
        wrk0.children_user + wrk0.children_system
    )
    return Result(
        rps=sum(r["rps"] for r in results),
        p99=max(r["p99"] for r in results),
        bad=sum(r["bad"] for r in results),
        errors="; ".join(r["errors"] for r in results if r["errors"]),
        serve=(serve1 - serve0) / elapsed,
        pg=(pg1 - pg0) / elapsed,
        wrk=wrk_cpu / elapsed,
        busy=(busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        serve_ms=(serve1 - serve0) * 1000 / max(1, sum(r["requests"] for r in results)),
        pg_ms=(pg1 - pg0) * 1000 / max(1, sum(r["requests"] for r in results)),
        wrk_ms=wrk_cpu * 1000 / max(1, sum(r["requests"] for r in results)),
    )


def start_pgbouncer(
    cluster: object, workdir: Path, pool: int
) -> tuple[int, subprocess.Popen[bytes]]:
    """PgBouncer in transaction mode in front of the cluster, as tests/pgbouncer.py starts it."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    info = cluster.get_postmaster_info()  # type: ignore[attr-defined]
    host = str(info.socket_dir or info.hostname or "127.0.0.1")
    port = free_port()
    folder = workdir / "pgbouncer"
    folder.mkdir()
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        f"[databases]\n* = host={host} port={int(info.port or 5432)}\n\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\n"
        f"auth_file = {folder / 'userlist.txt'}\npool_mode = transaction\n"
        f"default_pool_size = {pool}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    user = ["-u", cluster.system_user or "nobody"] if os.geteuid() == 0 else []  # type: ignore[attr-defined]
    log = (folder / "pgbouncer.log").open("wb")
    process = subprocess.Popen([binary, *user, str(ini)], stdout=log, stderr=log)
    time.sleep(0.5)
    if process.poll() is not None:
        raise SystemExit(f"pgbouncer exited; see {folder / 'pgbouncer.log'}")
    return port, process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=(*KINDS, "move-list"))
    parser.add_argument("--pool", type=int, default=10, help="DB_POOL_MAX per worker")
    parser.add_argument(
        "--pgbouncer", action="store_true", help="also through PgBouncer (transaction mode)"
    )
    parser.add_argument("--bouncer-pool", type=int, default=20, help="its default_pool_size")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="taskly-instances-"))
    cluster = start_cluster(workdir)
    dsn = fresh_database(cluster, "taskly_instances")
    postmaster = cluster.get_pid()  # type: ignore[attr-defined]
    routes: list[tuple[str, str, dict[str, str]]] = [("direct", dsn, {})]
    bouncer = None
    if args.pgbouncer:
        port, bouncer = start_pgbouncer(cluster, workdir, args.bouncer_pool)
        pooled = f"postgresql://postgres@127.0.0.1:{port}/taskly_instances"
        routes.append(("pgbouncer", pooled, {"DB_PGBOUNCER": "true", "DATABASE_DIRECT_URL": dsn}))
    count = max(args.instances)
    servers: list[subprocess.Popen[bytes]] = []
    print(
        f"{os.cpu_count()} CPUs; each instance `taskly serve --workers 2`, DB_POOL_MAX"
        f" {args.pool}; wrk c={CONNECTIONS} split over the instances (socket timeout 10 s),"
        f" {args.duration} s per run;"
        f" {args.tasks} tasks per user\n"
    )
    try:
        for route, url, extra in routes:
            env = {"SECRET_KEY": SECRET, "DB_POOL_MAX": str(args.pool), **extra}
            slots: list[Slot] = []
            for n in range(count):
                port = free_port()
                server = serve(ROOT, url, port, workdir / f"{route}-{n}.log", 2, env)
                servers.append(server)
                cookie, token = sign_up(f"http://127.0.0.1:{port}")
                asyncio.run(seed_tasks(dsn, args.tasks))
                user_id = asyncio.run(newest_user(dsn))
                headers = [
                    f"Cookie: {cookie}",
                    f"X-CSRF-Token: {token}",
                    "HX-Request: true",
                    "Content-Type: application/x-www-form-urlencoded",
                ]
                slots.append(Slot(port, server, user_id, headers))
            print(f"[{route}]")
            print(
                f"{'inst':>4} {'fragment':<8} {'req/s':>8} {'ratio':>6} {'p99 ms':>8}"
                f" {'non-2xx':>7}  {'cores: serve':>12} {'pg':>5} {'wrk':>5} {'machine':>8}"
                f"  {'CPU ms/req: serve':>17} {'pg':>5}"
            )
            for kind in args.kinds:
                first: float | None = None
                for n in args.instances:
                    r = measure(slots[:n], kind, args.duration, workdir, dsn, postmaster)
                    first = first or r.rps
                    print(
                        f"{n:>4} {kind:<8} {r.rps:>8.0f} {r.rps / first:>5.2f}× {r.p99:>8.1f}"
                        f" {r.bad:>7}  {r.serve:>12.2f} {r.pg:>5.2f} {r.wrk:>5.2f}"
                        f" {r.busy:>7.0%}  {r.serve_ms:>17.2f}"
                        f" {r.pg_ms:>5.2f} {r.errors}",
                        flush=True,
                    )
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(timeout=30)
            servers.clear()
            print()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if bouncer is not None:
            bouncer.terminate()
            bouncer.wait(timeout=10)


if __name__ == "__main__":
    main()
