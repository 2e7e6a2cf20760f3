"""Fault-suite fixtures: real processes only. A PostgreSQL server per test module (a test may stop
and start it), a fresh migrated database per test, an SMTP sink, and a launcher for Taskly
processes that ends every one of them at teardown (terminate, then kill)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from taskly.migrations import migrate
from tests.faults.services import Launcher, Postgres, Sink


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    server = Postgres(tmp_path_factory.mktemp("faults-pg"))
    yield server
    server.close()


@pytest.fixture
async def dsn(pg: Postgres) -> str:
    """A fresh, migrated database on the module's server."""
    name = f"f_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(pg.dsn("postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(pg.dsn(name))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return pg.dsn(name)


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def launcher(tmp_path: Path, dsn: str, sink: Sink) -> Iterator[Launcher]:
    started = Launcher(tmp_path, dsn, sink.url)
    yield started
    started.close()
