"""Housekeeping run by the scheduler: forget what has expired, so tables stay small."""

from __future__ import annotations

import logging

import asyncpg

from taskly.db import queries
from taskly.settings import Settings

log = logging.getLogger("taskly.housekeeping")


async def sweep(pool: asyncpg.Pool, settings: Settings) -> None:
    """Expired sessions, tasks deleted more than a day ago (past Undo), stale rate-limit
    state, used-link records older than any link can be, spent or expired account links,
    imports never confirmed, and past days' mail counts. Safe on every instance at once."""
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
    except Exception:
        log.exception("housekeeping failed; the next run retries")
