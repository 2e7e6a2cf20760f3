"""Remind me: subscribe a task to reminders, unsubscribe; and the signed links in reminder mail
(mark done, snooze, unsubscribe), which show a confirmation page on GET and act only on POST,
so a mail scanner that prefetches links changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from quart import Blueprint, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.dates import format_clock
from taskly.db import connection, queries, transaction
from taskly.outbox import queue_mail
from taskly.reminders.model import (
    LEAD_CHOICES,
    REPEAT_CHOICES,
    TOMORROW_AT,
    WEEKDAY_NAMES,
    LinkError,
    Rule,
    describe_schedule,
    local_wall,
    next_occurrence,
    read_action,
    use_link,
)
from taskly.tasks.model import STATUS_LABELS, update_task_status
from taskly.tasks.views import card_fragment, owned_task
from taskly.web import csrf_exempt, is_htmx, login_required, render, settings

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
    return await render(
        "pages/reminders.html",
        partial="partials/_reminder_form.html",
        **_context(task, existing=existing, values={}, errors={}),
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
        if errors:
            existing = [
                r
                async for r in queries.select_task_reminders(
                    conn, task_id=task_id, user_id=g.user.id
                )
            ]
            return await render(
                "pages/reminders.html",
                partial="partials/_reminder_form.html",
                status=422,
                **_context(task, existing=existing, values=values, errors=errors),
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
            await queries.insert_reminder(
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
            )
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


# ---- signed links from reminder mail --------------------------------------------------------

ACTION_TEXT = {
    "done": ("Mark this task done?", "Mark done"),
    "snooze_hour": ("Remind you again in one hour?", "Snooze 1 hour"),
    "snooze_tomorrow": ("Remind you again tomorrow at 09:00?", "Snooze until tomorrow"),
    "unsubscribe": ("Stop all reminders for this task?", "Unsubscribe"),
}


@blueprint.route("/m/<token>", methods=["GET"])
async def link_page(token: str) -> ResponseReturnValue:
    """Shows what the link would do and a button; a GET never changes anything."""
    try:
        link = read_action(settings().secret_key, token, settings().link_max_age)
    except LinkError as exc:
        return await render("pages/mail_action.html", error=str(exc), status=400)
    async with connection() as conn:
        task = await queries.select_link_task(conn, task_id=link.task_id, user_id=link.user_id)
        used = await queries.link_was_used(conn, token_hash=link.token_hash)
    if task is None:
        return await render(
            "pages/mail_action.html", error="That task no longer exists.", status=404
        )
    if used:  # say so now, not after the person pressed the button
        return await render(
            "pages/mail_action.html", task=task, error="This link was already used.", status=409
        )
    question, button = ACTION_TEXT[link.action]
    return await render(
        "pages/mail_action.html", task=task, question=question, button=button, token=token
    )


@blueprint.route("/m/<token>", methods=["POST"])
@csrf_exempt  # the signed, expiring, single-use token is the proof; RFC 8058 posts come from mail
async def link_action(token: str) -> ResponseReturnValue:
    try:
        link = read_action(settings().secret_key, token, settings().link_max_age)
    except LinkError as exc:
        return await render("pages/mail_action.html", error=str(exc), status=400)
    async with transaction() as conn:
        task = await queries.select_link_task(conn, task_id=link.task_id, user_id=link.user_id)
        if task is None:
            return await render(
                "pages/mail_action.html", error="That task no longer exists.", status=404
            )
        refusal = None
        if link.action.startswith("snooze"):
            if task["status"] == "done":
                refusal = "This task is already done, so there is nothing to snooze."
            elif not await queries.reminder_exists(conn, id=link.reminder_id, user_id=link.user_id):
                refusal = (
                    "You unsubscribed from this task's reminders, so there is nothing to snooze."
                )
        if refusal is None and not await use_link(conn, link):
            refusal = "This link was already used."
        if refusal is not None:
            return await render("pages/mail_action.html", error=refusal, status=409)
        now = datetime.now(UTC)
        if link.action == "done":
            await update_task_status(conn, link.task_id, link.user_id, "done")
            result = "Marked done. No more reminders for it."
        elif link.action == "snooze_hour":
            await queries.snooze_task(
                conn, user_id=link.user_id, task_id=link.task_id, fire_at=now + timedelta(hours=1)
            )
            result = "Snoozed: you will be reminded again in one hour."
        elif link.action == "snooze_tomorrow":
            zone = ZoneInfo(task["time_zone"])
            tomorrow = now.astimezone(zone).date() + timedelta(days=1)
            fire_at = local_wall(tomorrow, TOMORROW_AT, zone)
            await queries.snooze_task(
                conn, user_id=link.user_id, task_id=link.task_id, fire_at=fire_at
            )
            result = f"Snoozed until tomorrow at {format_clock(TOMORROW_AT, task['locale'])}."
        else:
            await unsubscribe_task(conn, link.user_id, link.task_id, task["title"])
            result = "Unsubscribed: no more reminders for this task."
    return await render("pages/mail_action.html", task=task, result=result)
