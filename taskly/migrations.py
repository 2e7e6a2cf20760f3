"""Forward-only schema migrations: sql/migrations/NNNN_name.sql, applied in order.

Each file runs in its own transaction and is recorded in `schema_migrations`. The whole run holds
a PostgreSQL advisory lock, so two instances migrating at once take turns instead of racing.
A database that records a version this code does not have is refused: it was migrated by newer
code, and running older code against it could corrupt data.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from taskly.resources import MIGRATIONS

# An arbitrary, fixed key for pg_advisory_lock: "taskly" in ASCII.
LOCK_KEY = 0x7461736B6C79
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_case.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def applied_versions(conn: asyncpg.Connection) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    return {row["version"]: row["checksum"] for row in rows}


def check_compatible(applied: dict[int, str], known: list[Migration]) -> list[Migration]:
    """Return the pending migrations, or raise if the database is ahead or was altered."""
    latest = known[-1].version if known else 0
    ahead = sorted(v for v in applied if v > latest)
    if ahead:
        raise MigrationError(
            f"the database is at schema version {max(ahead)} but this Taskly knows only up to "
            f"{latest}: it was migrated by a newer release; deploy that release (or newer) instead"
        )
    for migration in known:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql was changed after it was "
                "applied; migrations are forward-only, add a new file instead"
            )
    return [m for m in known if m.version not in applied]


async def migrate(conn: asyncpg.Connection, known: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations under the advisory lock; return the names applied."""
    known = load_migrations() if known is None else known
    done: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        pending = check_compatible(await applied_versions(conn), known)
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(f"{migration.version:04d}_{migration.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return done


async def pending_migrations(conn: asyncpg.Connection) -> list[Migration]:
    """What `migrate` would apply; raises MigrationError if the database is ahead."""
    return check_compatible(await applied_versions(conn), load_migrations())
