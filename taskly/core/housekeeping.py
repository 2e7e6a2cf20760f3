"""Housekeeping run by the scheduler: forget what has expired, so tables stay small."""

from __future__ import annotations

import logging

import asyncpg

from taskly.db import queries
from taskly.settings import Settings

log = logging.getLogger("taskly.housekeeping")
DELIVERY_HISTORY = 30 * 24 * 3600.0  # seconds a finished reminder delivery is kept
DELIVERY_BATCH = 5000  # per sweep (every 10 minutes, on every instance)


async def sweep(pool: asyncpg.Pool, settings: Settings) -> None:
    """Expired sessions, tasks deleted more than a day ago (past Undo), stale rate-limit
    state, used-link records older than any link can be, spent or expired account links,
    imports never confirmed, past days' mail counts, the live board's old change log, and
    reminder deliveries finished more than DELIVERY_HISTORY ago (a batch at a time). Safe on
    every instance at once."""
    try:
        async with pool.acquire() as conn:
            await queries.delete_expired_sessions(
                conn,
                idle_seconds=float(settings.session_idle_timeout),
                absolute_seconds=float(settings.session_absolute_timeout),
            )
            await queries.purge_all_deleted_tasks(conn)
            await queries.delete_stale_rate_limits(conn)
            await queries.delete_old_used_links(conn, max_age=float(settings.link_max_age))
            await queries.delete_old_account_tokens(conn)
            await queries.delete_old_pending_imports(conn)
            await queries.delete_old_mail_budget(conn)
            await queries.delete_old_live_changes(conn)
            await queries.delete_old_deliveries(
                conn, max_age=DELIVERY_HISTORY, batch=DELIVERY_BATCH
            )
    except Exception:
        log.exception("housekeeping failed; the next run retries")
