"""Click cost vs the classic round trip (issue #14, item 3): one status click on the 200-task
board, as htmx sends it (one POST answered with a fragment) and as Taskly's no-JavaScript path
does it (the same form POSTed without HX-Request, a 302, and the GET of the full page that a
browser makes when it follows the redirect). For each path: bytes on the wire per click and
server CPU per click; then htmx / no-JS against the issue's targets (CPU ≤ 1/8, bytes ≤ 1/50).

A third path, `floor`, is bench/floor.py's app (one worker) answering the same click with
mini's code but Taskly's own statements (update-task-status, then select-stats) on the same
tasks: floor / no-JS is the least CPU an htmx click can cost next to the no-JS path while it
keeps Taskly's SQL (bucket counts, the live board's triggers, the stats strip), however cheap
Taskly's Python became.

One `taskly serve --workers 1` (the worker runs in the serve process: CPU attribution is one
process tree) on an embedded PostgreSQL, RATE_LIMITS_ENABLED=0; a user signed up and confirmed
through the forms, with 200 tasks seeded as bench/board.py does.

Bytes: everything written to and read from the TCP connection (request line, headers and body;
status line, headers and body as sent, compressed when the app compresses: Accept-Encoding
"br, gzip"), over a keep-alive connection per batch (a new one when Hypercorn ends it after
1,000 requests, as a browser would), with a browser's usual headers (no sec-ch-*/sec-fetch-*
ones) and htmx 2's for a boosted form. TCP/IP framing and handshakes are not counted.

CPU: utime+stime from /proc/<pid>/stat of the serve process and its descendants and of the
cluster's postmaster and all its processes (backends, checkpointer, walwriter, autovacuum...),
plus cutime+cstime of those processes (so a process that exited and was reaped during a batch
still counts), read before and after N clicks and divided by N. The client's CPU is not counted.

Each click really changes a task: clicks go in pairs on one To do task (To do → Done, then
Done → To do), the next pair on the next task, so the board keeps its seeded shape. Rounds
alternate the paths (htmx batch, then no-JS batch) to spread machine noise over both.

    python bench/click_cost.py [--clicks 500] [--rounds 3] [--tasks 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gzip
import http.client
import io
import os
import re
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import brotli
from board import ROOT, free_port, newest_user, seed_tasks, settle
from floor import start_floor
from page_weight import fresh_database, serve, sign_up, start_cluster

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORM = "application/x-www-form-urlencoded"
TICK = os.sysconf("SC_CLK_TCK")
TARGET_CPU, TARGET_BYTES = 1 / 8, 1 / 50


@dataclass
class Wire:
    sent: int = 0
    received: int = 0
    bodies: int = 0  # of sent + received: request and response bodies
    connections: int = 0


class _Counted(io.RawIOBase):
    """The read side of a counting socket, for http.client's `sock.makefile("rb")`: over the
    socket's own reader, which keeps it open until the response is read (http.client closes
    the socket as soon as it sees Connection: close, before the body is read)."""

    def __init__(self, raw: Any, wire: Wire) -> None:
        self.inner, self.wire = raw.makefile("rb", buffering=0), wire

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self.inner.readinto(buffer)
        self.wire.received += n
        return n

    def close(self) -> None:
        self.inner.close()
        super().close()


class CountingSocket:
    def __init__(self, raw: Any, wire: Wire) -> None:
        self.raw, self.wire = raw, wire

    def sendall(self, data: bytes) -> None:
        self.wire.sent += len(data)
        self.raw.sendall(data)

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Counted(self.raw, self.wire))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class Connection(http.client.HTTPConnection):
    """Reconnects when the server ends a keep-alive connection, as a browser does (Hypercorn
    closes one after 1,000 requests); the bytes of every connection go to `wire`."""

    wire: Wire

    def connect(self) -> None:
        super().connect()
        self.wire.connections += 1
        self.sock = CountingSocket(self.sock, self.wire)


@dataclass
class Client:
    """A browser's keep-alive connection and cookie store; counts the bytes it moves."""

    base: str
    cookies: dict[str, str]
    conn: Connection = field(init=False)
    wire: Wire = field(default_factory=Wire)

    def __post_init__(self) -> None:
        url = urllib.parse.urlsplit(self.base)
        self.conn = Connection(url.hostname or "", url.port, timeout=60)
        self.conn.wire = self.wire
        self.conn.connect()

    def send(
        self, method: str, path: str, headers: dict[str, str], body: str | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {"User-Agent": UA, **headers, "Accept-Encoding": "br, gzip"}
        headers |= {"Accept-Language": "en-GB,en;q=0.9", "Cookie": cookie}
        self.conn.request(method, path, body.encode() if body else None, headers)
        response = self.conn.getresponse()
        data = response.read()
        self.wire.bodies += len(body or "") + len(data)
        for line in response.headers.get_all("Set-Cookie") or ():
            name, _, value = line.split(";")[0].partition("=")
            if not value or "max-age=0" in line.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return response, data

    def close(self) -> None:
        self.conn.close()


SHOWN: dict[str, str] = {}  # cards per bucket on the page: board.js sends them with a post


def cards_shown(html: str) -> dict[str, str]:
    lists = re.findall(r'<ol id="list-(\w+)"(.*?)</ol>', html, re.S)
    return {"shown_" + status: str(body.count('<li id="task-')) for status, body in lists}


def decoded(response: http.client.HTTPResponse, data: bytes, seen: set[str]) -> str:
    """The body as the browser reads it; `seen` collects the encodings the server chose."""
    encoding = response.getheader("Content-Encoding") or "identity"
    seen.add(encoding)
    unpack = {"br": brotli.decompress, "gzip": gzip.decompress}.get(encoding, bytes)
    return bytes(unpack(data)).decode()


ENCODINGS: dict[str, set[str]] = {"htmx": set(), "plain": set()}


def click_htmx(client: Client, token: str, task_id: int, status: str, was: str) -> None:
    """What htmx 2 sends for the card menu's boosted form (board.js adds `shown_*`)."""
    form = {"csrf_token": token, "shown_in": was, "status": status, **SHOWN}
    headers = {
        "Accept": "*/*",
        "Content-Type": FORM,
        "Origin": client.base,
        "Referer": client.base + "/",
        "HX-Request": "true",
        "HX-Boosted": "true",
        "HX-Current-URL": client.base + "/",
        "HX-Target": f"task-{task_id}",
        "HX-Trigger": f"menu-{task_id}",
        "X-CSRF-Token": token,
    }
    path = f"/tasks/{task_id}/status"
    response, data = client.send("POST", path, headers, urllib.parse.urlencode(form))
    body = decoded(response, data, ENCODINGS["htmx"])
    moved = response.getheader("HX-Reswap") == "delete" and "was already in" not in body
    if response.status != 200 or f'id="task-{task_id}"' not in body or not moved:
        raise SystemExit(f"htmx {path} {status}: {response.status} {body[:300]!r}")


def click_plain(client: Client, token: str, task_id: int, status: str, was: str) -> None:
    """A plain form post, the redirect, and the page a browser then loads."""
    form = {"csrf_token": token, "shown_in": was, "status": status}
    page = {"Accept": PAGE_ACCEPT, "Referer": client.base + "/", "Upgrade-Insecure-Requests": "1"}
    headers = {**page, "Content-Type": FORM, "Origin": client.base}
    path = f"/tasks/{task_id}/status"
    response, _ = client.send("POST", path, headers, urllib.parse.urlencode(form))
    location = response.getheader("Location", "")
    if response.status != 302 or not location:
        raise SystemExit(f"plain {path} {status}: {response.status}, not a redirect")
    target = urllib.parse.urlsplit(urllib.parse.urljoin(client.base + "/", location))
    query = f"?{target.query}" if target.query else ""
    response, data = client.send("GET", target.path + query, page)
    body = decoded(response, data, ENCODINGS["plain"])
    if response.status != 200 or 'id="board"' not in body or "Moved " not in body:
        raise SystemExit(f"GET {location} after {status}: {response.status}, no board or toast")


def click_floor(client: Client, token: str, task_id: int, status: str, was: str) -> None:
    """The htmx click's request, to the floor app (its own session and CSRF token)."""
    form = {"status": status}
    headers = {"Accept": "*/*", "Content-Type": FORM, "HX-Request": "true", "X-CSRF-Token": token}
    path = f"/tasks/{task_id}/status"
    response, data = client.send("POST", path, headers, urllib.parse.urlencode(form))
    if response.status != 200 or f'id="task-{task_id}"' not in data.decode():
        raise SystemExit(f"floor {path} {status}: {response.status} {data[:300]!r}")


def descendants(roots: list[int]) -> set[int]:
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent[int(entry)] = int(_stat(int(entry))[1])
    found = {pid for pid in roots if pid in parent}
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return found


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, ...]; utime is index 11."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(root: int) -> float:
    """CPU time of `root` and its descendants, living or exited and reaped."""
    ticks = 0
    for pid in descendants([root]):
        try:
            fields = _stat(pid)
        except OSError:  # exited since the listing: counted in its parent's cutime once reaped
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / TICK


def settled(dsn: str, postmaster: int) -> None:
    """board.py's VACUUM ANALYZE, then wait for its backend to exit and be reaped, so that its
    CPU lands in the postmaster's cutime before a measurement starts, not during it."""
    before = len(descendants([postmaster]))
    asyncio.run(settle(dsn))
    deadline = time.monotonic() + 5
    while len(descendants([postmaster])) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)


@dataclass
class Batch:
    serve_ms: float  # CPU per click, the serve process
    pg_ms: float  # CPU per click, PostgreSQL
    sent: float  # per click: request lines, headers and bodies
    received: float  # per click: status lines, headers and bodies as sent
    bodies: float  # per click, of sent + received: the bodies (the rest is headers)
    wall_ms: float  # per click, client side
    connections: int  # TCP connections the batch used

    @property
    def cpu_ms(self) -> float:
        return self.serve_ms + self.pg_ms

    @property
    def bytes(self) -> float:
        return self.sent + self.received


def run_batch(
    kind: str,
    base: str,
    cookies: dict[str, str],
    token: str,
    tasks: dict[int, str],
    order: list[int],
    start: int,
    clicks: int,
    roots: list[int],
) -> Batch:
    click = {"htmx": click_htmx, "plain": click_plain, "floor": click_floor}[kind]
    client = Client(base, cookies)
    try:
        serve0, pg0 = cpu_seconds(roots[0]), cpu_seconds(roots[1])
        wire0, t0 = dataclasses.replace(client.wire), time.perf_counter()
        for k in range(start, start + clicks):
            task_id = order[(k // 2) % len(order)]
            was = tasks[task_id]
            now = "done" if was == "todo" else "todo"
            click(client, token, task_id, now, was)
            tasks[task_id] = now
        t1, wire1 = time.perf_counter(), client.wire
        serve1, pg1 = cpu_seconds(roots[0]), cpu_seconds(roots[1])
    finally:
        client.close()
    return Batch(
        (serve1 - serve0) * 1000 / clicks,
        (pg1 - pg0) * 1000 / clicks,
        (wire1.sent - wire0.sent) / clicks,
        (wire1.received - wire0.received) / clicks,
        (wire1.bodies - wire0.bodies) / clicks,
        (t1 - t0) * 1000 / clicks,
        wire1.connections,
    )


async def todo_ids(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id FROM tasks WHERE user_id = (SELECT max(id) FROM users)"
            " AND status = 'todo' ORDER BY id"
        )
        return [row["id"] for row in rows]
    finally:
        await conn.close()


HEADER = (
    f"{'round':>5} {'path':<6} {'CPU ms/click':>12} {'(serve':>7} {'+ pg)':>6}"
    f" {'bytes/click':>11} {'sent':>7}"
    f" {'received':>8} {'bodies':>7} {'wall ms/click':>13} {'conns':>5}"
)


def row(number: str, name: str, batch: Batch) -> str:
    return (
        f"{number:>5} {name:<6} {batch.cpu_ms:>12.3f} {batch.serve_ms:>7.2f} {batch.pg_ms:>6.2f}"
        f" {batch.bytes:>11,.0f} {batch.sent:>7,.0f}"
        f" {batch.received:>8,.0f} {batch.bodies:>7,.0f} {batch.wall_ms:>13.3f}"
        f" {batch.connections:>5}"
    )


def mean(batches: list[Batch]) -> Batch:
    n = len(batches)
    return Batch(
        sum(b.serve_ms for b in batches) / n,
        sum(b.pg_ms for b in batches) / n,
        sum(b.sent for b in batches) / n,
        sum(b.received for b in batches) / n,
        sum(b.bodies for b in batches) / n,
        sum(b.wall_ms for b in batches) / n,
        sum(b.connections for b in batches),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clicks", type=int, default=500, help="per path per round (even)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args()
    clicks = args.clicks + args.clicks % 2  # pairs: every task ends where it started

    workdir = Path(tempfile.mkdtemp(prefix="taskly-click-cost-"))
    cluster = start_cluster(workdir)
    dsn = fresh_database(cluster, "taskly_click")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(ROOT, dsn, port, workdir / "server.log")
    roots = [server.pid, cluster.get_pid()]  # type: ignore[attr-defined]
    floor: subprocess.Popen[bytes] | None = None
    try:
        browser, _ = sign_up(base, dsn)
        asyncio.run(seed_tasks(dsn, args.tasks))
        order = asyncio.run(todo_ids(dsn))
        tasks = dict.fromkeys(order, "todo")
        html = browser.get("/")[0].decode()
        token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', html)[1]  # type: ignore[index]
        cookies = {c.name: c.value or "" for c in browser.jar}
        SHOWN.update(cards_shown(html))
        floor, floor_port, floor_headers = start_floor(
            workdir, dsn, asyncio.run(newest_user(dsn)), 1
        )
        floor_base = f"http://127.0.0.1:{floor_port}"
        floor_roots = [floor.pid, roots[1]]
        headers = dict(h.split(": ", 1) for h in floor_headers)
        floor_token = headers["X-CSRF-Token"]
        floor_cookies = dict([headers["Cookie"].split("=", 1)])
        paths = {
            "htmx": (base, cookies, token, roots),
            "plain": (base, cookies, token, roots),
            "floor": (floor_base, floor_cookies, floor_token, floor_roots),
        }

        def batch(kind: str, start: int, clicks: int) -> Batch:
            where, jar, csrf, counted = paths[kind]
            return run_batch(kind, where, jar, csrf, tasks, order, start, clicks, counted)

        for kind in paths:  # templates compiled, statements prepared
            batch(kind, 0, args.warmup)
        settled(dsn, roots[1])
        cpu0, t0 = cpu_seconds(roots[0]) + cpu_seconds(roots[1]), time.perf_counter()
        time.sleep(3)
        cpu1 = cpu_seconds(roots[0]) + cpu_seconds(roots[1])
        idle = (cpu1 - cpu0) * 1000 / (time.perf_counter() - t0)
        serve_tree, pg_tree = descendants(roots[:1]), descendants(roots[1:])
        print(
            f"taskly serve --workers 1 on {base} (the one worker runs in the serve process);"
            f" {os.cpu_count()} CPUs\n"
            f"CPU counted for {len(serve_tree)} serve process(es) and {len(pg_tree)} PostgreSQL"
            f" processes; idle they use {idle:.2f} ms CPU per second\n"
            f"{args.tasks} tasks, {len(order)} To do; the page shows"
            f" {', '.join(f'{k[6:]} {v}' for k, v in SHOWN.items())};"
            f" {clicks} clicks per path per round after {args.warmup} warm-up clicks;"
            f" {args.rounds} rounds of htmx then no-JS\n"
        )
        print(HEADER)
        results: dict[str, list[Batch]] = {kind: [] for kind in paths}
        start = 0
        for number in range(1, args.rounds + 1):
            for kind in paths:
                settled(dsn, roots[1])  # outside the measured window
                results[kind].append(batch(kind, start, clicks))
                start += clicks
                name = "no-JS" if kind == "plain" else kind
                print(row(str(number), name, results[kind][-1]), flush=True)
            h, p = results["htmx"][-1], results["plain"][-1]
            print(
                f"{'':>5} {'ratio':<6} {h.cpu_ms / p.cpu_ms:>12.3f} {'':>14}"
                f" {h.bytes / p.bytes:>11.4f}"
            )

        htmx, plain, least = (mean(results[kind]) for kind in paths)
        print("\nmean over the rounds")
        print(row("", "htmx", htmx))
        print(row("", "no-JS", plain))
        print(row("", "floor", least))
        print(
            f"\nresponse encodings: htmx {', '.join(sorted(ENCODINGS['htmx']))};"
            f" no-JS page {', '.join(sorted(ENCODINGS['plain']))}"
        )
        print("\nhtmx / no-JS (means)")
        for label, ratio, target in (
            ("CPU", htmx.cpu_ms / plain.cpu_ms, TARGET_CPU),
            ("bytes", htmx.bytes / plain.bytes, TARGET_BYTES),
        ):
            verdict = "met" if ratio <= target else "NOT met"
            goal = f"target <= 1/{1 / target:.0f}"
            print(f"  {label:<5} {ratio:.4f} = 1/{1 / ratio:.1f}   {goal}: {verdict}")
        print(
            f"  floor: mini's code with Taskly's statements costs {least.cpu_ms:.2f} ms a click,"
            f" 1/{plain.cpu_ms / least.cpu_ms:.1f} of the no-JS click (Taskly's htmx click is"
            f" {htmx.cpu_ms / least.cpu_ms:.2f}x the floor's CPU)"
        )
        # What no response could beat: the htmx click's request alone (its headers are a
        # browser's: cookie, user agent, htmx's own), against the whole no-JS click.
        alone = htmx.sent / plain.bytes
        print(
            f"  floor: the htmx request alone ({htmx.sent:,.0f} bytes sent) is already"
            f" 1/{1 / alone:.1f} of the no-JS click's {plain.bytes:,.0f}; 1/50 would be"
            f" {plain.bytes / 50:,.0f} bytes for the request and its response together"
        )
    finally:
        for process in [server] if floor is None else [server, floor]:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
