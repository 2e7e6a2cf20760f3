"""The reminder engine against real PostgreSQL and a real SMTP server, with a controlled clock:
each kind fires at the right instant, nothing is sent for finished tasks, failures retry or
stop, downtime sends one late mail, two processes deliver each occurrence once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta

from taskly.db import POOL_KEY, queries
from tests.helpers import page_token
from tests.reminders.conftest import Clock, add_rule, at, engine_for, new_task

HX = {"HX-Request": "true"}


async def test_an_at_reminder_fires_at_its_instant_once(app, user, db, sink):
    task_id = await new_task(user, db, "Call the bank")
    fire = at("2026-12-01T09:00:00+01:00")
    reminder_id = await add_rule(db, task_id, fire)
    clock = Clock(fire - timedelta(seconds=1))
    engine = engine_for(app, sink, clock)
    assert await engine.tick() == 0
    clock.now = fire
    assert await engine.tick() == 1
    assert await engine.tick() == 0
    [message] = sink.messages
    assert message["Subject"] == "Reminder: Call the bank"
    assert message["To"] == "Ada <ada@example.com>"
    assert message["Message-ID"] == f"<reminder-{reminder_id}-{int(fire.timestamp())}@localhost>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://localhost/m/")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for label in (
        "Open task",
        "Mark done",
        "Snooze 1 hour",
        "Snooze until tomorrow 09:00",
        "Unsubscribe from this task",
    ):
        assert label in text and label in html
    row = await db.fetchrow("SELECT * FROM reminders WHERE id = $1", reminder_id)
    assert (row["state"], row["next_fire_at"], row["claimed_by"]) == ("finished", None, None)
    delivery = await db.fetchrow("SELECT * FROM deliveries")
    assert delivery["message_id"] == message["Message-ID"] and not delivery["late"]


async def test_due_date_is_shown_on_the_users_clock(app, user, db, sink):
    task_id = await new_task(user, db, "Tax return")
    await db.execute(
        "UPDATE tasks SET due_at = $1 WHERE id = $2", at("2026-12-01T16:00:00+00:00"), task_id
    )
    await add_rule(db, task_id, at("2026-12-01T08:00:00+00:00"))
    await engine_for(app, sink, Clock(at("2026-12-01T08:00:00+00:00"))).tick()
    text = sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "Due: Tuesday, 1 December 2026, 17:00 CET" in text


async def test_reminder_mail_reads_in_the_users_format(app, user, db, sink):
    await db.execute("UPDATE users SET locale = 'en-US'")
    task_id = await new_task(user, db, "Tax return")
    await db.execute(
        "UPDATE tasks SET due_at = $1 WHERE id = $2", at("2026-12-01T16:00:00+00:00"), task_id
    )
    missed = at("2026-12-01T08:00:00+00:00")
    await add_rule(db, task_id, missed)
    await engine_for(app, sink, Clock(missed + timedelta(hours=2))).tick()  # sent late
    [message] = sink.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "Tuesday, December 1, 2026, 5:00\u202fPM CET" in part  # due
        assert "was due Tuesday, December 1, 2026, 9:00\u202fAM CET" in part  # the late occurrence
        assert "Snooze until tomorrow 9:00\u202fAM" in part


async def test_a_lead_time_reminder_follows_the_due_date(app, user, db, sink):
    task_id = await new_task(user, db, "Dentist")
    token = await page_token(user, "/")
    version = await db.fetchval("SELECT version FROM tasks WHERE id = $1", task_id)
    await user.post(
        f"/tasks/{task_id}",
        form={
            "title": "Dentist",
            "due_date": "2027-01-15",
            "due_time": "10:00",
            "version": str(version),
        },
        headers={"X-CSRF-Token": token},
    )
    await user.post(
        f"/tasks/{task_id}/reminders", form={"lead": "60"}, headers={"X-CSRF-Token": token}
    )
    expected = at("2027-01-15T09:00:00+01:00")  # one hour before 10:00 Berlin
    assert (
        await db.fetchval("SELECT next_fire_at FROM reminders WHERE task_id = $1", task_id)
        == expected
    )
    version = await db.fetchval("SELECT version FROM tasks WHERE id = $1", task_id)
    await user.post(
        f"/tasks/{task_id}",
        form={
            "title": "Dentist",
            "due_date": "2027-01-16",
            "due_time": "10:00",
            "version": str(version),
        },
        headers={"X-CSRF-Token": token},
    )
    moved = await db.fetchval("SELECT next_fire_at FROM reminders WHERE task_id = $1", task_id)
    assert moved == expected + timedelta(days=1)


async def test_daily_reminder_keeps_local_time_across_dst(app, user, db, sink):
    task_id = await new_task(user, db, "Stretch")
    first = at("2026-03-28T09:00:00+01:00")
    reminder_id = await add_rule(
        db, task_id, first, kind="repeat", repeat="daily", repeat_time=time(9, 0), fire_at=None
    )
    clock = Clock(first)
    engine = engine_for(app, sink, clock)
    assert await engine.tick() == 1
    following = await db.fetchval("SELECT next_fire_at FROM reminders WHERE id = $1", reminder_id)
    assert following == at("2026-03-29T09:00:00+02:00")  # 07:00 UTC, the day DST starts
    clock.now = following
    assert await engine.tick() == 1
    assert len(set(sink.message_ids())) == 2


async def test_finished_deleted_and_unsubscribed_tasks_send_nothing(app, user, db, sink):
    fire = at("2026-12-01T09:00:00+00:00")
    done = await new_task(user, db, "Done already")
    gone = await new_task(user, db, "Deleted")
    unsubscribed = await new_task(user, db, "Unsubscribed")
    for task_id in (done, gone, unsubscribed):
        await add_rule(
            db, task_id, fire, kind="repeat", repeat="daily", repeat_time=time(10), fire_at=None
        )
    token = await page_token(user, "/")
    headers = {"X-CSRF-Token": token}
    await user.post(f"/tasks/{done}/status", form={"status": "done"}, headers=headers)
    await user.post(f"/tasks/{gone}/delete", headers=headers)
    await user.post(f"/tasks/{unsubscribed}/reminders/delete", headers=headers)
    engine = engine_for(app, sink, Clock(fire + timedelta(minutes=1)))
    await engine.tick()
    reminders = [m for m in sink.messages if m["Subject"].startswith("Reminder:")]
    assert reminders == []
    assert [m["Subject"] for m in sink.messages] == ["Reminders off: Unsubscribed"]
    states = dict(await db.fetch("SELECT task_id, state FROM reminders"))
    assert states[done] == states[gone] == "active"  # kept for Undo / reopening, skipped now
    assert unsubscribed not in states
    # Reopened, the task's reminder resumes at its next occurrence.
    await user.post(f"/tasks/{done}/status", form={"status": "todo"}, headers=headers)
    engine.clock.now = fire + timedelta(days=1, hours=1)  # type: ignore[attr-defined]
    assert await engine.tick() == 1
    assert sink.messages[-1]["Subject"] == "Reminder: Done already"


async def test_reminder_mail_switched_off_sends_nothing_and_moves_on(app, user, db, sink):
    task_id = await new_task(user, db, "Quiet")
    fire = at("2026-12-01T09:00:00+00:00")
    reminder_id = await add_rule(
        db, task_id, fire, kind="repeat", repeat="daily", repeat_time=time(10), fire_at=None
    )
    await db.execute("UPDATE users SET reminders_enabled = false")
    await engine_for(app, sink, Clock(fire)).tick()
    assert sink.messages == []
    assert await db.fetchval("SELECT next_fire_at FROM reminders WHERE id = $1", reminder_id) > fire


async def test_smtp_down_then_back_loses_nothing_and_doubles_nothing(app, user, db, sink):
    task_ids = [await new_task(user, db, f"Task {i}") for i in range(3)]
    fire = at("2026-12-01T09:00:00+00:00")
    for task_id in task_ids:
        await add_rule(db, task_id, fire)
    sink.stop()  # connection refused
    clock = Clock(fire)
    engine = engine_for(app, sink, clock)
    assert await engine.tick() == 0
    rows = await db.fetch("SELECT * FROM deliveries")
    assert {r["attempts"] for r in rows} == {1}
    assert all(r["state"] == "pending" and r["retry_at"] > fire for r in rows)
    assert all("refused" in r["last_error"].lower() or r["last_error"] for r in rows)
    clock.now = fire + timedelta(seconds=10)
    sink.start()
    assert await engine.tick() == 0  # still backing off: retry_at not reached
    clock.now = fire + timedelta(minutes=2)
    assert await engine.tick() == 3
    assert await engine.tick() == 0
    assert len(sink.messages) == 3
    assert len(set(sink.message_ids())) == 3
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE state = 'sent'") == 3


async def test_a_permanent_refusal_is_recorded_and_shown_on_the_task(app, user, db, sink):
    task_id = await new_task(user, db, "Bounce")
    fire = at("2026-12-01T09:00:00+00:00")
    await add_rule(db, task_id, fire)
    sink.reject["ada@example.com"] = "550 No such user here"
    engine = engine_for(app, sink, Clock(fire))
    assert await engine.tick() == 0
    row = await db.fetchrow("SELECT state, last_error FROM deliveries")
    assert row["state"] == "failed" and row["last_error"].startswith("550")
    board = await (await user.get("/")).get_data(as_text=True)
    assert "Reminder email failed: 550" in board
    assert await engine.tick() == 0  # not retried


async def test_downtime_catch_up_sends_one_late_mail(app, user, db, sink):
    task_id = await new_task(user, db, "Water plants")
    missed = at("2026-12-01T09:00:00+01:00")
    reminder_id = await add_rule(
        db, task_id, missed, kind="repeat", repeat="daily", repeat_time=time(9, 0), fire_at=None
    )
    now = missed + timedelta(days=3, hours=2)  # down for three days
    engine = engine_for(app, sink, Clock(now))
    assert await engine.tick() == 1
    assert await engine.tick() == 0
    text = sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "could not be sent on time" in text
    assert await db.fetchval("SELECT late FROM deliveries") is True
    assert await db.fetchval("SELECT next_fire_at FROM reminders WHERE id = $1", reminder_id) == at(
        "2026-12-05T09:00:00+01:00"
    )


async def test_a_slow_server_cannot_stall_the_engine(app, user, db, sink):
    task_id = await new_task(user, db, "Slow")
    fire = at("2026-12-01T09:00:00+00:00")
    await add_rule(db, task_id, fire)

    async def stall(server, session, envelope):
        await asyncio.sleep(5)
        return "250 too late"

    sink.handle_DATA = stall  # type: ignore[method-assign]
    engine = engine_for(app, sink, Clock(fire), smtp_timeout=0.5, reminder_lease=30)
    assert await engine.tick() == 0
    row = await db.fetchrow("SELECT attempts, state, last_error FROM deliveries")
    assert (row["attempts"], row["state"]) == (1, "pending")
    assert "timed out" in row["last_error"].lower() or "timeout" in row["last_error"].lower()


async def test_stop_releases_unfinished_claims(app, user, db, sink):
    task_id = await new_task(user, db, "Claimed")
    fire = at("2026-12-01T09:00:00+00:00")
    await add_rule(db, task_id, fire)
    engine = engine_for(app, sink, Clock(fire))
    async with app.extensions[POOL_KEY].acquire() as conn:
        claimed = [
            r
            async for r in queries.claim_due_reminders(
                conn, worker=engine.worker, now=fire, lease_seconds=60.0, batch=10
            )
        ]
    assert len(claimed) == 1
    assert await db.fetchval("SELECT claimed_by FROM reminders") == engine.worker
    await engine.stop()
    assert await db.fetchval("SELECT claimed_by FROM reminders") is None


async def test_confirmations_wait_a_quiet_minute_and_toggling_sends_at_most_one(
    app, user, db, sink
):
    """Toggling Remind me 20 times once mailed 20 confirmations to an unconfirmed address.
    Now each waits a minute: a newer one replaces it, and on-then-off cancels out."""
    task_id = await new_task(user, db, "Confirm me")
    headers = {"X-CSRF-Token": await page_token(user, "/")}
    on = {"repeat": "daily", "repeat_time": "08:30"}
    for _ in range(10):  # on, off, on, off ...: nothing changed in the end
        await user.post(f"/tasks/{task_id}/reminders", form=on, headers=headers)
        await user.post(f"/tasks/{task_id}/reminders/delete", headers=headers)
    now = datetime.now(UTC)
    engine = engine_for(app, sink, Clock(now + timedelta(minutes=2)))
    await engine.tick()
    assert sink.messages == []
    for path, form in ((f"/tasks/{task_id}/reminders", on),) * 2 + (
        (f"/tasks/{task_id}/reminders/delete", {}),
        (f"/tasks/{task_id}/reminders", on),
    ):  # on, on again (no change), off, on: one "on"
        await user.post(path, form=form, headers=headers)
    engine.clock.now = datetime.now(UTC) + timedelta(seconds=30)  # type: ignore[attr-defined]
    assert await engine.tick() == 0  # still within the quiet minute
    engine.clock.now = datetime.now(UTC) + timedelta(seconds=61)  # type: ignore[attr-defined]
    assert await engine.tick() == 1
    assert [m["Subject"] for m in sink.messages] == ["Reminders on: Confirm me"]
    await user.post(f"/tasks/{task_id}/reminders/delete", headers=headers)
    engine.clock.now = datetime.now(UTC) + timedelta(seconds=61)  # type: ignore[attr-defined]
    assert await engine.tick() == 1
    assert [m["Subject"] for m in sink.messages][-1] == "Reminders off: Confirm me"
    assert len(set(sink.message_ids())) == 2


def test_two_processes_deliver_each_of_200_reminders_once(database_url, sink, tmp_path):
    async def seed() -> None:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            user_id = await conn.fetchval(
                "INSERT INTO users (email, email_key, first_name, last_name, password_hash,"
                " email_verified_at) VALUES ('many@example.com', 'many@example.com', 'Many',"
                " 'Tasks', 'x', now()) RETURNING id"
            )
            await conn.execute(
                "INSERT INTO tasks (user_id, title, position)"
                " SELECT $1, 'Task ' || g, g FROM generate_series(1, 200) g",
                user_id,
            )
            await conn.execute(
                "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at)"
                " SELECT user_id, id, 'at', now() - interval '1 minute',"
                "        now() - interval '1 minute' FROM tasks WHERE user_id = $1",
                user_id,
            )
        finally:
            await conn.close()

    async def clean() -> None:
        from tests.conftest import empty_tables

        await empty_tables(database_url)

    asyncio.run(seed())
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMTP_URL": sink.url,
        "TASKLY_ENV": "test",
        "TASKLY_DATA_DIR": str(tmp_path),
        "REMINDER_BATCH": "20",
        "MAIL_DAILY_LIMIT": "0",  # 200 to one account: this test is about exactly-once
    }
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "taskly", "send-reminders", "--once"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        counts = [int(out.split("sent ")[1].split()[0]) for out, _ in outputs]
        assert sum(counts) == 200
        ids = sink.message_ids()
        assert len(ids) == 200
        assert len(set(ids)) == 200
    finally:
        asyncio.run(clean())


async def test_smtp_url_with_starttls_is_refused_by_a_server_without_it(app, user, db, sink):
    """smtp:// requires STARTTLS: a server that does not offer it gets nothing, not clear text."""
    task_id = await new_task(user, db, "Secret")
    fire = at("2026-12-01T09:00:00+00:00")
    await add_rule(db, task_id, fire)
    plain = f"smtp://user:password@127.0.0.1:{sink.port}"
    from dataclasses import replace

    from taskly.mail import SmtpConfig
    from taskly.reminders.engine import ReminderEngine

    settings = replace(app.extensions["taskly.settings"], smtp_url=plain)
    engine = ReminderEngine(
        settings, app.extensions[POOL_KEY], SmtpConfig.from_url(plain), Clock(fire)
    )
    assert await engine.tick() == 0
    assert sink.messages == []
    row = await db.fetchrow("SELECT state, last_error FROM deliveries")
    assert row["state"] == "failed"
    assert "does not offer STARTTLS" in row["last_error"]


async def test_one_unsendable_row_does_not_hold_up_the_others(app, user, db, sink):
    fire = at("2026-12-01T09:00:00+00:00")
    good = await new_task(user, db, "Good")
    await add_rule(db, good, fire + timedelta(seconds=1))
    bad_user = await db.fetchval(
        "INSERT INTO users (email, email_key, first_name, last_name, password_hash,"
        " email_verified_at) VALUES ('josé@example.com', 'josé@example.com', 'Jo\nX: y', 'Bad',"
        " 'x', now()) RETURNING id"
    )
    bad = await db.fetchval(
        "INSERT INTO tasks (user_id, title, position) VALUES ($1, 'Bad', 1) RETURNING id",
        bad_user,
    )
    await add_rule(db, bad, fire)  # due first, so it is tried first
    engine = engine_for(app, sink, Clock(fire + timedelta(minutes=1)))
    assert await engine.tick() == 1
    assert [m["Subject"] for m in sink.messages] == ["Reminder: Good"]
    row = await db.fetchrow(
        "SELECT state, last_error, claimed_by FROM deliveries WHERE task_id = $1", bad
    )
    assert row["state"] == "failed" and row["claimed_by"] is None
    assert row["last_error"].startswith("cannot be sent")


def test_backoff_grows_and_is_capped():
    from taskly.reminders.engine import backoff

    assert [backoff(n).total_seconds() for n in range(4)] == [30, 60, 120, 240]
    assert backoff(10_000).total_seconds() == 3600
