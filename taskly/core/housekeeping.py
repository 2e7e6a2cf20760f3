"""Housekeeping run by the scheduler: forget what has expired, so tables stay small."""

from __future__ import annotations

import logging

import asyncpg

from taskly.db import queries
from taskly.settings import Settings

log = logging.getLogger("taskly.housekeeping")


async def sweep(pool: asyncpg.Pool, settings: Settings) -> None:
    """Expired sessions, tasks deleted more than a day ago (past Undo), stale rate-limit
    state, and used-link records older than any link can be. Safe on every instance at once."""
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
    except Exception:
        log.exception("housekeeping failed; the next run retries")
