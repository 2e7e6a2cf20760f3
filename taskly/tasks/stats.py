"""The stats strip and the bucket totals: open, overdue, done this week, the median time to
done (sql/migrations/0013_task_stats.sql's `task_stats`, read by select-stats and by the live
board's event in the same statement as the changed cards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from taskly.db import queries
from taskly.tasks.model import local_now

MEDIAN_SAMPLE = 50  # "median time to done" is over the latest completions


@dataclass(frozen=True, slots=True)
class Stats:
    todo: int = 0
    doing: int = 0
    done: int = 0
    overdue: int = 0
    done_this_week: int = 0
    median_seconds_to_done: float | None = None
    matches: dict[str, int] | None = None  # per bucket, while searching ("3 of 12")

    @classmethod
    def from_row(cls, row: Any) -> Stats:
        return cls(
            row["todo"],
            row["doing"],
            row["done"],
            row["overdue"],
            row["done_this_week"],
            row["median_seconds_to_done"],
        )

    @property
    def open(self) -> int:
        return self.todo + self.doing

    def count(self, status: str) -> int:
        value: int = getattr(self, status)
        return value


def stats_window(zone: str) -> dict[str, Any]:
    """The parameters of the stats strip (task_stats in sql/migrations/0013_task_stats.sql)."""
    today = local_now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "now": datetime.now(UTC),
        "week_start": today - timedelta(days=today.weekday()),
        "median_sample": MEDIAN_SAMPLE,
    }


async def select_stats(conn: asyncpg.Connection, user_id: int, zone: str) -> Stats:
    row = await queries.select_stats(conn, user_id=user_id, **stats_window(zone))
    return Stats.from_row(row)
