"""Two engine instances, each with its own pool (as two app processes have), on 200 due
reminders sent on three channels each: every (occurrence, channel target) arrives exactly once,
counted at the receivers (the SMTP sink and the push service that decrypts each message)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

from taskly.db import create_pool
from taskly.mail import SmtpConfig
from taskly.reminders.engine import ReminderEngine
from tests.reminders.conftest import Clock, add_device, at
from tests.support.push_service import PushService

FIRE = at("2026-12-01T09:00:00+00:00")


async def test_two_engines_deliver_each_of_200_reminders_once_per_channel(
    push_app, ada, db, sink, push_service: PushService
):
    phone = await add_device(ada, db, push_service)
    laptop = await add_device(ada, db, push_service)
    user_id = await db.fetchval("SELECT id FROM users")
    await db.execute(
        "INSERT INTO tasks (user_id, title, position)"
        " SELECT $1, 'Task ' || g, g FROM generate_series(1, 200) g",
        user_id,
    )
    # Email, and push to every device the user has: three deliveries per occurrence.
    await db.execute(
        "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at, all_devices)"
        " SELECT user_id, id, 'at', $2, $2, true FROM tasks WHERE user_id = $1",
        user_id,
        FIRE,
    )
    settings = replace(
        push_app.extensions["taskly.settings"],
        smtp_url=sink.url,
        reminder_batch=20,
        mail_daily_limit=0,  # 200 to one account: this test is about exactly-once
    )
    pools = [await create_pool(settings, settings.database_url or "") for _ in range(2)]
    try:
        engines = [
            ReminderEngine(settings, pool, SmtpConfig.from_url(sink.url), Clock(FIRE))
            for pool in pools
        ]
        counts = await asyncio.gather(*(engine.tick() for engine in engines))
    finally:
        for pool in pools:
            await pool.close()
    assert sum(counts) == 600
    assert all(count > 0 for count in counts), "both instances took part"
    ids = sink.message_ids()
    assert len(ids) == 200 and len(set(ids)) == 200
    assert push_service.rejected == []
    per_device = Counter(message.token for message in push_service.received)
    assert sorted(per_device.values()) == [200, 200]
    shown = Counter((m.token, m.payload["url"]) for m in push_service.received)
    assert len(shown) == 400 and set(shown.values()) == {1}
    states = await db.fetch("SELECT channel, state, count(*) FROM deliveries GROUP BY 1, 2")
    assert sorted(tuple(r) for r in states) == [("email", "sent", 200), ("push", "sent", 400)]
    assert {phone, laptop} == {
        r["push_subscription_id"]
        for r in await db.fetch("SELECT DISTINCT push_subscription_id FROM deliveries")
        if r["push_subscription_id"] is not None
    }
