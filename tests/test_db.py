"""The database plumbing around aiosql's query functions."""

from __future__ import annotations

import builtins
from typing import Any

import asyncpg
import pytest

from taskly.db import queries


async def test_a_query_on_a_connection_does_not_list_the_connections_attributes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiosql asked `"acquire" in dir(conn)` before every query (~20 µs each, three times per
    fragment); taskly.db answers the same question by type."""
    listed: list[Any] = []
    real_dir = builtins.dir

    def counting_dir(*args: Any) -> list[str]:
        listed.extend(args)
        return real_dir(*args)

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            monkeypatch.setattr(builtins, "dir", counting_dir)
            pid = await queries.backend_pid(conn)
            monkeypatch.undo()
            assert pid == await conn.fetchval("SELECT pg_backend_pid()")
        assert not [seen for seen in listed if seen is conn]
    finally:
        await pool.close()


async def test_a_query_given_the_pool_takes_a_connection_and_gives_it_back(
    database_url: str,
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        first = await queries.backend_pid(pool)
        second = await queries.backend_pid(pool)  # the one connection came back to the pool
        assert first == second
        assert pool.get_idle_size() == 1
    finally:
        await pool.close()
