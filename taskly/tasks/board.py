"""Reading the board a page at a time, and placing a dropped card.

Each bucket shows its first PAGE_SIZE cards; the rest come a page at a time as the user
reaches them (keyset paging on (position, id), so a card added or moved meanwhile neither
repeats nor is skipped). A page that redraws a list the user has scrolled through asks for as
many cards as it shows (`shown`), so nothing they were looking at disappears."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from taskly.db import queries
from taskly.tasks.model import STATUSES, Task, Undo, local_now, search_pattern
from taskly.tasks.stats import Stats, stats_window

PAGE_SIZE = 50
SHOWN_MAX = 2000  # the most a redraw sends back, however far the user scrolled
START = (float("-inf"), 0)  # before the first card: positions are finite


class Board(dict[str, list[Task]]):
    """Cards per bucket, and whether each bucket has more after its last card."""

    def __init__(self) -> None:
        super().__init__({name: [] for name in STATUSES})
        self.more: dict[str, bool] = dict.fromkeys(STATUSES, False)

    def next_after(self, status: str) -> str:
        """The keyset cursor of the bucket's next page ("position:id")."""
        last = self[status][-1]
        return f"{last.position!r}:{last.id}"


@dataclass(frozen=True, slots=True)
class Search:
    text: str = ""
    filter: str = ""

    def __bool__(self) -> bool:
        return bool(self.text or self.filter)


def parse_cursor(value: str) -> tuple[float, int] | None:
    """ "position:id" from a "Show more" link; None if it is not one."""
    position, _, id_ = value.partition(":")
    try:
        cursor = float(position), int(id_)
    except ValueError:
        return None
    if cursor[0] != cursor[0] or abs(cursor[0]) > 1e300 or not 0 < cursor[1] < 2**63:
        return None
    return cursor


def _window(zone: str) -> dict[str, datetime]:
    start = local_now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"now": datetime.now(UTC), "day_start": start, "day_end": start + timedelta(days=1)}


async def select_board(
    conn: asyncpg.Connection,
    user_id: int,
    zone: str,
    search: Search,
    statuses: tuple[str, ...] = STATUSES,
    after: tuple[float, int] = START,
    shown: dict[str, int] | None = None,
) -> Board:
    """A page of each bucket in `statuses` after `after`. `shown` asks for more than a page
    where the user already has more on screen (one query per such bucket)."""
    board = Board()
    sizes: dict[int, list[str]] = {}
    for status in statuses:
        size = max(PAGE_SIZE, min((shown or {}).get(status, 0), SHOWN_MAX))
        sizes.setdefault(size, []).append(status)
    for size, group in sizes.items():
        rows = queries.select_board(
            conn,
            user_id=user_id,
            search=search_pattern(search.text),
            filter=search.filter,
            statuses=group,
            after_position=after[0],
            after_id=after[1],
            page_size=size,
            **_window(zone),
        )
        async for row in rows:
            bucket = board[row["status"]]
            if len(bucket) < size:
                bucket.append(Task.from_row(row))
            else:
                board.more[row["status"]] = True
    return board


async def count_matches(
    conn: asyncpg.Connection, user_id: int, zone: str, search: Search
) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    rows = queries.count_matches(
        conn,
        user_id=user_id,
        search=search_pattern(search.text),
        filter=search.filter,
        **_window(zone),
    )
    async for row in rows:
        counts[row["status"]] = row["matches"]
    return counts


async def _position_between(
    conn: asyncpg.Connection, user_id: int, task_id: int, status: str, after_id: int | None
) -> float | None:
    """A position right after card `after_id` in `status` (at the top if None), or None if
    no float fits between its neighbours (or the card left the bucket meanwhile)."""
    if after_id is None:
        first = await queries.position_after(
            conn,
            user_id=user_id,
            status=status,
            after_position=START[0],
            after_id=START[1],
            moving_id=task_id,
        )
        return 0.0 if first is None else float(first) - 1
    before = await queries.card_position(conn, id=after_id, user_id=user_id, status=status)
    if before is None:
        return None
    after = await queries.position_after(
        conn,
        user_id=user_id,
        status=status,
        after_position=before,
        after_id=after_id,
        moving_id=task_id,
    )
    if after is None:
        return float(before) + 1
    middle = (before + after) / 2
    return middle if before < middle < after else None


async def place_task(
    conn: asyncpg.Connection, user_id: int, task_id: int, status: str, after_id: int | None
) -> tuple[Task, Undo | None] | None:
    """Drop the task into `status` right after card `after_id` (top if None), in a
    transaction. Returns the task and the Undo for what changed (None if it was already
    there); None if the task or the card it was dropped after is gone."""
    old = await queries.lock_task(conn, id=task_id, user_id=user_id)
    if old is None or after_id == task_id:
        return None
    if after_id is not None and (
        await queries.card_position(conn, id=after_id, user_id=user_id, status=status) is None
    ):
        return None  # that card is not there any more (or never was this user's)
    position = await _position_between(conn, user_id, task_id, status, after_id)
    if position is None:
        # Two cards share a position, or floats ran out between them: number the bucket
        # 1, 2, 3… (order kept), then the place exists. The task's own Undo position is
        # re-read, as the renumbering may have changed it.
        await queries.renumber_bucket(conn, user_id=user_id, status=status)
        old = await queries.lock_task(conn, id=task_id, user_id=user_id)
        position = await _position_between(conn, user_id, task_id, status, after_id)
        if position is None:
            return None
    if old["status"] == status and await _already_there(conn, user_id, old, after_id):
        row = await queries.select_task(conn, id=task_id, user_id=user_id)
        return Task.from_row(row), None
    row = await queries.place_task(
        conn, id=task_id, user_id=user_id, status=status, position=position
    )
    undo = Undo(task_id, old["status"], old["position"], old["completed_at"], row["version"])
    return Task.from_row(row), undo


async def _already_there(
    conn: asyncpg.Connection, user_id: int, old: asyncpg.Record, after_id: int | None
) -> bool:
    """Whether the card already sits right after `after_id` (a drop where it started)."""
    previous = await queries.position_before(
        conn, user_id=user_id, status=old["status"], position=old["position"], id=old["id"]
    )
    return bool(previous == after_id)


async def swap_with_neighbour(
    conn: asyncpg.Connection, user_id: int, task_id: int, other_id: int, up: bool
) -> list[Task]:
    """Swap the task with `other_id`, the card the page shows above it (`up`) or below it:
    both cards in their new order, or [] if that is not how they stand (the page is stale,
    they share a position, or either is gone, elsewhere or not the user's)."""
    rows = queries.swap_with_neighbour(conn, id=task_id, other_id=other_id, user_id=user_id, up=up)
    return [Task.from_row(row) async for row in rows]


@dataclass
class LiveChanges:
    """What changed on a user's board after a change number (taskly/live/stream.py)."""

    current: int  # the user's change number as read
    numbers: set[int]  # the change numbers after the one asked about
    task_ids: set[int]  # the tasks they touched (0: the whole board)
    cards: list[Task]  # those the board shows under its search, in board order
    versions: dict[int, int]  # of every one of them that still exists
    stats: Stats


async def select_live_changes(
    conn: asyncpg.Connection, user_id: int, zone: str, search: Search, since: int, max_cards: int
) -> LiveChanges:
    """The changes after `since` with their cards (none when more than `max_cards` tasks
    changed) and the stats strip, in one statement. An id not shown leaves the page unless
    the page already shows a newer version."""
    rows = queries.select_live_event(
        conn,
        user_id=user_id,
        since=since,
        max_cards=max_cards,
        search=search_pattern(search.text),
        filter=search.filter,
        **{**stats_window(zone), **_window(zone)},
    )
    found = LiveChanges(since, set(), set(), [], {}, Stats())
    async for row in rows:
        found.current, found.stats = row["change_seq"], Stats.from_row(row)
        found.numbers.update(row["seqs"] or ())
        found.task_ids.update(row["ids"] or ())
        if row["id"] is not None:
            found.versions[row["id"]] = row["version"]
            if row["shown"]:
                found.cards.append(Task.from_row(row))
    return found
