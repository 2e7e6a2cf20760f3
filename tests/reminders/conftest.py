"""Helpers to run the reminder engine against the SMTP sink (tests/smtp.py) with a
controlled clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from taskly.db import POOL_KEY
from taskly.mail import SmtpConfig
from taskly.reminders.engine import ReminderEngine
from tests.helpers import page_token, sign_up
from tests.smtp import Sink


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


def utc_clock() -> datetime:
    """The real clock, for engines in tests about what is sent now (account mail)."""
    return datetime.now(UTC)
