"""Remind me: subscribe a task to reminders (when, and on which channels: see choice.py),
unsubscribe. The signed links in reminder mail and notifications are in links.py."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from quart import Blueprint, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.db import connection, queries, transaction
from taskly.outbox import queue_mail
from taskly.reminders.choice import (
    channel_options,
    default_channels,
    describe_channels,
    parse_channels,
    save_targets,
    task_channels,
)
from taskly.reminders.model import (
    LEAD_CHOICES,
    REPEAT_CHOICES,
    WEEKDAY_NAMES,
    Rule,
    describe_schedule,
    next_occurrence,
)
from taskly.tasks.model import STATUS_LABELS
from taskly.tasks.views import card_fragment, owned_task
from taskly.web import is_htmx, login_required, render, settings

blueprint = Blueprint("reminders", __name__)


async def queue_confirmation(
    conn: asyncpg.Connection, user_id: int, task_id: int, template: str, **context: Any
) -> None:
    """Reminders on/off confirmations: one pending per task, sent after a quiet minute, so
    toggling on, off and on sends one message (the last state), and on then off none."""
    await queue_mail(
        conn,
        user_id=user_id,
        task_id=task_id,
        template=template,
        coalesce_key=f"reminders:{task_id}",
        delay=settings().confirmation_delay,
        undoes="unsubscribed" if template == "subscribed" else "subscribed",
        **context,
    )


def parse_rules(
    form: Any, zone: str, due_at: datetime | None, now: datetime
) -> tuple[list[Rule], dict[str, str], dict[str, str]]:
    """The rules a Remind-me form asks for, the errors per field, and the values to show again."""
    values = {
        key: form.get(key, "").strip()
        for key in ("at", "lead", "repeat", "repeat_time", "repeat_day")
    }
    errors: dict[str, str] = {}
    rules: list[Rule] = []
    if values["at"]:
        try:
            local = datetime.fromisoformat(values["at"])
            if not 2000 <= local.year <= 2200:
                raise ValueError("out of range")
        except ValueError:
            errors["at"] = "Enter a date and time like 2026-12-24 09:00."
        else:
            instant = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
            if instant <= now:
                errors["at"] = "Choose a time in the future."
            else:
                rules.append(Rule("at", fire_at=instant))
    if values["lead"]:
        # Compared as text: int() of whatever a client sent could be a 5,000-digit number.
        lead = next((m for m in LEAD_CHOICES if str(m) == values["lead"]), None)
        if lead is None:
            errors["lead"] = "Choose a lead time from the list."
        elif due_at is None:
            errors["lead"] = "This task has no due date. Set one first, or choose a time."
        else:
            rules.append(Rule("before_due", lead_minutes=lead))
    if values["repeat"]:
        if values["repeat"] not in REPEAT_CHOICES:
            errors["repeat"] = "Choose how often from the list."
        else:
            try:
                at = time.fromisoformat(values["repeat_time"] or "09:00")
            except ValueError:
                errors["repeat_time"] = "Enter a time like 09:00."
            else:
                raw_day = values["repeat_day"] or "0"  # only weekly uses it
                if raw_day not in ("0", "1", "2", "3", "4", "5", "6"):
                    errors["repeat_day"] = "Choose a day of the week."
                else:
                    day = int(raw_day)
                    rules.append(
                        Rule("repeat", repeat=values["repeat"], repeat_time=at, repeat_day=day)
                    )
    if not rules and not errors:
        errors["at"] = "Choose at least one reminder: a time, a lead time or a repeat."
    return rules, errors, values


def _context(task: Any, **extra: Any) -> dict[str, Any]:
    return {
        "task": task,
        "now": datetime.now(UTC),
        "lead_choices": LEAD_CHOICES,
        "repeat_choices": REPEAT_CHOICES,
        "weekdays": WEEKDAY_NAMES,
        "status_labels": STATUS_LABELS,
        **extra,
    }


@blueprint.route("/tasks/<id:task_id>/reminders")
@login_required
async def edit(task_id: int) -> ResponseReturnValue:
    async with connection() as conn:
        task = await owned_task(task_id)
        existing = [
            r async for r in queries.select_task_reminders(conn, task_id=task_id, user_id=g.user.id)
        ]
        chosen = await task_channels(conn, task_id, g.user.id)
        if chosen is None:
            chosen = await default_channels(conn, g.user.id)
        options = await channel_options(conn, g.user.id, chosen)
    return await render(
        "pages/reminders.html",
        partial="partials/_reminder_form.html",
        **_context(task, existing=existing, values={}, errors={}, **options),
    )


async def _card_response(task_id: int, message: str) -> ResponseReturnValue:
    if not is_htmx():
        await flash(message, "success")
        return redirect(url_for("tasks.dashboard", _anchor=f"task-{task_id}"))
    return await card_fragment(task_id, announce=message)


@blueprint.route("/tasks/<id:task_id>/reminders", methods=["POST"])
@login_required
async def subscribe(task_id: int) -> ResponseReturnValue:
    form = await request.form
    now = datetime.now(UTC)
    async with transaction() as conn:
        await queries.lock_task_reminders(conn, task_id=task_id, user_id=g.user.id)
        task = await owned_task(task_id)
        rules, errors, values = parse_rules(form, g.user.time_zone, task.due_at, now)
        channels, this_id, channel_errors = await parse_channels(conn, form, g.user.id)
        errors |= channel_errors
        if errors:
            existing = [
                r
                async for r in queries.select_task_reminders(
                    conn, task_id=task_id, user_id=g.user.id
                )
            ]
            options = await channel_options(conn, g.user.id, channels)
            return await render(
                "pages/reminders.html",
                partial="partials/_reminder_form.html",
                status=422,
                **_context(task, existing=existing, values=values, errors=errors, **options),
            )
        had = [
            r async for r in queries.select_task_reminders(conn, task_id=task_id, user_id=g.user.id)
        ]
        await queries.delete_task_reminders(conn, task_id=task_id, user_id=g.user.id)
        upcoming = []
        for rule in rules:
            following = next_occurrence(rule, now, g.user.time_zone, task.due_at)
            if following is not None:
                upcoming.append(following)
            reminder_id = await queries.insert_reminder(
                conn,
                user_id=g.user.id,
                task_id=task_id,
                kind=rule.kind,
                fire_at=rule.fire_at,
                lead_minutes=rule.lead_minutes,
                repeat=rule.repeat,
                repeat_time=rule.repeat_time,
                repeat_day=rule.repeat_day,
                next_fire_at=following,
                by_email=channels.email,
                all_devices=channels.all_devices,
            )
            await save_targets(conn, reminder_id, g.user.id, channels, this_id)
        schedule = describe_schedule(
            rules, g.user.time_zone, min(upcoming, default=None), g.user.locale
        )
        if not had:
            await queue_confirmation(
                conn,
                g.user.id,
                task_id,
                "subscribed",
                subject=f"Reminders on: {task.title[:120]}",
                title=task.title,
                schedule=schedule,
                channels=await describe_channels(conn, g.user.id, channels),
                url=f"{settings().base_url}/tasks/{task_id}",
            )
    return await _card_response(task_id, f"Reminders for “{task.title[:60]}”: {schedule}.")


@blueprint.route("/tasks/<id:task_id>/reminders/delete", methods=["POST"])
@login_required
async def unsubscribe(task_id: int) -> ResponseReturnValue:
    async with transaction() as conn:
        task = await owned_task(task_id)
        await unsubscribe_task(conn, g.user.id, task_id, task.title)
    return await _card_response(task_id, f"No more reminders for “{task.title[:60]}”.")


async def unsubscribe_task(
    conn: asyncpg.Connection, user_id: int, task_id: int, title: str
) -> None:
    await queries.lock_task_reminders(conn, task_id=task_id, user_id=user_id)
    had = [r async for r in queries.select_task_reminders(conn, task_id=task_id, user_id=user_id)]
    await queries.delete_task_reminders(conn, task_id=task_id, user_id=user_id)
    if had:
        await queue_confirmation(
            conn,
            user_id,
            task_id,
            "unsubscribed",
            subject=f"Reminders off: {title[:120]}",
            title=title,
            url=f"{settings().base_url}/tasks/{task_id}",
        )
