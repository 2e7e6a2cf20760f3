"""Accounts data benchmark: a 50,000-row CSV import and a 100,000-task export, through the
real routes of a `taskly serve` process (embedded PostgreSQL, or $DATABASE_URL).

Prints the import's wall time (preview and confirm), the export's time, bytes and rate, and
the server's peak RSS while exporting, against its RSS before (the export is streamed a page
at a time, so the peak should not grow with the task count).

    python bench/accounts.py [--rows 50000] [--export 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import asyncpg
from board import ROOT, free_port, sign_up, start_database, start_server

from taskly.migrations import migrate


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def multipart(token: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """The import's answer is a redirect to the board; the board's cost is not the import's."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(base: str, path: str, cookie: str, data: bytes | None = None, kind: str = "") -> bytes:
    headers = {"Cookie": cookie}
    if kind:
        headers["Content-Type"] = kind
    req = urllib.request.Request(base + path, data=data, headers=headers)  # noqa: S310
    try:
        with OPENER.open(req, timeout=300) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as answer:  # the 302 itself
        if answer.code != 302:
            raise
        return b""


def download(base: str, cookie: str, pid: int, before: int) -> tuple[int, int]:
    """Read the CSV export (bytes), watching the server's RSS (peak KiB) as it streams."""
    req = urllib.request.Request(base + "/account/export.csv", headers={"Cookie": cookie})  # noqa: S310
    size, peak = 0, before
    with urllib.request.urlopen(req, timeout=300) as response:  # noqa: S310 - loopback
        while chunk := response.read(256 * 1024):
            size += len(chunk)
            peak = max(peak, rss_kib(pid))
    return size, peak


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--export", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="taskly-bench-accounts-"))
    dsn = start_database(workdir, "taskly_bench_accounts")
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(dsn, port, 1, workdir / "server.log")
    try:
        cookie, token = sign_up(base)
        csv = "title,notes,status,priority,due\n" + "".join(
            f"Imported {i},note {i},todo,high,2026-12-24\n" for i in range(args.rows)
        )
        body, kind = multipart(token, csv.encode())
        started = time.perf_counter()
        preview = request(base, "/account/import", cookie, body, kind).decode()
        checked = time.perf_counter()
        import_id = re.search(r"/account/import/([0-9a-f-]{36})", preview)[1]  # type: ignore[index]
        form = f"csrf_token={token}".encode()
        request(
            base, f"/account/import/{import_id}", cookie, form, "application/x-www-form-urlencoded"
        )
        imported = time.perf_counter()
        count = await conn.fetchval("SELECT count(*) FROM tasks")
        print(
            f"import {count:,} rows ({len(csv) / 1e6:.1f} MB): preview {checked - started:.2f} s,"
            f" import {imported - checked:.2f} s"
        )

        user_id = await conn.fetchval("SELECT max(id) FROM users")
        await conn.execute(
            "INSERT INTO tasks (user_id, title, notes, position) SELECT $1, 'Task ' || g,"
            " repeat('n', 200), g FROM generate_series(1, $2) g",
            user_id,
            max(0, args.export - count),
        )
        total = await conn.fetchval("SELECT count(*) FROM tasks")
        before = rss_kib(server.pid)
        started = time.perf_counter()
        size, peak = download(base, cookie, server.pid, before)
        took = time.perf_counter() - started
        print(
            f"export {total:,} tasks as CSV: {size / 1e6:.1f} MB in {took:.2f} s"
            f" ({total / took:,.0f} tasks/s); server RSS {before / 1024:.0f} MB before,"
            f" {peak / 1024:.0f} MB peak ({(peak - before) / 1024:+.0f} MB)"
        )
    finally:
        server.terminate()
        server.wait(15)
        await conn.close()


if __name__ == "__main__":
    assert ROOT.exists()
    asyncio.run(main())
