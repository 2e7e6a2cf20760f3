"""Reminder rules, their next occurrence on the user's clock, and signed email action links.

Occurrences are computed in the user's IANA zone and stored in UTC, so a daily 09:00 reminder
stays at 09:00 local across DST changes (see local_wall for the two DST edge cases).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import asyncpg
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from taskly.dates import DEFAULT_LOCALE, format_clock, format_day
from taskly.db import queries

# Every IANA zone, less two that name no place: "localtime" (whatever the server's clock is set
# to, so it would change with the host) and "Factory" (no offset, shown as "-00").
ZONES = frozenset(available_timezones()) - {"localtime", "Factory"}
LEAD_CHOICES = {15: "15 minutes", 60: "1 hour", 180: "3 hours", 1440: "1 day", 10080: "1 week"}
REPEAT_CHOICES = {"daily": "Every day", "weekdays": "Every weekday", "weekly": "Every week"}
ACTIONS = ("done", "snooze_hour", "snooze_tomorrow", "unsubscribe")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LATE_AFTER = timedelta(minutes=5)  # an occurrence sent later than this is marked late
TOMORROW_AT = time(9, 0)


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # 'at' | 'before_due' | 'repeat'
    fire_at: datetime | None = None
    lead_minutes: int | None = None
    repeat: str | None = None
    repeat_time: time | None = None
    repeat_day: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Rule:
        return cls(
            row["kind"],
            row["fire_at"],
            row["lead_minutes"],
            row["repeat"],
            row["repeat_time"],
            row["repeat_day"],
        )


def local_wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in `zone`. zoneinfo's fold=0 does the right thing
    on both DST days: a time inside a spring-forward gap lands after the gap (02:30 → 03:30),
    never before it; a time that happens twice on a fall-back day is the first one."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_occurrence(
    rule: Rule, after: datetime, zone_name: str, due_at: datetime | None
) -> datetime | None:
    """The first occurrence of `rule` strictly after `after` (UTC), or None if there is none.

    After downtime, `after` is now: missed occurrences are not replayed one by one.
    """
    zone = ZoneInfo(zone_name)
    if rule.kind == "at":
        return rule.fire_at if rule.fire_at is not None and rule.fire_at > after else None
    if rule.kind == "before_due":
        if due_at is None or rule.lead_minutes is None:
            return None
        instant = due_at - timedelta(minutes=rule.lead_minutes)
        return instant if instant > after else None
    assert rule.repeat_time is not None
    day = after.astimezone(zone).date()
    for offset in range(0, 15):
        candidate_day = day + timedelta(days=offset)
        weekday = candidate_day.weekday()
        if rule.repeat == "weekdays" and weekday >= 5:
            continue
        if rule.repeat == "weekly" and weekday != (rule.repeat_day or 0):
            continue
        instant = local_wall(candidate_day, rule.repeat_time, zone)
        if instant > after:
            return instant
    return None  # pragma: no cover - every rule matches within two weeks


def message_id(kind: str, key: int, occurrence: datetime, domain: str) -> str:
    """Deterministic per occurrence: a resend after a crash carries the same Message-ID."""
    stamp = int(occurrence.timestamp())
    return f"<{kind}-{key}-{stamp}@{domain}>"


# ---- signed action links --------------------------------------------------------------------

_SALT = "taskly.mail-action"


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def sign_action(secret: str, action: str, user_id: int, task_id: int, reminder_id: int) -> str:
    return _serializer(secret).dumps({"a": action, "u": user_id, "t": task_id, "r": reminder_id})


@dataclass(frozen=True, slots=True)
class LinkAction:
    action: str
    user_id: int
    task_id: int
    reminder_id: int
    token_hash: bytes


class LinkError(ValueError):
    """The link is tampered with or expired; the message is for the person holding it."""


def read_action(secret: str, token: str, max_age: int) -> LinkAction:
    try:
        data, signed_at = _serializer(secret).loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        raise LinkError("This link has expired. Open the task in Taskly instead.") from None
    except BadSignature:
        raise LinkError("This link is not valid. It may have been copied incompletely.") from None
    if (
        not isinstance(data, dict)
        or data.get("a") not in ACTIONS
        or not all(type(data.get(key)) is int for key in ("u", "t", "r"))
    ):
        raise LinkError("This link is not valid.")
    # "Used once" is keyed on what the token says, not on its text: the same signature can be
    # written several ways (padding), and each must count as the same link.
    identity = f"{data['a']}:{data['u']}:{data['t']}:{data['r']}:{signed_at.timestamp()}"
    return LinkAction(
        data["a"],
        int(data["u"]),
        int(data["t"]),
        int(data["r"]),
        hashlib.sha256(identity.encode()).digest(),
    )


async def use_link(conn: asyncpg.Connection, link: LinkAction) -> bool:
    """Mark the link used; False if it was used before (links work once)."""
    inserted = await queries.insert_used_link(conn, token_hash=link.token_hash)
    return bool(inserted)


async def reschedule_repeats(conn: asyncpg.Connection, user_id: int, zone: str) -> None:
    """The user moved to another zone: repeating reminders keep their wall-clock time there."""
    now = datetime.now(UTC)
    async for row in queries.select_user_repeat_reminders(conn, user_id=user_id):
        following = next_occurrence(Rule.from_row(row), now, zone, row["due_at"])
        await queries.update_next_fire(conn, id=row["id"], next_fire_at=following)


def describe_rule(rule: Rule, zone: str, locale: str = DEFAULT_LOCALE) -> str:
    """A rule in words on the user's clock and in their format: "every weekday at 08:30", "1 hour
    before it is due", "on Sat, 28 Nov 2026 at 09:00" (a one-off date keeps its year: the
    confirmation mail is read later)."""
    if rule.kind == "at" and rule.fire_at is not None:
        local = rule.fire_at.astimezone(ZoneInfo(zone))
        return f"on {format_day(local, locale)} at {format_clock(local, locale)}"
    if rule.kind == "before_due" and rule.lead_minutes is not None:
        lead = LEAD_CHOICES.get(rule.lead_minutes, f"{rule.lead_minutes} minutes")
        return f"{lead} before it is due"
    at = format_clock(rule.repeat_time or time(9, 0), locale)
    if rule.repeat == "weekly":
        return f"every {WEEKDAY_NAMES[rule.repeat_day or 0]} at {at}"
    return f"every {'weekday' if rule.repeat == 'weekdays' else 'day'} at {at}"


def describe_schedule(
    rules: list[Rule],
    zone: str,
    following: datetime | None,
    locale: str = DEFAULT_LOCALE,
    now: datetime | None = None,
) -> str:
    """Every rule, then when the first reminder comes (its year only if not this year's): what
    the toast and the mail say."""
    words = "; ".join(describe_rule(rule, zone, locale) for rule in rules)
    if following is None:
        return words
    local = following.astimezone(ZoneInfo(zone))
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()
    return f"{words}. Next: {format_day(local, locale, today)} at {format_clock(local, locale)}"
