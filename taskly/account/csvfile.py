"""Tasks as CSV, both ways: the columns Taskly exports (and reads back), Todoist's export
columns mapped as honestly as they allow, and every way a file can be hostile.

Cells that a spreadsheet would run (starting with = + - @, tab or CR) are written with a
leading apostrophe, which the import takes off again, so an export imports as the same tasks.
A raw formula in an imported file is refused row by row (`=cmd|' /C calc'!A0`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_COLUMNS = 50
TITLE_MAX, NOTES_MAX = 200, 10_000
COLUMNS = ("title", "notes", "status", "priority", "due", "created", "completed")
STATUSES = {
    "todo": "todo",
    "to do": "todo",
    "doing": "doing",
    "in progress": "doing",
    "done": "done",
}
PRIORITIES = {"": None, "high": 1, "1": 1, "medium": 2, "2": 2, "low": 3, "3": 3}
PRIORITY_NAMES = {1: "high", 2: "medium", 3: "low"}
TODOIST_PRIORITIES = {"4": 1, "3": 2, "2": 3, "1": None, "": None}  # Todoist's p1 is "4"
RISKY_START = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet formula: anything after "=", or +, - or @ then a function name called or piped
# (`-cmd|' /C calc'!A0`, `@SUM(1+1)`); "-5 kg (about)" and "- call Mum (urgent)" are text.
_FORMULA = re.compile(r"^\s*(?:=|[+\-@]\s*[A-Za-z_.]+\s*[(|])")


class FileRefused(ValueError):
    """The whole file cannot be imported; the message says why, for the person."""


@dataclass(frozen=True, slots=True)
class TaskRow:
    title: str
    notes: str
    status: str
    priority: int | None
    due_at: datetime | None
    due_all_day: bool
    completed_at: datetime | None


@dataclass
class Parsed:
    rows: list[TaskRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    kind: str = "Taskly"  # or "Todoist"
    skipped: int = 0  # rows that are not tasks (Todoist sections and notes)


# ---- export -----------------------------------------------------------------------------------


def neutral(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs (leading spaces do not hide a formula)."""
    return "'" + value if value.lstrip(" ").startswith(RISKY_START) else value


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutral(cell) for cell in row])
    return out.getvalue()


def export_row(task: dict[str, object], zone: ZoneInfo) -> list[str]:
    def when(value: object, all_day: bool = False) -> str:
        if not isinstance(value, datetime):
            return ""
        local = value.astimezone(zone)
        return local.date().isoformat() if all_day else local.isoformat(timespec="minutes")

    priority = task["priority"]
    return [
        str(task["title"]),
        str(task["notes"]),
        str(task["status"]),
        PRIORITY_NAMES.get(priority, "") if isinstance(priority, int) else "",
        when(task["due_at"], bool(task["due_all_day"])),
        when(task["created_at"]),
        when(task["completed_at"]),
    ]


# ---- import -----------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise FileRefused("The file is larger than 5 MB. Split it and import the parts.")
    if b"\x00" in data:
        raise FileRefused("The file contains NUL bytes: it is not a text CSV file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."
        ) from None


def parse_tasks(data: bytes, zone_name: str, now: datetime) -> Parsed:
    """Every row checked; nothing written. Raises FileRefused for the file as a whole."""
    text = decode(data)
    csv.field_size_limit(NOTES_MAX * 4)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise FileRefused("The file is empty.")
        if len(header) > MAX_COLUMNS:
            raise FileRefused(f"The file has {len(header)} columns; at most {MAX_COLUMNS}.")
        names = [name.strip().lower().lstrip("'") for name in header]
        parsed = Parsed(kind="Todoist" if "content" in names else "Taskly")
        if parsed.kind == "Taskly" and "title" not in names:
            raise FileRefused(
                "The first line must name the columns: title, notes, status, priority, due "
                "(or a Todoist export's CONTENT, DESCRIPTION, PRIORITY, DATE)."
            )
        zone = ZoneInfo(zone_name)
        for number, cells in enumerate(reader, start=2):
            if len(parsed.rows) + len(parsed.errors) + parsed.skipped >= MAX_ROWS:
                raise FileRefused(f"The file has more than {MAX_ROWS:,} rows. Split it.")
            if len(cells) > MAX_COLUMNS:
                raise FileRefused(f"Line {number} has {len(cells)} cells; at most {MAX_COLUMNS}.")
            if not any(cell.strip() for cell in cells):
                continue
            record = dict(zip(names, cells, strict=False))
            if parsed.kind == "Todoist" and record.get("type", "task").lower() != "task":
                parsed.skipped += 1
                continue
            try:
                parsed.rows.append(_row(record, parsed.kind, zone, now))
            except ValueError as exc:
                parsed.errors.append((number, str(exc)))
    except csv.Error as exc:
        raise FileRefused(f"The file is not valid CSV: {exc}.") from None
    return parsed


def _text(value: str, label: str, limit: int) -> str:
    if _FORMULA.match(value):
        raise ValueError(
            f"The {label} looks like a spreadsheet formula; start it with ' to keep it as text."
        )
    if value.startswith("'") and value[1:].lstrip(" ").startswith(RISKY_START):
        value = value[1:]  # neutralised by an export: the text it stood for
    if len(value) > limit:
        raise ValueError(f"The {label} has {len(value):,} characters; at most {limit:,}.")
    if label == "title" and not value.isprintable():
        raise ValueError("The title contains a line break or a control character.")
    return value


def _row(record: dict[str, str], kind: str, zone: ZoneInfo, now: datetime) -> TaskRow:
    if kind == "Todoist":
        title_cell, notes, priority_cell = (
            record.get("content", ""),
            record.get("description", ""),
            record.get("priority", ""),
        )
        priority = TODOIST_PRIORITIES.get(priority_cell.strip())
        if priority_cell.strip() not in TODOIST_PRIORITIES:
            raise ValueError(f"PRIORITY {priority_cell!r} is not 1 to 4.")
        status, completed = "todo", None
        due_cell = record.get("date", "").strip()
        due_at, all_day = _when(due_cell, zone, strict=False)
        if due_cell and due_at is None:  # "every day", "next Monday": kept, not guessed
            notes = (notes + "\n\n" if notes else "") + f"Todoist date: {due_cell}"
    else:
        title_cell, notes = record.get("title", ""), record.get("notes", "")
        status = STATUSES.get(record.get("status", "").strip().lower() or "todo", "")
        if not status:
            raise ValueError(f"Status {record.get('status')!r} is not todo, doing or done.")
        priority_cell = record.get("priority", "").strip().lower()
        if priority_cell not in PRIORITIES:
            raise ValueError(f"Priority {priority_cell!r} is not high, medium or low.")
        priority = PRIORITIES[priority_cell]
        due_at, all_day = _when(record.get("due", "").strip(), zone, strict=True)
        completed = None
        if status == "done":
            completed, _ = _when(record.get("completed", "").strip(), zone, strict=False)
            completed = completed or now
    title = _text(title_cell.strip(), "title", TITLE_MAX)
    if not title:
        raise ValueError("The title is empty.")
    return TaskRow(
        title, _text(notes, "notes", NOTES_MAX), status, priority, due_at, all_day, completed
    )


def _when(value: str, zone: ZoneInfo, strict: bool) -> tuple[datetime | None, bool]:
    """A date (all day, 23:59 local) or a date and time, from 2000 to 2200 like the task form;
    on the user's clock unless the value says its offset. strict: anything else is an error;
    else None. (Year 9999 once imported, then broke the board in a zone east of UTC.)"""
    if not value:
        return None, False
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if not 2000 <= day.year <= 2200:
                raise ValueError("out of range")
            return datetime.combine(day, time(23, 59), tzinfo=zone).astimezone(UTC), True
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
        if not 2000 <= moment.year <= 2200:
            raise ValueError("out of range")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC), False
    except (ValueError, OverflowError):
        if strict:
            raise ValueError(
                f"Due {value!r} is not a date from 2000 to 2200 like 2026-12-24 or"
                " 2026-12-24T09:00."
            ) from None
        return None, False
