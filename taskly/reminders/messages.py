"""What Taskly's mail says: a reminder occurrence, and outbox messages (confirmations and
account mail), rendered from templates/email on the user's clock."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from taskly.dates import format_clock, format_long
from taskly.mail import Mail, build_message
from taskly.reminders.model import TOMORROW_AT, sign_action
from taskly.resources import TEMPLATES
from taskly.settings import Settings

mail_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_text(instant: datetime | None, zone: str, locale: str, all_day: bool = False) -> str:
    """In full, on the recipient's clock and in their format: mail is read later, elsewhere."""
    if instant is None:
        return ""
    return format_long(instant.astimezone(ZoneInfo(zone)), locale, all_day)


def _link(settings: Settings, action: str, target: Any, reminder_id: int) -> str:
    token = sign_action(
        settings.secret_key, action, target["user_id"], target["task_id"], reminder_id
    )
    return f"{settings.base_url}/m/{token}"


def reminder_message(
    settings: Settings, reminder: Any, target: Any, occurrence: datetime, late: bool, mid: str
) -> Mail:
    zone, locale = target["time_zone"], target["locale"]
    links = {
        "open": f"{settings.base_url}/tasks/{target['task_id']}",
        **{
            action: _link(settings, action, target, reminder["id"])
            for action in ("done", "snooze_hour", "snooze_tomorrow", "unsubscribe")
        },
    }
    context = {
        "first_name": target["first_name"],
        "title": target["title"],
        "notes": target["notes"],
        "due": local_text(target["due_at"], zone, locale, target["due_all_day"]),
        "occurrence": local_text(occurrence, zone, locale),
        "snooze_until": format_clock(TOMORROW_AT, locale),
        "late": late,
        "links": links,
    }
    return build_message(
        sender=settings.mail_from,
        to=target["email"],
        to_name=target["first_name"],
        subject=f"Reminder: {target['title'][:120]}",
        text=mail_templates.get_template("email/reminder.txt").render(context),
        html=mail_templates.get_template("email/reminder.html").render(context),
        message_id=mid,
        headers={
            "List-Unsubscribe": f"<{links['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def outbox_message(settings: Settings, row: Any) -> Mail:
    # The name an account chose greets only its own confirmed address: mail to an address
    # nobody confirmed (a sign-up, a new address) must not carry text a stranger wrote.
    name = row["first_name"] if row["verified"] and row["to_account"] else ""
    context = {**json.loads(row["context"]), "first_name": name}
    if "requested_at" in context:  # when the request was made, on the recipient's clock
        requested = datetime.fromisoformat(context["requested_at"])
        context["requested_at"] = local_text(requested, row["time_zone"], row["locale"])
    template = row["template"]
    return build_message(
        sender=settings.mail_from,
        to=row["email"],
        to_name=name,
        subject=context["subject"],
        text=mail_templates.get_template(f"email/{template}.txt").render(context),
        html=mail_templates.get_template(f"email/{template}.html").render(context),
        message_id=row["message_id"],
    )


# ---- push and Apprise ----------------------------------------------------------------------

PUSH_ACTIONS = {"done": "Done", "snooze_hour": "Snooze 1 hour"}


def board_path(task_id: int) -> str:
    """The task's card on the board (what tapping a notification opens)."""
    return f"/#task-{task_id}"


def _body(job: Any, late: bool) -> str:
    zone, locale = job["time_zone"], job["locale"]
    due = local_text(job["due_at"], zone, locale, job["due_all_day"])
    when = f"Due {due}" if due else f"Reminder for {local_text(job['occurrence_at'], zone, locale)}"
    return f"{when} (sent late)" if late else when


def push_payload(settings: Settings, job: Any, late: bool) -> dict[str, Any]:
    """What the service worker shows (static/js/sw.js): the title, when it is due on the owner's
    clock, the task on the board when tapped, and Done / Snooze 1 hour as signed single-use
    links on this site that the worker posts to without a session (the tokens the mail uses)."""
    actions = [
        {
            "action": action,
            "title": label,
            "url": "/m/"
            + sign_action(
                settings.secret_key, action, job["user_id"], job["task_id"], job["reminder_id"]
            ),
        }
        for action, label in PUSH_ACTIONS.items()
    ]
    return {
        "title": job["title"][:200],
        "body": _body(job, late),
        "url": board_path(job["task_id"]),
        "tag": f"reminder-{job['task_id']}",
        "timestamp": int(job["occurrence_at"].timestamp() * 1000),
        "actions": actions,
    }


def apprise_message(settings: Settings, job: Any, late: bool) -> tuple[str, str]:
    """An Apprise message: the title, then when it is due and a link to the task."""
    link = settings.base_url + board_path(job["task_id"])
    return f"Reminder: {job['title'][:200]}", f"{_body(job, late)}\n{link}"
