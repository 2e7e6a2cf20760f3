"""Slow clients must not starve everyone else of database connections.

A client that sends request headers and then dribbles (or never sends) its body, or one that
never reads its response, occupies a socket, not a pooled connection: with a pool of 4 and 10
such clients, other users (and the same user on another tab) are still served at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import asyncpg
import pytest

from tests.faults.helpers import Browser, Reply, logged_in
from tests.faults.services import Launcher, Proc

SLOW_CLIENTS = 10
PIPELINED = 3  # board requests sent at once on each socket that never reads
POOL = {"DB_POOL_MAX": "4", "DB_ACQUIRE_TIMEOUT": "2", "SCHEDULER_ENABLED": "false"}
ANSWER_WITHIN = 5.0  # seconds: well past DB_ACQUIRE_TIMEOUT, so a 503 after waiting shows


@pytest.fixture
async def server(launcher: Launcher) -> Proc:
    proc = launcher.serve(**POOL)
    await launcher.ready(proc)
    return proc


@contextlib.contextmanager
def open_sockets() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def connect(browser: Browser, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connect, so the TCP window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5)
    sock.connect((browser.host, browser.port))
    return sock


def request_head(browser: Browser, method: str, path: str, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {browser.host}:{browser.port}\r\n"
        f"Cookie: {browser.cookie_header}\r\n{extra}\r\n"
    ).encode()


async def trickle(socks: list[socket.socket]) -> None:
    """One byte per second on each socket: never enough to finish a 100-byte body in time."""
    while True:
        await asyncio.sleep(1)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.send(b"x")


async def normal_traffic(users: dict[str, Browser], rounds: int, tag: str) -> list[str]:
    """Every user loads the board, adds a task and asks /readyz; returns the titles added.
    Fails at the first answer that is not a quick 200."""
    titles: list[str] = []
    for n in range(rounds):
        for name, browser in users.items():
            title = f"{tag} {name} {n}"
            calls = {
                "GET /": lambda b=browser: b.request("GET", "/", timeout=ANSWER_WITHIN + 5),
                "POST /tasks": lambda b=browser, t=title: b.add_task(t, timeout=ANSWER_WITHIN + 5),
                "GET /readyz": lambda b=browser: b.request("GET", "/readyz", timeout=ANSWER_WITHIN),
            }
            for what, call in calls.items():
                reply: Reply = await asyncio.to_thread(call)
                assert reply.status == 200, (
                    f"user {name}: {what} answered {reply.status} after {reply.seconds:.1f} s "
                    "while slow clients held their sockets"
                )
                assert reply.seconds < ANSWER_WITHIN, f"user {name}: {what} took {reply.seconds}"
            titles.append(title)
    return titles


async def titles_of(db: asyncpg.Connection) -> set[str]:
    return {row["title"] for row in await db.fetch("SELECT title FROM tasks")}


async def test_slow_request_bodies_do_not_starve_other_requests(
    server: Proc, db: asyncpg.Connection
) -> None:
    assert server.url is not None
    slow = await logged_in(db, server.url, "slow@example.com")
    other = await logged_in(db, server.url, "other@example.com")
    users = {"slow": slow, "other": other}
    headers = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n"
    with open_sockets() as socks:
        for _ in range(SLOW_CLIENTS):
            sock = await asyncio.to_thread(connect, slow)
            sock.sendall(request_head(slow, "POST", "/tasks", headers) + b"title=sl")
            socks.append(sock)
        dribbler = asyncio.create_task(trickle(socks[: SLOW_CLIENTS // 2]))
        try:
            await asyncio.sleep(1)  # the server has read every header and is awaiting bodies
            added = await normal_traffic(users, rounds=2, tag="during")
        finally:
            dribbler.cancel()
    # The slow sockets are gone: the site still answers, and they added nothing.
    added += await normal_traffic(users, rounds=1, tag="after")
    stored = await titles_of(db)
    assert set(added) <= stored
    assert not any(title.startswith("sl") for title in stored)


async def test_clients_that_never_read_do_not_starve_other_requests(
    server: Proc, db: asyncpg.Connection
) -> None:
    assert server.url is not None
    reader = await logged_in(db, server.url, "reader@example.com")
    await db.execute(
        "INSERT INTO tasks (user_id, title, notes, position)"
        " SELECT id, 'A task with a long enough title to fill the page ' || i,"
        " repeat('Some notes. ', 20), i FROM users, generate_series(1, 300) AS i"
        " WHERE email = 'reader@example.com'"
    )
    board = await asyncio.to_thread(reader.request, "GET", "/")
    assert board.status == 200, board.status
    users = {
        "first": await logged_in(db, server.url, "first@example.com"),
        "second": await logged_in(db, server.url, "second@example.com"),
    }
    with open_sockets() as socks:
        for _ in range(SLOW_CLIENTS):
            sock = await asyncio.to_thread(connect, reader, 4096)
            # Never read: a few boards (each over 0.5 MB) are more than the kernel buffers take.
            sock.sendall(request_head(reader, "GET", "/") * PIPELINED)
            socks.append(sock)
        await asyncio.sleep(1)
        added = await normal_traffic(users, rounds=2, tag="during")
    added += await normal_traffic(users, rounds=1, tag="after")
    assert set(added) <= await titles_of(db)
