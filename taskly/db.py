"""Database plumbing: the asyncpg pool, the transaction helper and the aiosql `queries` object."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosql
import aiosql.adapters.asyncpg as aiosql_asyncpg
import asyncpg
from quart import current_app, g
from werkzeug.exceptions import TooManyRequests

from taskly.resources import QUERIES
from taskly.settings import Settings, SettingsError


class _PoolOrConnection(aiosql_asyncpg.MaybeAcquire):
    """aiosql's check, before every query, whether it was given a pool to acquire from or a
    connection: it asks `"acquire" in dir(client)`, which lists and sorts some 150 attribute
    names of the connection (~20 µs, three times per fragment). The same question, answered
    by the type."""

    async def __aenter__(self) -> Any:
        if isinstance(self.client, asyncpg.Pool):
            self._managed_conn = await self.client.acquire()
            return self._managed_conn
        self._managed_conn = None
        return self.client


# Each adapter method looks the class up by name in its module when it runs.
aiosql_asyncpg.MaybeAcquire = _PoolOrConnection  # type: ignore[misc]

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


SHARE_PROBES = 5  # tries of the transaction-pooling check at start (see shares_server_sessions)


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """Open the pool, failing within `db_connect_timeout` if the server is unreachable.

    With DB_PGBOUNCER the pool works through a transaction-pooling PgBouncer, where each
    transaction (or statement outside one) may run on another server connection, so nothing
    may outlive it there. asyncpg's cached, named prepared statements would: the cache is off,
    and asyncpg then parses each statement again in the message batch that runs it. The
    startup parameters below are ones PgBouncer tracks per client and sets on whichever server
    connection it lends; nothing else is session state (see `_keep_session`). Without
    DB_PGBOUNCER, a transaction-pooling proxy is detected here and refused.
    """
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
            **({"statement_cache_size": 0} if settings.db_pgbouncer else {}),
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
    if not settings.db_pgbouncer:
        try:
            pooled = await shares_server_sessions(pool)
        except BaseException:
            await pool.close()
            raise
        if pooled:
            await pool.close()
            raise SettingsError(
                f"{describe_dsn(dsn)} reaches PostgreSQL through transaction pooling (two "
                "connections shared one server session), which breaks prepared statements: "
                "set DB_PGBOUNCER=true"
            )
    return pool


async def shares_server_sessions(pool: asyncpg.Pool) -> bool:
    """Whether two of the pool's connections, used one after the other, reach the same server
    session: a transaction- (or statement-) pooling PgBouncer lends the idle server connection
    to the next client. Two open connections to PostgreSQL itself, or through session pooling,
    are always two backends, so a True is never wrong; a busy bouncer may lend the second
    client another server connection, so a False is not proof. Hence a few tries: other clients
    of the same bouncer (another instance starting, a pool closing) rarely interleave each time.
    """
    if pool.get_max_size() < 2:
        return False
    async with pool.acquire() as first, pool.acquire() as second:
        for _ in range(SHARE_PROBES):
            try:
                one = await queries.backend_pid(first)
                two = await queries.backend_pid(second)
            except (asyncpg.InvalidSQLStatementNameError, asyncpg.DuplicatePreparedStatementError):
                return True  # a named prepared statement was lost between server connections
            if one == two:
                return True
    return False


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release `RESET ALL; UNLISTEN *; ...` round trip.

    Taskly never changes session state on pooled connections (no SET, LISTEN, advisory locks,
    temporary tables or open cursors; migrations use their own connection, to
    DATABASE_DIRECT_URL), and asyncpg still rolls back any open transaction before this runs.
    That saves one round trip on every request, and is what makes the pool safe behind a
    transaction-pooling PgBouncer: nothing is left on a server connection for the next client.
    """


def current_pool() -> asyncpg.Pool:
    pool: asyncpg.Pool = current_app.extensions[POOL_KEY]
    return pool


class FairShare:
    """At most `share` of this process's pooled connections for one account at a time (and
    for all anonymous requests together), so one client with many parallel requests cannot
    keep everybody else waiting for the pool. Past its share a request waits, then gets a 429.
    """

    def __init__(self, share: int) -> None:
        self.share = share
        self._slots: dict[object, asyncio.Semaphore] = {}
        self._waiting: Counter[object] = Counter()

    async def take(self, owner: object, wait: float) -> None:
        slot = self._slots.setdefault(owner, asyncio.Semaphore(self.share))
        self._waiting[owner] += 1
        try:
            async with asyncio.timeout(wait):
                await slot.acquire()
        except TimeoutError:
            self._forget(owner)
            raise TooManyRequests(
                "Too many requests at once from this account. Wait a moment and try again.",
                retry_after=1,
            ) from None
        except BaseException:  # the client went away while waiting: no slot was taken
            self._forget(owner)
            raise

    def give(self, owner: object) -> None:
        self._slots[owner].release()
        self._forget(owner)

    def _forget(self, owner: object) -> None:
        self._waiting[owner] -= 1
        if not self._waiting[owner]:
            del self._waiting[owner]
            del self._slots[owner]


FAIR_SHARE_KEY = "taskly.fair_share"


@asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """This request's pooled connection: taken on first use (waiting at most
    DB_ACQUIRE_TIMEOUT, and within the account's fair share), shared by everything in the
    request, given back when it ends. The request body is always read before (taskly.guard),
    so a connection is never held while waiting on a client."""
    conn: asyncpg.Connection | None = g.get("_db_connection")
    if conn is None:
        timeout = current_app.config["DB_ACQUIRE_TIMEOUT"]
        user = g.get("user")
        owner = "anonymous" if user is None else user.id
        share: FairShare = current_app.extensions[FAIR_SHARE_KEY]
        await share.take(owner, timeout)
        try:
            conn = await current_pool().acquire(timeout=timeout)
        except BaseException:
            share.give(owner)
            raise
        g._db_connection = conn
        g._db_owner = owner
    yield conn


async def release_connection(_: BaseException | None = None) -> None:
    """Teardown: give the request's connection (and the account's slot) back."""
    conn = g.pop("_db_connection", None)
    if conn is not None:
        try:
            await current_pool().release(conn)
        finally:
            current_app.extensions[FAIR_SHARE_KEY].give(g.pop("_db_owner"))


@asynccontextmanager
async def transaction() -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside one transaction: all of the block's writes, or none."""
    async with connection() as conn, conn.transaction():
        yield conn
