"""Helpers to run the reminder engine against the SMTP sink (tests/smtp.py) with a
controlled clock."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from taskly.db import POOL_KEY
from taskly.mail import SmtpConfig
from taskly.reminders.engine import ReminderEngine
from tests.helpers import page_token, sign_up
from tests.smtp import Sink
from tests.support.push_service import PushService, push_service_fixture  # noqa: F401


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


# ---- push (issue #12) -----------------------------------------------------------------------


@pytest.fixture
async def push_app(make_app, push_service: PushService):
    """An app that trusts the test push service (on 127.0.0.1: private targets allowed, as an
    operator with a LAN push service would)."""
    return await make_app(notify_allow_private=True, notify_ca_file=push_service.ca_file)


@pytest.fixture
async def ada(push_app, db):
    client = push_app.test_client()
    await sign_up(client, time_zone="Europe/Berlin")
    await db.execute("DELETE FROM outbox WHERE template = 'verify_email'")
    return client


async def add_device(client, db, service: PushService, email: str = "ada@example.com") -> int:
    """Subscribe a browser as pushManager.subscribe would, and keep it as the settings page
    does: returns the subscription's id."""
    html = await (await client.get("/account/notifications")).get_data(as_text=True)
    found = re.search(r'data-server-key="([A-Za-z0-9_-]+)"', html)
    assert found
    subscription = service.subscribe(found[1])
    device_id: int = await db.fetchval(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)"
        " SELECT id, $2, $3, $4, 'Mozilla/5.0 (Android 14; Mobile) Firefox/133.0'"
        " FROM users WHERE email = $1 RETURNING id",
        email,
        subscription["endpoint"],
        subscription["keys"]["p256dh"],
        subscription["keys"]["auth"],
    )
    return device_id


async def add_service(db, label: str = "ntfy", email: str = "ada@example.com") -> int:
    """An Apprise service row as Settings → Notifications → Other services keeps it."""
    service_id: int = await db.fetchval(
        "INSERT INTO notify_services (user_id, label, scheme, url_sealed, masked)"
        " SELECT id, $2, 'ntfys', '\\x00'::bytea, 'ntfys://ntfy.sh/t…' FROM users WHERE email = $1"
        " RETURNING id",
        email,
        label,
    )
    return service_id


async def email_and_push(db, task_id: int, device_id: int, fire: datetime | None = None) -> int:
    """An 'at' reminder (default 2026-12-01 09:00 UTC) by email and to one device."""
    fire = fire or at("2026-12-01T09:00:00+00:00")
    reminder_id = await add_rule(db, task_id, fire)
    await db.execute(
        "INSERT INTO reminder_targets (reminder_id, push_subscription_id) VALUES ($1, $2)",
        reminder_id,
        device_id,
    )
    return reminder_id
