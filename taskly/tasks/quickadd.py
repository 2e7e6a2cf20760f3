"""Quick add: the words typed into "New task" that set fields (`!high`, `due:fri@9`) and are
taken out of the title. The preview under the field and the create use this one parser."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from taskly.tasks.model import TaskInput, due_from_local, local_now, title_error

PRIORITY_WORDS = {
    "high": 1,
    "h": 1,
    "1": 1,
    "medium": 2,
    "med": 2,
    "m": 2,
    "2": 2,
    "low": 3,
    "l": 3,
    "3": 3,
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_PRIORITY_TOKEN = re.compile(r"(?<!\S)!(\w+)(?!\S)")
_DUE_TOKEN = re.compile(r"(?<!\S)due:(\S+)(?!\S)", re.IGNORECASE)


def _parse_due(spec: str, today: date) -> tuple[date, time | None] | None:
    day_part, _, time_part = spec.lower().partition("@")
    day: date | None = None
    if day_part in ("today", "tod"):
        day = today
    elif day_part in ("tomorrow", "tom", "tmrw"):
        day = today + timedelta(days=1)
    elif day_part[:3] in WEEKDAYS and day_part in (day_part[:3], _full_weekday(day_part[:3])):
        ahead = (WEEKDAYS.index(day_part[:3]) - today.weekday() - 1) % 7 + 1
        day = today + timedelta(days=ahead)
    elif m := re.fullmatch(r"\+(\d{1,3})([dw])", day_part):
        day = today + timedelta(days=int(m[1]) * (7 if m[2] == "w" else 1))
    else:
        try:
            day = date.fromisoformat(day_part)
        except ValueError:
            return None
    at: time | None = None
    if time_part:
        m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(am|pm)?", time_part)
        if not m:
            return None
        hour, minute = int(m[1]), int(m[2] or 0)
        if m[3] == "pm" and hour < 12:
            hour += 12
        elif m[3] == "am" and hour == 12:
            hour = 0
        if hour > 23 or minute > 59:
            return None
        at = time(hour, minute)
    return day, at


def _full_weekday(short: str) -> str:
    return {
        "mon": "monday",
        "tue": "tuesday",
        "wed": "wednesday",
        "thu": "thursday",
        "fri": "friday",
        "sat": "saturday",
        "sun": "sunday",
    }[short]


def parse_quick_add(text: str, zone: str) -> TaskInput:
    """`Pay rent !high due:fri@9` → title "Pay rent", priority 1, due Friday 09:00 local.

    Tokens that do not parse are left in the title, so nothing typed is ever lost.
    """
    data = TaskInput()
    remaining = text
    for match in _PRIORITY_TOKEN.finditer(text):
        level = PRIORITY_WORDS.get(match[1].lower())
        if level is not None:
            data.priority = level
            remaining = remaining.replace(match[0], " ", 1)
    for match in _DUE_TOKEN.finditer(text):
        parsed = _parse_due(match[1], local_now(zone).date())
        if parsed is not None and 2000 <= parsed[0].year <= 2200:
            data.due_at, data.due_all_day = due_from_local(parsed[0], parsed[1], zone)
            remaining = remaining.replace(match[0], " ", 1)
    data.title = " ".join(remaining.split())
    if problem := title_error(data.title):
        data.errors["title"] = problem
    return data
