"""The engine when things go wrong mid-batch: a graceful stop, a mail server that stops
answering, hostile titles (Hardening #4, #7, #11)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from tests.reminders.conftest import Clock, add_rule, at, engine_for, new_task


async def _wait_for(condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls state another thread changes
            await asyncio.sleep(0.01)


async def test_a_graceful_stop_mid_batch_records_what_was_sent_and_hands_back_the_rest(
    app, user, db, sink
):
    """SIGTERM during a batch: the scheduler cancels its job and stop() runs. The message
    being sent must finish and be recorded; only the messages never started are handed back.
    (Before: the send was cancelled after the server accepted it, its claim released, and
    another instance sent it again.)"""
    fire = at("2026-12-01T09:00:00+00:00")
    for i in range(10):
        await add_rule(db, await new_task(user, db, f"Task {i}"), fire)
    sink.delay = 0.05
    first = engine_for(app, sink, Clock(fire), reminder_batch=10)
    job = asyncio.create_task(first.run_once())
    loop = asyncio.get_running_loop()
    # The shutdown lands just as the server accepts the third message, before the engine
    # records it: what AsyncIOScheduler.shutdown() does to a running job, then stop().
    sink.on_accept = lambda count: count == 3 and loop.call_soon_threadsafe(job.cancel)
    await _wait_for(job.done)
    await first.stop()
    received = len(sink.messages)
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE state = 'sent'") == received
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE claimed_by IS NOT NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE claimed_by IS NOT NULL") == 0
    assert received < 10  # it did stop mid-batch

    second = engine_for(app, sink, Clock(fire))
    assert await second.tick() == 10 - received
    assert len(sink.messages) == 10
    assert len(set(sink.message_ids())) == 10


async def test_backoff_counts_from_each_failure_not_from_the_batch_start(app, user, db, sink):
    """A server that accepts the connection and never answers: each message is given up at
    SMTP_TIMEOUT, and its retry is a backoff after *its* failure. (It was counted from the
    batch's start, so a message that failed late in a batch was due again at once.) The clock
    moves a second every time the engine reads it: two messages of one batch that fail one
    after the other must get two different retry times, each 30 s after a reading."""
    start = at("2026-12-01T09:00:00+00:00")
    for i in range(2):
        await add_rule(db, await new_task(user, db, f"Task {i}"), start - timedelta(minutes=1))
    readings: list[datetime] = []

    def clock() -> datetime:
        readings.append(start + timedelta(seconds=len(readings)))
        return readings[-1]

    sink.hang = True
    engine = engine_for(app, sink, clock, smtp_timeout=0.5, reminder_batch=2)
    assert await engine.tick() == 0
    rows = await db.fetch("SELECT attempts, retry_at, last_error FROM deliveries")
    assert [r["attempts"] for r in rows] == [1, 1]
    assert all(r["last_error"].startswith("timed out") for r in rows)
    retries = {r["retry_at"] for r in rows}
    assert len(retries) == 2, "both retries counted from the batch's start"
    assert {retry - timedelta(seconds=30) for retry in retries} <= set(readings)


async def test_control_characters_in_a_title_never_reach_a_mail_header(app, user, db, sink):
    task_id = await new_task(user, db, "Pay the bill")
    await db.execute(
        "UPDATE tasks SET title = $1 WHERE id = $2", "Pay\x01 the\x07 bill\x1b[31m\u2028X", task_id
    )
    fire = at("2026-12-01T09:00:00+00:00")
    await add_rule(db, task_id, fire)
    assert await engine_for(app, sink, Clock(fire)).tick() == 1
    subject = sink.messages[0]["Subject"]
    assert subject == "Reminder: Pay  the  bill [31m X"
    assert subject.isprintable()
