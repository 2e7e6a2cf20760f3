"""The signed, single-use action links of reminder mail and push notifications: mark done,
snooze, unsubscribe. Without a session: the signed, expiring token is the proof.

A GET (a link opened from mail) shows what the link would do and a button; it never changes
anything, so a mail scanner that prefetches links changes nothing. A POST acts: from that
button, from a mail client's one-click unsubscribe (RFC 8058), or from the service worker when
Done or Snooze 1 hour is tapped on a notification (static/js/sw.js). The worker asks for JSON
(Accept: application/json) and sends no cookies: it gets 204 when the action was taken, or a
JSON {"error": ...} with the same status a page would have (400, 404, 409) to show instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from quart import Blueprint, Response, jsonify, request
from quart.typing import ResponseReturnValue

from taskly.dates import format_clock
from taskly.db import connection, queries, transaction
from taskly.reminders.model import TOMORROW_AT, LinkError, local_wall, read_action, use_link
from taskly.reminders.routes import unsubscribe_task
from taskly.tasks.model import update_task_status
from taskly.web import csrf_exempt, render, settings

blueprint = Blueprint("links", __name__)

ACTION_TEXT = {
    "done": ("Mark this task done?", "Mark done"),
    "snooze_hour": ("Remind you again in one hour?", "Snooze 1 hour"),
    "snooze_tomorrow": ("Remind you again tomorrow at 09:00?", "Snooze until tomorrow"),
    "unsubscribe": ("Stop all reminders for this task?", "Unsubscribe"),
}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


async def _refuse(error: str, status: int) -> ResponseReturnValue:
    if _wants_json():
        return jsonify({"error": error}), status
    return await render("pages/mail_action.html", error=error, status=status)


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
        return await _refuse(str(exc), 400)
    async with transaction() as conn:
        task = await queries.select_link_task(conn, task_id=link.task_id, user_id=link.user_id)
        if task is None:
            return await _refuse("That task no longer exists.", 404)
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
            return await _refuse(refusal, 409)
        now = datetime.now(UTC)
        if link.action == "done":
            await update_task_status(conn, link.task_id, link.user_id, "done")
            result = "Marked done. No more reminders for it."
        elif link.action == "snooze_hour":
            await queries.snooze_task(
                conn,
                user_id=link.user_id,
                task_id=link.task_id,
                reminder_id=link.reminder_id,
                fire_at=now + timedelta(hours=1),
            )
            result = "Snoozed: you will be reminded again in one hour."
        elif link.action == "snooze_tomorrow":
            zone = ZoneInfo(task["time_zone"])
            tomorrow = now.astimezone(zone).date() + timedelta(days=1)
            await queries.snooze_task(
                conn,
                user_id=link.user_id,
                task_id=link.task_id,
                reminder_id=link.reminder_id,
                fire_at=local_wall(tomorrow, TOMORROW_AT, zone),
            )
            result = f"Snoozed until tomorrow at {format_clock(TOMORROW_AT, task['locale'])}."
        else:
            await unsubscribe_task(conn, link.user_id, link.task_id, task["title"])
            result = "Unsubscribed: no more reminders for this task."
    if _wants_json():
        return Response(status=204)
    return await render("pages/mail_action.html", task=task, result=result)
