"""Helpers for the fault tests: seeding rows with SQL, reading what was delivered, polling
with a deadline, and a small HTTP client with a cookie jar.

Accounts and due reminders are seeded with SQL (verified addresses, one reminder per account),
so what is under test is the fault, not sign-up or the per-account mail ceiling."""

from __future__ import annotations

import asyncio
import http.client
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from http.cookies import SimpleCookie
from typing import TypeVar
from urllib.parse import urlencode

import asyncpg
import pytest

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """Poll `probe` until it returns something other than None; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.05)


@cache
def password_hash() -> str:
    from argon2 import PasswordHasher
    from argon2.profiles import RFC_9106_LOW_MEMORY

    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY).hash(PASSWORD)


async def create_account(db: asyncpg.Connection, email: str) -> int:
    """A verified account whose password is PASSWORD."""
    user_id: int = await db.fetchval(
        "INSERT INTO users (email, email_key, first_name, last_name, password_hash, time_zone,"
        " email_verified_at) VALUES ($1, lower($1), 'Fault', 'Test', $2, 'UTC', now())"
        " RETURNING id",
        email,
        password_hash(),
    )
    return user_id


async def seed_due_reminders(db: asyncpg.Connection, count: int, tag: str) -> list[int]:
    """`count` verified accounts, each with one task and one reminder due a minute ago."""
    rows = await db.fetch(
        """
        WITH u AS (
            INSERT INTO users (email, email_key, first_name, last_name, password_hash,
                               time_zone, email_verified_at)
            SELECT address, address, 'Fault', 'Test', 'unused', 'UTC', now()
              FROM generate_series(1, $2::int) AS i,
                   format('%s-%s@example.com', $1::text, i) AS address
            RETURNING id
        ), t AS (
            INSERT INTO tasks (user_id, title, position)
            SELECT id, 'Water the plants', 1 FROM u
            RETURNING id, user_id
        )
        INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at, state)
        SELECT user_id, id, 'at', now() - interval '1 minute', now() - interval '1 minute',
               'active'
          FROM t
        RETURNING id
        """,
        tag.lower(),
        count,
    )
    return [row["id"] for row in rows]


async def delivered(db: asyncpg.Connection, ids: list[int]) -> list[str]:
    """Message-IDs of the mail recorded as sent in `deliveries` for these reminders."""
    rows = await db.fetch(
        "SELECT message_id FROM deliveries"
        " WHERE reminder_id = ANY($1::bigint[]) AND channel = 'email' AND state = 'sent'",
        ids,
    )
    return [row["message_id"] for row in rows]


async def claims_by_pid(db: asyncpg.Connection) -> Counter[int]:
    """Live claims per process id (the engine's worker id is host:pid:random): on reminders
    being fanned out, and on deliveries being sent."""
    rows = await db.fetch(
        "SELECT claimed_by, count(*) AS n FROM ("
        "  SELECT claimed_by, claimed_until FROM reminders"
        "  UNION ALL SELECT claimed_by, claimed_until FROM deliveries) c"
        " WHERE claimed_by IS NOT NULL AND claimed_until > now() GROUP BY claimed_by"
    )
    claims: Counter[int] = Counter()
    for row in rows:
        parts = row["claimed_by"].rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit():
            claims[int(parts[1])] += row["n"]
    return claims


# ---- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: str
    seconds: float


class Browser:
    """A blocking HTTP/1.1 client with a cookie jar (one connection per request). Call it from
    async tests through asyncio.to_thread."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = self.cookie_header
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return Reply(response.status, data.decode(errors="replace"), time.monotonic() - started)

    def log_in(self, email: str) -> None:
        page = self.request("GET", "/login")
        form = {"csrf_token": csrf_of(page.body), "email": email, "password": PASSWORD}
        reply = self.request("POST", "/login", form=form)
        assert reply.status in (302, 303), f"login failed: {reply.status} {reply.body[:300]}"
        board = self.request("GET", "/")
        assert board.status == 200, f"dashboard after login: {board.status}"
        self.csrf = csrf_of(board.body)

    def add_task(self, title: str, timeout: float = 10.0) -> Reply:
        """The htmx create (answers 200 with the card)."""
        headers = {"X-CSRF-Token": self.csrf, "HX-Request": "true"}
        return self.request("POST", "/tasks", {"title": title}, headers, timeout)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match[1]


async def logged_in(db: asyncpg.Connection, base_url: str, email: str) -> Browser:
    """A new verified account, logged in over HTTP."""
    await create_account(db, email)
    browser = Browser(base_url)
    await asyncio.to_thread(browser.log_in, email)
    return browser
