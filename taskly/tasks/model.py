"""Tasks: the dataclass, validation, the quick-add syntax, and verb_noun functions over queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from taskly.db import queries

TITLE_MAX = 200
NOTES_MAX = 10_000
STATUSES = ("todo", "doing", "done")
STATUS_LABELS = {"todo": "To do", "doing": "In progress", "done": "Done"}
PRIORITIES = {1: "High", 2: "Medium", 3: "Low"}
PRIORITY_CLASSES = {1: "high", 2: "medium", 3: "low"}
FILTERS = ("", "overdue", "today")
ALL_DAY_TIME = time(23, 59)


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    title: str
    notes: str
    status: str
    priority: int | None
    due_at: datetime | None
    due_all_day: bool
    position: float
    version: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    deleted_at: datetime | None
    next_reminder_at: datetime | None = None  # the board and single-task queries add these
    reminder_error: str | None = None
    reminder_channels: list[str] | None = None  # 'email', 'device', 'devices', 'service:<label>'

    @classmethod
    def from_row(cls, row: Any) -> Task:
        return cls(**{name: row.get(name) for name in cls.__slots__})

    def overdue(self, now: datetime) -> bool:
        return self.status != "done" and self.due_at is not None and self.due_at < now


@dataclass(frozen=True, slots=True)
class Undo:
    """The state an action changed, carried by the toast's Undo form and restored exactly.

    `version` is the task's version right after the action: Undo applies only while the task
    is still as that action left it, so an old toast (another tab, a later edit or move)
    cannot silently overwrite what happened since."""

    task_id: int
    status: str
    position: float
    completed_at: datetime | None
    version: int

    def fields(self) -> dict[str, str]:
        completed = self.completed_at.isoformat() if self.completed_at else ""
        return {
            "status": self.status,
            "position": repr(self.position),
            "completed_at": completed,
            "version": str(self.version),
        }

    @classmethod
    def from_form(cls, task_id: int, form: Any) -> Undo | None:
        status = form.get("status", "")
        raw_version = form.get("version", "")
        try:
            position = float(form.get("position", ""))
            raw = form.get("completed_at", "")
            completed = datetime.fromisoformat(raw) if raw else None
            version = int(raw_version) if len(raw_version) <= 10 else 0
        except ValueError:
            return None
        if not 0 < version < 2**31:
            return None
        if status not in STATUSES or (status == "done") != (completed is not None):
            return None
        if completed is not None and (
            completed.tzinfo is None or not 2000 <= completed.year <= 2200
        ):
            return None
        if position != position or abs(position) > 1e15:  # NaN or absurd
            return None
        return cls(task_id, status, position, completed, version)


@dataclass(slots=True)
class TaskInput:
    """What a form submitted, cleaned, with an error message per field."""

    title: str = ""
    notes: str = ""
    priority: int | None = None
    due_date: str = ""
    due_time: str = ""
    due_at: datetime | None = None
    due_all_day: bool = False
    errors: dict[str, str] = field(default_factory=dict)


def local_now(zone: str) -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo(zone))


def due_from_local(day: date, at: time | None, zone: str) -> tuple[datetime, bool]:
    """A due date (and time) on the user's clock, as an instant in UTC."""
    local = datetime.combine(day, at or ALL_DAY_TIME, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC), at is None


def title_error(title: str) -> str | None:
    if not title:
        return "Enter a title."
    if len(title) > TITLE_MAX:
        return f"Keep the title to {TITLE_MAX} characters (this one has {len(title)})."
    return None


def clean_task_form(form: Any, zone: str) -> TaskInput:
    """Validate the edit form: title, notes, due date/time, priority."""
    data = TaskInput(
        title=" ".join(form.get("title", "").split()),
        notes=form.get("notes", "").replace("\r\n", "\n").strip(),
        due_date=form.get("due_date", "").strip(),
        due_time=form.get("due_time", "").strip(),
    )
    if problem := title_error(data.title):
        data.errors["title"] = problem
    if len(data.notes) > NOTES_MAX:
        data.errors["notes"] = f"Keep notes to {NOTES_MAX:,} characters."
    raw_priority = form.get("priority", "").strip()
    if raw_priority:
        if raw_priority in ("1", "2", "3"):
            data.priority = int(raw_priority)
        else:
            data.errors["priority"] = "Choose a priority from the list."
    day: date | None = None
    at: time | None = None
    if data.due_date:
        try:
            day = date.fromisoformat(data.due_date)
        except ValueError:
            data.errors["due_date"] = "Enter a date like 2026-12-31."
    if data.due_time:
        try:
            at = time.fromisoformat(data.due_time)
        except ValueError:
            data.errors["due_time"] = "Enter a time like 09:30."
        else:
            if day is None and "due_date" not in data.errors:
                data.errors["due_date"] = "A due time needs a due date."
    if day is not None and "due_date" not in data.errors and "due_time" not in data.errors:
        if not 2000 <= day.year <= 2200:
            data.errors["due_date"] = "Enter a date between the years 2000 and 2200."
        else:
            data.due_at, data.due_all_day = due_from_local(day, at, zone)
    return data


def search_pattern(search: str) -> str:
    """Escape LIKE wildcards so a search for "50%" finds "50%"."""
    return search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def reschedule_due_reminders(conn: asyncpg.Connection, task: Task, user_id: int) -> None:
    """Lead-time reminders follow a changed due date."""
    await queries.reschedule_due_reminders(
        conn, task_id=task.id, user_id=user_id, due_at=task.due_at, now=datetime.now(UTC)
    )


async def select_task(conn: asyncpg.Connection, task_id: int, user_id: int) -> Task | None:
    row = await queries.select_task(conn, id=task_id, user_id=user_id)
    return None if row is None else Task.from_row(row)


async def insert_task(
    conn: asyncpg.Connection, user_id: int, data: TaskInput, submission: UUID | None = None
) -> Task:
    """Add a task. With a submission id (the create form's), sending the same form again (a
    retry after a lost answer, a double click, Back and resubmit) returns the first task."""
    row = await queries.insert_task(
        conn,
        user_id=user_id,
        title=data.title,
        notes=data.notes,
        priority=data.priority,
        due_at=data.due_at,
        due_all_day=data.due_all_day,
        submission=submission,
    )
    if row is None:
        row = await queries.select_task_by_submission(conn, user_id=user_id, submission=submission)
    return Task.from_row(row)


def parse_submission(value: str) -> UUID | None:
    """The create form's random id; anything else (an old page, a script) means none."""
    try:
        return UUID(value) if len(value) == 36 else None
    except ValueError:
        return None


async def update_task(
    conn: asyncpg.Connection, task_id: int, user_id: int, version: int, data: TaskInput
) -> Task | None:
    """The updated task, or None if it changed since `version` (or is gone)."""
    row = await queries.update_task(
        conn,
        id=task_id,
        user_id=user_id,
        version=version,
        title=data.title,
        notes=data.notes,
        priority=data.priority,
        due_at=data.due_at,
        due_all_day=data.due_all_day,
    )
    return None if row is None else Task.from_row(row)


async def update_task_status(
    conn: asyncpg.Connection, task_id: int, user_id: int, status: str
) -> tuple[Task, Undo] | None:
    """Move the task; None if it is not there or already in `status` (a double click)."""
    row = await queries.update_task_status(conn, id=task_id, user_id=user_id, status=status)
    if row is None:
        return None
    undo = Undo(
        task_id, row["old_status"], row["old_position"], row["old_completed_at"], row["version"]
    )
    return Task.from_row(row), undo


async def delete_task(
    conn: asyncpg.Connection, task_id: int, user_id: int
) -> tuple[Task, Undo] | None:
    await queries.purge_deleted_tasks(conn, user_id=user_id)
    row = await queries.delete_task(conn, id=task_id, user_id=user_id)
    if row is None:
        return None
    task = Task.from_row(row)
    return task, Undo(task.id, task.status, task.position, task.completed_at, task.version)


async def restore_task(conn: asyncpg.Connection, user_id: int, undo: Undo) -> Task | None:
    """The task as it was before the action; None if it is not the user's, or has changed
    since the action (see `task_exists` to tell which)."""
    row = await queries.restore_task(
        conn,
        id=undo.task_id,
        user_id=user_id,
        status=undo.status,
        position=undo.position,
        completed_at=undo.completed_at,
        version=undo.version,
    )
    return None if row is None else Task.from_row(row)


async def task_exists(conn: asyncpg.Connection, task_id: int, user_id: int) -> bool:
    """Whether the user has this task, deleted (but not yet purged) or not."""
    found: bool = await queries.task_exists(conn, id=task_id, user_id=user_id)
    return found


async def move_in_bucket(
    conn: asyncpg.Connection, user_id: int, bucket: list[Task], task_id: int, direction: str
) -> None:
    """Swap the task with its neighbour in `bucket` (the cards the user sees, so a filtered board
    moves past the visible neighbour), in the database and in `bucket`. At either end, or if
    either card changed meanwhile, nothing moves."""
    index = next((i for i, task in enumerate(bucket) if task.id == task_id), None)
    if index is None:
        return
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(bucket):
        return
    if bucket[index].position == bucket[other].position:
        await queries.renumber_bucket(conn, user_id=user_id, status=bucket[index].status)
    moved = await queries.swap_task_positions(
        conn, id=task_id, other_id=bucket[other].id, user_id=user_id
    )
    if moved == 2:
        bucket[index], bucket[other] = bucket[other], bucket[index]
