"""Live board benchmark (issue #13): 1,000 concurrent event streams on one
`taskly serve --workers 2`: memory per idle stream, and the latency from a change's COMMIT to
its event arriving at every stream of that user (p50/p99) while 100 changes a second are made.

Baselines from the same run: memory per idle HTTP keep-alive connection to the same server
(what any open connection costs), and the floor of the mechanism itself, COMMIT to NOTIFY
arriving at a plain asyncpg LISTEN connection in this process.

    python bench/live.py [--users 200] [--per-user 5] [--rate 100] [--seconds 20]

Two seconds of changes at the same rate warm the server up first and are not measured.

Targets: <= 50 KB per idle stream, p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import asyncpg
from accounts import rss_kib
from board import free_port, start_database, start_server
from click_cost import _stat, cpu_seconds, descendants

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from taskly.auth.model import hash_password
from taskly.migrations import migrate

PASSWORD = "bench password 123"
MARK = re.compile(r"live-bench-(\d+)-")


def login(port: int, email: str) -> str:
    """The session cookie of a real login (the form and its CSRF token)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    html = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)[1]  # type: ignore[index]
    form = {"csrf_token": token, "email": email, "password": PASSWORD}
    opener.open(f"{base}/login", urllib.parse.urlencode(form).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


class Streams:
    """Open event streams, as raw HTTP/1.0 connections (one per browser tab).

    A stream sends a card as it is when the stream gets to it: two changes to one task in
    quick succession arrive as one event with the later title. Each change counts as delivered
    to a stream when that stream receives its task in that state or a later one.

    Latency is counted from two moments: when the writer's COMMIT was answered (the change is
    committed by then; NOTIFY goes out at the same point, so an event may even arrive first,
    counted as 0), and, as an upper bound, from just before the UPDATE was sent, which adds the
    change's own execution and WAL flush."""

    def __init__(self) -> None:
        self.opened = 0
        self.arrivals: list[tuple[int, float]] = []  # (change, when a stream had it)
        self.committed: dict[int, tuple[float, int]] = {}  # change -> (UPDATE sent, task)
        self.answered: dict[int, float] = {}  # change -> its COMMIT answered
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, port: int, cookie: str, since: int, ready: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /live?since={since} HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head[:200]
        self.opened += 1
        ready.set()
        credited: dict[int, int] = {}  # task -> the newest change this stream has seen
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                arrived = time.monotonic()
                for match in MARK.finditer(line.decode()):
                    newest = int(match[1])
                    if newest not in self.committed:
                        continue
                    task = self.committed[newest][1]
                    for n in range(credited.get(task, 0) + 1, newest + 1):
                        sent = self.committed.get(n)
                        if sent is not None and sent[1] == task:
                            self.arrivals.append((n, arrived))
                    credited[task] = max(credited.get(task, 0), newest)
        finally:
            writer.close()


async def notify_floor(dsn: str, changes: int) -> list[float]:
    """COMMIT to NOTIFY at a plain LISTEN connection: the mechanism's own latency."""
    listener = await asyncpg.connect(dsn)
    writer = await asyncpg.connect(dsn)
    sent: dict[str, float] = {}
    got: list[float] = []
    done = asyncio.Event()

    def heard(_c: object, _p: int, _ch: str, payload: str) -> None:
        got.append(time.monotonic() - sent[payload])
        if len(got) == changes:
            done.set()

    await listener.add_listener("live_bench", heard)
    for n in range(changes):
        sent[str(n)] = time.monotonic()  # just before: the answer may come first
        await writer.execute("SELECT pg_notify('live_bench', $1)", str(n))
        await asyncio.sleep(0.01)
    await asyncio.wait_for(done.wait(), 30)
    await listener.close()
    await writer.close()
    return got


def parent(pid: int) -> int:
    return int(_stat(pid)[1])


def worker_rss(server: int) -> int:
    return sum(rss_kib(pid) for pid in descendants([server]) if pid != server)


async def idle_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    """`count` open keep-alive connections that each made one request (the baseline)."""
    writers = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
    return writers


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--rate", type=float, default=100.0, help="changes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--profile", type=Path, help="py-spy flame graphs of the workers while changes are made"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="taskly-live-bench-"))
    dsn = start_database(workdir, "taskly_live_bench")
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    digest = await hash_password(PASSWORD)
    users = []
    for n in range(args.users):
        email = f"live{n}@example.com"
        user_id = await conn.fetchval(
            "INSERT INTO users (email, email_key, password_hash, first_name, last_name,"
            " time_zone, email_verified_at) VALUES ($1, $1, $2, 'Live', 'Bench', 'UTC', now())"
            " RETURNING id",
            email,
            digest,
        )
        task = await conn.fetchval(
            "INSERT INTO tasks (user_id, title, position) VALUES ($1, 'live-bench-0-', 0)"
            " RETURNING id",
            user_id,
        )
        users.append((email, user_id, task))
    port = free_port()
    os.environ["RATE_LIMITS_ENABLED"] = "0"  # 200 logins from one address in a minute
    server = start_server(dsn, port, 2, workdir / "server.log")
    try:
        cookies = [login(port, email) for email, _, _ in users]
        await asyncio.sleep(2)
        total = args.users * args.per_user

        base = worker_rss(server.pid)
        plain = await idle_connections(port, total)
        await asyncio.sleep(2)
        per_connection = (worker_rss(server.pid) - base) / total
        for writer in plain:
            writer.close()
        await asyncio.sleep(3)

        streams = Streams()
        base = worker_rss(server.pid)
        for (_, user_id, _), cookie in zip(users, cookies, strict=True):
            since = await conn.fetchval("SELECT change_seq FROM users WHERE id = $1", user_id)
            for _ in range(args.per_user):
                ready = asyncio.Event()
                streams.tasks.append(asyncio.create_task(streams.open(port, cookie, since, ready)))
                await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(3)
        per_stream = (worker_rss(server.pid) - base) / total

        # Warming up, not measured: each pooled connection prepares the event's statement, and
        # each worker compiles the templates, on its first event.
        for n in range(int(args.rate * 2)):
            _, _, task = random.choice(users)
            await conn.execute("UPDATE tasks SET title = $1 WHERE id = $2", f"warm-{n}", task)
            await asyncio.sleep(1 / args.rate)
        await asyncio.sleep(2)
        changes = int(args.rate * args.seconds)
        spies = []
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            for pid in descendants([server.pid]):
                if pid != server.pid:
                    out = args.profile / f"worker-{pid}.txt"
                    spies.append(
                        subprocess.Popen(  # noqa: ASYNC220 (started once, before the measured part)
                            [
                                "py-spy",
                                "record",
                                "-p",
                                str(pid),
                                "-d",
                                str(int(args.seconds)),
                                "--format",
                                "raw",
                                "-o",
                                str(out),
                                "--nonblocking",
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
        postmaster = parent(conn.get_server_pid())
        cpu_before = (cpu_seconds(server.pid), cpu_seconds(postmaster), time.process_time())
        start = time.monotonic()
        for n in range(1, changes + 1):
            _, _, task = random.choice(users)
            streams.committed[n] = (time.monotonic(), task)  # just before, as for the floor
            await conn.execute(
                "UPDATE tasks SET title = $1 WHERE id = $2", f"live-bench-{n}-", task
            )
            streams.answered[n] = time.monotonic()
            delay = start + n / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        made = changes / (time.monotonic() - start)
        await asyncio.sleep(3)
        cpu_after = (cpu_seconds(server.pid), cpu_seconds(postmaster), time.process_time())
        spent = [(b - a) * 1000 / changes for a, b in zip(cpu_before, cpu_after, strict=True)]
        for spy in spies:
            spy.wait(60)
        expected = changes * args.per_user
        floor = await notify_floor(dsn, 500)
    finally:
        server.terminate()
        server.wait(30)
        await conn.close()

    from_commit = [max(0.0, t - streams.answered[n]) for n, t in streams.arrivals]
    from_sent = [t - streams.committed[n][0] for n, t in streams.arrivals]
    writes = [streams.answered[n] - sent for n, (sent, _) in streams.committed.items()]
    print(f"streams open: {streams.opened} ({args.users} users x {args.per_user}), workers 2")
    print(f"memory per idle stream:     {per_stream:7.1f} KB   (target <= 50 KB)")
    print(f"memory per idle connection: {per_connection:7.1f} KB   (baseline: keep-alive)")
    print(f"  ratio stream / connection: {per_stream / max(per_connection, 0.1):.2f}")
    print(f"changes: {changes} at {made:.0f}/s; events delivered {len(from_commit)} of {expected}")
    p50, p99 = pct(from_commit, 0.5), pct(from_commit, 0.99)
    print(
        f"COMMIT -> event at the browser: p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (target p99 <= 250)"
    )
    s50, s99 = pct(from_sent, 0.5), pct(from_sent, 0.99)
    f50, f99 = pct(floor, 0.5), pct(floor, 0.99)
    print(f"UPDATE sent -> event:           p50 {s50:6.1f} ms  p99 {s99:6.1f} ms  (upper bound)")
    print(
        f"pg_notify sent -> a LISTEN:     p50 {f50:6.1f} ms  p99 {f99:6.1f} ms  (floor, same way)"
    )
    print(f"  ratio p50 {s50 / max(f50, 0.01):.1f}x  p99 {s99 / max(f99, 0.01):.1f}x of the floor")
    print(
        f"the change itself (UPDATE sent to COMMIT answered): p50 {pct(writes, 0.5):.1f} ms "
        f"p99 {pct(writes, 0.99):.1f} ms max {max(writes) * 1000:.1f} ms"
    )
    print(
        f"  mean {statistics.mean(from_commit) * 1000:.1f} ms, max {max(from_commit) * 1000:.1f} ms"
    )
    print(
        f"CPU per change: taskly {spent[0]:.2f} ms, PostgreSQL {spent[1]:.2f} ms, "
        f"this bench (streams and writer) {spent[2]:.2f} ms; machine {2000 / args.rate:.0f} ms"
    )
    seconds: dict[int, list[float]] = {}
    for (n, _), latency in zip(streams.arrivals, from_commit, strict=True):
        seconds.setdefault(int(streams.committed[n][0] - start), []).append(latency)
    slowest: dict[int, float] = {}  # per second: the slowest UPDATE (sent to COMMIT answered)
    for n, (sent, _) in streams.committed.items():
        second = int(sent - start)
        slowest[second] = max(slowest.get(second, 0.0), streams.answered[n] - sent)
    print(
        "  per second of changes, p99 ms (the slowest UPDATE that second, ms): "
        + " ".join(
            f"{pct(seconds[s], 0.99):.0f}({slowest.get(s, 0) * 1000:.0f})" for s in sorted(seconds)
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
