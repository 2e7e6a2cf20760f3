"""Which channels a reminder goes out on: the "Send by" checkboxes of the Remind me form, and
the defaults a new reminder starts from (Settings → Notifications → Default channels).

Defaults are an explicit setting, not the last choice made: a reminder's channels are something
people set once ("my phone and email") and then expect to stay put; remembering whatever the
last form said would quietly change every later reminder after a one-off choice.

"This device" is the push subscription of the browser submitting the form: static/js/pwa.js
puts that browser's endpoint in a hidden field, and it is resolved here against the user's own
subscriptions only. Device and service ids in a form are checked the same way: another user's id
is an error beside the field, never stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from quart import Blueprint, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.account.agents import describe_agent
from taskly.db import connection, queries, transaction
from taskly.web import login_required

blueprint = Blueprint("channels", __name__)

NO_DEVICE = (
    "This browser does not get notifications yet: turn them on in Settings → Notifications "
    "first, or choose another channel."
)


@dataclass(frozen=True, slots=True)
class Channels:
    email: bool = True
    this_device: bool = False
    all_devices: bool = False
    devices: frozenset[int] = field(default_factory=frozenset)
    services: frozenset[int] = field(default_factory=frozenset)

    def any(self) -> bool:
        return (
            self.email or self.this_device or self.all_devices or bool(self.devices | self.services)
        )


def _ids(values: list[str]) -> list[int] | None:
    """Ids from checkboxes, compared as short digit strings (no 5,000-digit int()); None if
    any is not an id at all."""
    if any(not (v.isdigit() and len(v) <= 18) for v in values):
        return None
    return sorted({int(v) for v in values})


async def parse_channels(
    conn: asyncpg.Connection, form: Any, user_id: int
) -> tuple[Channels, int | None, dict[str, str]]:
    """The channels a form asks for, the id of "this device" (None unless chosen), and the
    errors (key "channels"). A form without the channel fields at all (an older page still open,
    a script) gets the user's defaults; one that shows them must have one ticked."""
    if form.get("channels_shown") != "1":
        return await default_channels(conn, user_id), None, {}
    devices, services = _ids(form.getlist("device")), _ids(form.getlist("service"))
    error = None
    owned_devices: list[int] = []
    owned_services: list[int] = []
    if devices is None or services is None:
        error = "Choose the channels from the list."
    else:
        owned_devices = [
            r["id"]
            async for r in queries.select_owned_subscription_ids(conn, user_id=user_id, ids=devices)
        ]
        owned_services = [
            r["id"]
            async for r in queries.select_owned_service_ids(conn, user_id=user_id, ids=services)
        ]
        if len(owned_devices) != len(devices) or len(owned_services) != len(services):
            error = "Some of those channels are not yours any more. Choose from the list."
    this_id = None
    this_device = form.get("channel_this_device") == "on"
    if this_device and error is None:
        endpoint = form.get("endpoint", "").strip()[:2048]
        if endpoint:
            this_id = await queries.select_push_subscription_id(
                conn, user_id=user_id, endpoint=endpoint
            )
        if this_id is None:
            error = NO_DEVICE
    channels = Channels(
        email=form.get("channel_email") == "on",
        this_device=this_device,
        all_devices=form.get("channel_all_devices") == "on",
        devices=frozenset(owned_devices),
        services=frozenset(owned_services),
    )
    if error is None and not channels.any():
        error = "Choose at least one way to be reminded."
    return channels, this_id, ({"channels": error} if error else {})


async def describe_channels(conn: asyncpg.Connection, user_id: int, channels: Channels) -> str:
    """The channels in words, for the "Reminders on" mail: "by email and on this device"."""
    words = ["by email"] if channels.email else []
    if channels.all_devices:
        words.append("on all your devices")
    elif channels.this_device or channels.devices:
        words.append("on this device" if not channels.devices else "on your chosen devices")
    words += [
        f"through {r['label']}"
        async for r in queries.select_user_services(conn, user_id=user_id)
        if r["id"] in channels.services
    ]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


async def default_channels(conn: asyncpg.Connection, user_id: int) -> Channels:
    row = await queries.select_channel_defaults(conn, user_id=user_id)
    services = [r async for r in queries.select_user_services(conn, user_id=user_id)]
    return Channels(
        email=row["remind_by_email"],
        this_device=row["remind_this_device"],
        all_devices=row["remind_all_devices"],
        services=frozenset(r["id"] for r in services if r["remind_by_default"]),
    )


async def task_channels(conn: asyncpg.Connection, task_id: int, user_id: int) -> Channels | None:
    """What the task's current reminders go out on; None when it has none."""
    row = await queries.select_task_channels(conn, task_id=task_id, user_id=user_id)
    if row is None:
        return None
    return Channels(
        email=bool(row["by_email"]),
        all_devices=bool(row["all_devices"]),
        devices=frozenset(row["devices"]),
        services=frozenset(row["services"]),
    )


async def channel_options(
    conn: asyncpg.Connection, user_id: int, chosen: Channels
) -> dict[str, Any]:
    """The template's view: the user's services, the particular devices already chosen (named
    by their browser), and what is checked."""
    services = [dict(r) async for r in queries.select_user_services(conn, user_id=user_id)]
    devices = [
        {"id": r["id"], "name": describe_agent(r["user_agent"])}
        async for r in queries.select_push_subscriptions(conn, user_id=user_id)
        if r["id"] in chosen.devices
    ]
    return {"services": services, "devices": devices, "chosen": chosen}


async def save_targets(
    conn: asyncpg.Connection,
    reminder_id: int,
    user_id: int,
    channels: Channels,
    this_id: int | None,
) -> None:
    """A new reminder's particular devices and services (owner-checked again in SQL)."""
    devices = set(channels.devices) | ({this_id} if this_id is not None else set())
    for device in sorted(devices):
        await queries.insert_reminder_target(
            conn,
            reminder_id=reminder_id,
            user_id=user_id,
            push_subscription_id=device,
            notify_service_id=None,
        )
    for service in sorted(channels.services):
        await queries.insert_reminder_target(
            conn,
            reminder_id=reminder_id,
            user_id=user_id,
            push_subscription_id=None,
            notify_service_id=service,
        )


@blueprint.route("/account/notifications/defaults", methods=["POST"])
@login_required
async def save_defaults() -> ResponseReturnValue:
    """Settings → Notifications → Default channels for new reminders. Nothing chosen is
    allowed here (a new reminder then asks); ids that are not the user's are ignored."""
    form = await request.form
    services = _ids(form.getlist("service")) or []
    async with transaction() as conn:
        await queries.update_channel_defaults(
            conn,
            user_id=g.user.id,
            by_email=form.get("channel_email") == "on",
            this_device=form.get("channel_this_device") == "on",
            all_devices=form.get("channel_all_devices") == "on",
            service_ids=services,
        )
    await flash("Saved: new reminders start with these channels.", "success")
    return redirect(url_for("notifications.index", _anchor="defaults"))


async def defaults_context(user_id: int) -> dict[str, Any]:
    """For the Settings → Notifications page."""
    async with connection() as conn:
        chosen = await default_channels(conn, user_id)
        return await channel_options(conn, user_id, chosen)
