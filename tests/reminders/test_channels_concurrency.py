"""Two engine instances, each with its own pool (as two app processes have), on 200 due
reminders sent on three channels each (email, push to a phone, an Apprise json:// service):
every (occurrence, channel target) arrives exactly once, counted at the receivers: the SMTP
sink, the push service that decrypts each message, and the HTTP receiver Apprise posts to."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

from taskly.db import create_pool
from taskly.mail import SmtpConfig
from taskly.notify.sealed import seal
from taskly.reminders.engine import ReminderEngine
from tests.reminders.conftest import Clock, add_device, at
from tests.support.apprise_receiver import (  # noqa: F401
    AppriseReceiver,
    apprise_receiver_fixture,
)
from tests.support.push_service import PushService

FIRE = at("2026-12-01T09:00:00+00:00")


async def test_two_engines_deliver_each_of_200_reminders_once_per_channel(
    push_app, ada, db, sink, push_service: PushService, apprise_receiver: AppriseReceiver
):
    phone = await add_device(ada, db, push_service)
    user_id = await db.fetchval("SELECT id FROM users")
    settings = replace(
        push_app.extensions["taskly.settings"],
        smtp_url=sink.url,
        reminder_batch=20,
        mail_daily_limit=0,  # 200 to one account: this test is about exactly-once
    )
    url = apprise_receiver.url("json", "reminders")
    service = await db.fetchval(
        "INSERT INTO notify_services (user_id, label, scheme, url_sealed, masked)"
        " VALUES ($1, 'hook', 'json', $2, 'json://…') RETURNING id",
        user_id,
        seal(url, user_id=user_id, settings=settings),
    )
    await db.execute(
        "INSERT INTO tasks (user_id, title, position)"
        " SELECT $1, 'Task ' || g, g FROM generate_series(1, 200) g",
        user_id,
    )
    await db.execute(
        "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at)"
        " SELECT user_id, id, 'at', $2, $2 FROM tasks WHERE user_id = $1",
        user_id,
        FIRE,
    )
    await db.execute(
        "INSERT INTO reminder_targets (reminder_id, push_subscription_id)"
        " SELECT id, $1::bigint FROM reminders",
        phone,
    )
    await db.execute(
        "INSERT INTO reminder_targets (reminder_id, notify_service_id)"
        " SELECT id, $1::bigint FROM reminders",
        service,
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
    pushed = Counter(m.payload["url"] for m in push_service.received)
    assert len(pushed) == 200 and set(pushed.values()) == {1}
    posted = Counter(m.body["message"].rsplit("/", 1)[1] for m in apprise_receiver.received)
    assert len(posted) == 200 and set(posted.values()) == {1}
    assert apprise_receiver.requests == 200
    states = await db.fetch("SELECT channel, state, count(*) FROM deliveries GROUP BY 1, 2")
    assert sorted(tuple(r) for r in states) == [
        ("apprise", "sent", 200),
        ("email", "sent", 200),
        ("push", "sent", 200),
    ]
