"""Database plumbing: the asyncpg pool, the transaction helper and the aiosql `queries` object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosql
import asyncpg
from quart import current_app, g

from taskly.resources import QUERIES
from taskly.settings import Settings

# Every named query in sql/queries, e.g. `queries.select_user_by_email(conn, email=...)`.
queries: Any = aiosql.from_path(QUERIES, "asyncpg")

POOL_KEY = "taskly.pool"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message is safe to show an operator."""


def describe_dsn(dsn: str) -> str:
    """The DSN with its password masked, for messages an operator reads."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """Open the pool, failing within `db_connect_timeout` if the server is unreachable."""
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout,
            max_inactive_connection_lifetime=300,
            server_settings={"application_name": "taskly", "timezone": "UTC"},
            reset=_keep_session,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release `RESET ALL; UNLISTEN *; ...` round trip.

    Taskly never changes session state on pooled connections (no SET, LISTEN, advisory locks or
    open cursors; migrations use their own connection), and asyncpg still rolls back any open
    transaction before this runs. That saves one round trip on every request.
    """


def current_pool() -> asyncpg.Pool:
    pool: asyncpg.Pool = current_app.extensions[POOL_KEY]
    return pool


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """This request's pooled connection: taken on first use (waiting at most
    DB_ACQUIRE_TIMEOUT), shared by everything in the request, given back when it ends."""
    conn: asyncpg.Connection | None = g.get("_db_connection")
    if conn is None:
        timeout = current_app.config["DB_ACQUIRE_TIMEOUT"]
        conn = await current_pool().acquire(timeout=timeout)
        g._db_connection = conn
    yield conn


async def release_connection(_: BaseException | None = None) -> None:
    """Teardown: give the request's connection back to the pool."""
    conn = g.pop("_db_connection", None)
    if conn is not None:
        await current_pool().release(conn)


@asynccontextmanager
async def transaction() -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside one transaction: all of the block's writes, or none."""
    async with connection() as conn, conn.transaction():
        yield conn
