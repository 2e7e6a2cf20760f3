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
