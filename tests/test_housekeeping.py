"""Housekeeping forgets expired sessions, deleted tasks past Undo, and old used links, and
keeps everything else."""

from __future__ import annotations

from taskly.core.housekeeping import sweep
from taskly.db import POOL_KEY
from tests.helpers import log_in, sign_up


async def test_sweep_removes_only_what_has_expired(app, client, db):
    await sign_up(client)
    other = app.test_client()
    await log_in(other, "ada@example.com")
    user_id = await db.fetchval("SELECT id FROM users")
    await db.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '20 days'"
        " WHERE token_hash = (SELECT token_hash FROM sessions ORDER BY created_at LIMIT 1)"
    )
    await db.execute(
        "INSERT INTO tasks (user_id, title, position, deleted_at) VALUES"
        " ($1, 'long gone', 1, now() - interval '2 days'), ($1, 'undo still possible', 2, now()),"
        " ($1, 'alive', 3, NULL)",
        user_id,
    )
    await db.execute(
        "INSERT INTO used_links (token_hash, used_at) VALUES"
        " ('\\x01', now() - interval '30 days'), ('\\x02', now())"
    )
    await sweep(app.extensions[POOL_KEY], app.extensions["taskly.settings"])
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1
    titles = {r["title"] for r in await db.fetch("SELECT title FROM tasks")}
    assert titles == {"undo still possible", "alive"}
    assert await db.fetchval("SELECT count(*) FROM used_links") == 1
    assert (await other.get("/")).status_code == 200  # the live session survived


async def test_sweep_forgets_finished_deliveries_after_thirty_days_but_not_what_counts(app, db):
    user_id = await db.fetchval(
        "INSERT INTO users (email, email_key, password_hash, first_name, last_name, time_zone)"
        " VALUES ('ada@example.com', 'ada@example.com', 'x', 'Ada', 'L', 'UTC') RETURNING id"
    )
    tasks = {}
    reminders = {}
    for title, next_fire, state in (
        ("daily", "now() + interval '1 day'", "active"),
        ("quiet", "NULL", "finished"),
        ("stuck", "now() - interval '60 days'", "active"),  # the engine has not moved past it
    ):
        tasks[title] = await db.fetchval(
            "INSERT INTO tasks (user_id, title, position) VALUES ($1, $2, 1) RETURNING id",
            user_id,
            title,
        )
        reminders[title] = await db.fetchval(
            "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at, state)"
            f" VALUES ($1, $2, 'at', now(), {next_fire}, $3) RETURNING id",
            user_id,
            tasks[title],
            state,
        )

    async def delivery(name: str, title: str | None, days_ago: int, state: str) -> None:
        await db.execute(
            "INSERT INTO deliveries (reminder_id, task_id, user_id, occurrence_at, channel,"
            " message_id, state, sent_at, retry_at, created_at)"
            " VALUES ($1, $2, $3, now() - make_interval(days => $4), 'email', $5, $6,"
            " CASE WHEN $6 = 'sent' THEN now() END, now(), now() - make_interval(days => $4))",
            reminders.get(title or ""),
            tasks.get(title or ""),
            user_id,
            days_ago,
            name,
            state,
        )

    await delivery("old sent", "daily", 40, "sent")
    await delivery("old skipped", "daily", 38, "skipped")
    await delivery("old pending", "daily", 50, "pending")  # still the engine's work
    await delivery("recent", "daily", 2, "sent")
    await delivery("quiet's last, failed", "quiet", 45, "failed")  # its card shows this
    await delivery("stuck's", "stuck", 60, "sent")
    await delivery("stuck's later", "stuck", 59, "sent")
    await delivery("task deleted", None, 31, "sent")
    await delivery("task deleted, recent", None, 29, "sent")
    await sweep(app.extensions[POOL_KEY], app.extensions["taskly.settings"])
    left = {r["message_id"] for r in await db.fetch("SELECT message_id FROM deliveries")}
    assert left == {
        "old pending",
        "recent",
        "quiet's last, failed",
        "stuck's",
        "stuck's later",
        "task deleted, recent",
    }
