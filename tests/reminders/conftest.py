"""A real SMTP server (aiosmtpd) on a free port that keeps what it receives, and helpers to
run the reminder engine with a controlled clock."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from taskly.db import POOL_KEY
from taskly.mail import SmtpConfig
from taskly.reminders.engine import ReminderEngine
from tests.helpers import page_token, sign_up


class Sink:
    """Collects messages. `reject` maps recipient → SMTP reply, to simulate refusals."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.reject: dict[str, str] = {}
        self.delay = 0.0  # seconds before each "250", like a slow mail server
        self.hang = False  # never answer DATA (until released), like a server gone silent
        self.on_accept: Any = None  # called with the count after each accepted message
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"smtp+insecure://127.0.0.1:{self.port}"
        self.controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        while self.hang:  # noqa: ASYNC110 - set from the test thread, not this loop
            await asyncio.sleep(0.05)
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        if self.on_accept is not None:
            self.on_accept(len(self.messages))
        return "250 Message accepted"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.hang = False
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]

    def to(self, subject_start: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Subject"].startswith(subject_start)]


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    yield server
    server.stop()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def engine_for(app: Any, sink: Sink, clock: Clock, **overrides: Any) -> ReminderEngine:
    settings = replace(app.extensions["taskly.settings"], smtp_url=sink.url, **overrides)
    return ReminderEngine(settings, app.extensions[POOL_KEY], SmtpConfig.from_url(sink.url), clock)


@pytest.fixture
async def user(client: Any, db: Any) -> Any:
    """A signed-up, verified client whose clock is Europe/Berlin (its verification mail is
    out of the way: these tests count what the engine sends)."""
    await sign_up(client, time_zone="Europe/Berlin")
    await db.execute("DELETE FROM outbox WHERE template = 'verify_email'")
    return client


async def new_task(client: Any, db: Any, title: str) -> int:
    token = await page_token(client, "/")
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    await client.post("/tasks", form={"title": title}, headers=headers)
    task_id: int = await db.fetchval("SELECT id FROM tasks WHERE title = $1", title)
    return task_id


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def add_rule(db, task_id: int, next_fire_at: datetime, **rule) -> int:
    user_id = await db.fetchval("SELECT user_id FROM tasks WHERE id = $1", task_id)
    fields = {"kind": "at", "fire_at": next_fire_at, **rule}
    return await db.fetchval(
        "INSERT INTO reminders (user_id, task_id, kind, fire_at, lead_minutes, repeat,"
        " repeat_time, repeat_day, next_fire_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " RETURNING id",
        user_id,
        task_id,
        fields["kind"],
        fields.get("fire_at"),
        fields.get("lead_minutes"),
        fields.get("repeat"),
        fields.get("repeat_time"),
        fields.get("repeat_day"),
        next_fire_at,
    )
