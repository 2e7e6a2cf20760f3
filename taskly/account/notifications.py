"""Settings → Notifications: the devices that get reminders by Web Push (issue #12).

"Notify this device" asks the browser for permission and a push subscription (static/js/
pwa.js), then posts it here as a plain form: the endpoint is checked as an outbound target
(taskly/outbound.py: https, a public address) before it is stored, and again by every send.
Each device can be sent a test and removed; a push service saying the subscription is gone
(404/410) removes it."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

from quart import Blueprint, abort, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.account.agents import describe_agent
from taskly.db import connection, queries
from taskly.outbound import OutboundRefused, Policy, check_push_endpoint
from taskly.push import PushResult, send_push, vapid_keys
from taskly.ratelimit import Limit, by_account, rate_limited
from taskly.reminders.choice import defaults_context
from taskly.web import login_required, render, settings

blueprint = Blueprint("notifications", __name__, url_prefix="/account/notifications")

MAX_DEVICES = 20
TEST_MESSAGE = {
    "title": "Taskly",
    "body": "Test: reminders will reach this device.",
    "url": "/account/notifications",
    "tag": "taskly-test",
}


def _key(value: str, size: int) -> str | None:
    """A base64url key from the browser, if it decodes to `size` bytes."""
    if not 0 < len(value) <= 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return value.rstrip("=") if len(raw) == size else None


async def page(error: str | None = None, status: int = 200, **context: Any) -> ResponseReturnValue:
    """The whole Notifications page: this device, the devices, and the other services
    (taskly/account/services.py passes its form's errors in ``context``)."""
    async with connection() as conn:
        keys = await vapid_keys(conn, settings())
        rows = [row async for row in queries.select_push_subscriptions(conn, user_id=g.user.id)]
        services = [row async for row in queries.select_notify_services(conn, user_id=g.user.id)]
    devices: list[dict[str, Any]] = [
        {**dict(row), "name": describe_agent(row["user_agent"])} for row in rows
    ]
    return await render(
        "pages/notifications.html",
        status=status,
        devices=devices,
        services=services,
        allowed_schemes=settings().notify_schemes,
        server_key=keys.application_server_key(),
        error=error,
        **context,
        defaults=await defaults_context(g.user.id),
    )


@blueprint.route("")
@login_required
async def index() -> ResponseReturnValue:
    return await page()


@blueprint.route("/devices", methods=["POST"])
@login_required
@rate_limited(Limit(30, timedelta(hours=1), by_account))
async def add() -> ResponseReturnValue:
    form = await request.form
    endpoint = form.get("endpoint", "").strip()
    p256dh = _key(form.get("p256dh", ""), 65)
    auth = _key(form.get("auth", ""), 16)
    if not endpoint or p256dh is None or auth is None:
        return await page("The browser sent an incomplete subscription. Try again.", 422)
    try:
        await check_push_endpoint(endpoint, Policy.from_settings(settings()))
    except OutboundRefused as exc:
        return await page(f"Taskly cannot send to this browser's push service: {exc}", 422)
    async with connection() as conn:
        if await queries.count_push_subscriptions(conn, user_id=g.user.id) >= MAX_DEVICES:
            return await page(f"At most {MAX_DEVICES} devices: remove one first.", 422)
        await queries.save_push_subscription(
            conn,
            user_id=g.user.id,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
    await flash("This device will get your reminders. Send it a test to check.", "success")
    return redirect(url_for("notifications.index"))


def _outcome(result: PushResult) -> tuple[str, str]:
    """What to tell the user about a test, and the flash category."""
    if result.outcome == "delivered":
        return "Sent. The notification should appear on that device now.", "success"
    if result.outcome == "gone":
        return "That device has unsubscribed (or its browser data was cleared): removed.", "info"
    if result.outcome == "retry":
        return "Its push service did not take the message just now. Try again later.", "error"
    return f"Its push service refused the message ({result.detail or result.status}).", "error"


@blueprint.route("/devices/<id:device_id>/test", methods=["POST"])
@login_required
@rate_limited(Limit(20, timedelta(hours=1), by_account))
async def test(device_id: int) -> ResponseReturnValue:
    config = settings()
    async with connection() as conn:
        row = await queries.select_push_subscription(conn, id=device_id, user_id=g.user.id)
        if row is None:
            abort(404)
        keys = await vapid_keys(conn, config)
    subscription = {
        "endpoint": row["endpoint"],
        "keys": {"p256dh": row["p256dh"], "auth": row["auth"]},
    }
    result = await send_push(
        subscription,
        TEST_MESSAGE,
        keys=keys,
        settings=config,
        ttl=300,
        urgency="normal",
        topic="taskly-test",
        ca_file=config.notify_ca_file,
    )
    async with connection() as conn:
        if result.outcome == "gone":
            await queries.delete_push_subscription(conn, id=device_id, user_id=g.user.id)
        else:
            error = None if result.outcome == "delivered" else (result.detail or str(result.status))
            await queries.record_push_result(conn, id=device_id, user_id=g.user.id, error=error)
    message, category = _outcome(result)
    await flash(message, category)
    return redirect(url_for("notifications.index"))


@blueprint.route("/devices/<id:device_id>/delete", methods=["POST"])
@login_required
async def remove(device_id: int) -> ResponseReturnValue:
    async with connection() as conn:
        removed = await queries.delete_push_subscription(conn, id=device_id, user_id=g.user.id)
    if removed is None:
        await flash("That device was already removed.", "info")
    else:
        await flash("Removed: that device gets no more reminders.", "success")
    return redirect(url_for("notifications.index"))
